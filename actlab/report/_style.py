"""How report figures look where a page shows them.

* series stay apart beyond ten: 18 colours (matplotlib's ``tab10``, then eight darker ones),
  each series also with its own marker shape (7, so colour and marker repeat together only
  after 126 series) and, past the 18 colours, its own line style;
* text is at least ``TEXT`` points: figures are written at ``DPI`` and at most ``MAX_WIDTH``
  inches wide, so a page narrower than the figure (800 px wide windows) shrinks it little and
  every label stays above ~9 px;
* legends go outside the data area.
"""

from __future__ import annotations

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#000075",
    "#800000",
    "#808000",
    "#469990",
    "#000000",
    "#f032e6",
    "#b8860b",
    "#4b0082",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", "-.", ":")
DPI = 90
TEXT = 9.0
TITLE = 10.5
MAX_WIDTH = 9.6


def style(i: int) -> dict[str, str]:
    """Colour, marker and line style of the ``i``-th series of a figure."""
    return {
        "color": PALETTE[i % len(PALETTE)],
        "marker": MARKERS[i % len(MARKERS)],
        "linestyle": LINESTYLES[i // len(PALETTE) % len(LINESTYLES)],
    }


def pyplot():
    """matplotlib's pyplot, drawing off screen (Agg): how the reports get it, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure(**kwargs):
    """A matplotlib Figure drawn by Agg, outside pyplot: written by a report, or returned to a
    notebook (``plot()`` of a study's result), whatever backend pyplot uses there."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


__all__ = ["DPI", "LINESTYLES", "MARKERS", "MAX_WIDTH", "PALETTE", "TEXT", "TITLE", "figure", "pyplot", "style"]
