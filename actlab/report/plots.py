"""Plots of activation functions: numbers computed in one function, drawn in another."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from actlab._io import finite, write_file_atomic
from actlab.catalogue import REGISTRY, Entry, format_spec
from actlab.catalogue.properties import interval, value_and_derivative
from actlab.report._style import DPI, MAX_WIDTH, TEXT, TITLE, pyplot, style


@dataclass
class CurveData:
    label: str
    entry: Entry
    x: list[float]
    y: list[float]
    dy: list[float]


def curve_data(spec: str, lo: float = -5.0, hi: float = 5.0, n: int = 801) -> CurveData:
    """f and f' of a catalogue spec on ``[lo, hi]`` (clipped to the function's domain)."""
    entry, kwargs = REGISTRY.resolve(spec)
    a, b = interval(entry, lo, hi)
    x = torch.linspace(a, b, n, dtype=torch.float64)
    y, dy = value_and_derivative(entry, x, **kwargs)
    return CurveData(format_spec(entry.name, kwargs), entry, x.tolist(), y.tolist(), dy.tolist())


def _ylim(*series: list[float], cap: float = 6.0) -> tuple[float, float]:
    vals = [v for s in series for v in s if math.isfinite(v)]
    if not vals:
        return -1.0, 1.0
    lo, hi = max(min(vals), -cap), min(max(vals), cap)
    pad = 0.08 * max(hi - lo, 1.0)
    return lo - pad, hi + pad


def draw_entry(data: CurveData, path: str | Path, *, title: bool = True, size=(4.2, 3.0), dpi: int = 110) -> Path:
    """One function and its derivative, with the formula as the title and the legend below."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size, dpi=dpi, layout="constrained")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.plot(data.x, data.y, color="C0", lw=2, label="f(x)")
    ax.plot(data.x, data.dy, color="C1", lw=1.3, ls="--", label="f'(x)")
    ax.set_ylim(*_ylim(data.y, data.dy))
    ax.set_xlim(data.x[0], data.x[-1])
    ax.grid(alpha=0.25)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    if title:
        try:
            ax.set_title(f"{data.label}:  ${data.entry.formula}$", fontsize=9)
            fig.canvas.draw()
        except ValueError:  # a user formula mathtext cannot render: show it as text
            ax.set_title(f"{data.label}: {data.entry.formula}", fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def draw_many(datas: list[CurveData], path: str | Path, *, derivative: bool = True, dpi: int = 120) -> Path:
    """Several functions on one figure (left: f, right: f'); each its own colour (and, past 18,
    line style), the legend below the axes."""
    plt = pyplot()
    ncols = 2 if derivative else 1
    legend_cols = 5 if derivative else 3
    legend_in = 0.2 * math.ceil(len(datas) / legend_cols) + 0.2
    fig, axes = plt.subplots(
        1, ncols, figsize=(5.2 * ncols, 3.8 + legend_in), dpi=dpi, squeeze=False, layout="constrained"
    )
    for ax, key, ttl in zip(axes[0], ("y", "dy"), ("f(x)", "f'(x)"), strict=False):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        for i, d in enumerate(datas):
            st = style(i)
            ax.plot(d.x, getattr(d, key), lw=1.8, color=st["color"], ls=st["linestyle"], label=d.label)
        ax.set_ylim(*_ylim(*(getattr(d, key) for d in datas)))
        ax.set_title(ttl)
        ax.grid(alpha=0.25)
    fig.legend(
        *axes[0][0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=min(legend_cols, len(datas)),
        fontsize=9,
        frameon=False,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# Where a point's name may go, in steps of (marker radius + a gap) from the point: right, left,
# above, below, then farther out; with the text's alignment there.
LABEL_SPOTS = (
    (1, 0.5, "left", "bottom"),
    (1, -0.5, "left", "top"),
    (-1, 0.5, "right", "bottom"),
    (-1, -0.5, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
    (2, 1.5, "left", "bottom"),
    (-2, -1.5, "right", "top"),
    (2, -1.5, "left", "top"),
    (-2, 1.5, "right", "bottom"),
)


def _merge_close(points: list[tuple[float, float, str]], ax, px: float) -> list[tuple[float, float, str]]:
    """Points less than ``px`` pixels apart as one, named together (``a, b +2`` beyond two names)."""
    groups: list[tuple[float, float, list[str], tuple[float, float]]] = []
    for x, y, name in points:
        at = tuple(ax.transData.transform((x, y)))
        near = next((g for g in groups if math.dist(g[3], at) < px), None)
        if near is None:
            groups.append((x, y, [name], at))
        else:
            near[2].append(name)
    return [(x, y, ", ".join(n[:2]) + (f" +{len(n) - 2}" if len(n) > 2 else "")) for x, y, n, _ in groups]


def place_labels(ax, points: list[tuple[float, float, str]], *, marker_pt: float = 8.0, **text) -> int:
    """Name the ``points`` (x, y, name; the most important first) where a name fits: inside the
    axes, off every other name and off the points' markers (``marker_pt`` across); a name that
    fits nowhere is left out, and points drawn on top of each other share one name. Call it once
    the figure's layout is final (after ``fig.canvas.draw()``). Returns how many names it placed."""
    from matplotlib.transforms import Bbox

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    px = ax.figure.dpi / 72
    points = _merge_close(points, ax, marker_pt * px / 2)
    step = marker_pt / 2 + 2  # points: the marker's radius and a gap
    half = marker_pt * px / 2
    markers = [
        Bbox.from_extents(u - half, v - half, u + half, v + half)
        for u, v in (ax.transData.transform((x, y)) for x, y, _ in points)
    ]
    taken: list = []
    for x, y, name in points:
        for dx, dy, ha, va in LABEL_SPOTS:
            note = ax.annotate(
                name, (x, y), xytext=(dx * step, dy * step), textcoords="offset points", ha=ha, va=va, **text
            )
            note.set_in_layout(False)  # placed after the layout: must not move it
            box = note.get_window_extent(renderer).padded(px)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not box.count_overlaps([*taken, *markers]):
                taken.append(box)
                break
            note.remove()
    return len(taken)


def draw_feature_map(points: list[dict], path: str | Path, label: str) -> Path:
    """Functions at their place in the surrogate's feature embedding (``points``: ``name``,
    ``xy``, ``accuracy``), coloured by ``accuracy``: neighbours behave alike at initialisation."""
    plt = pyplot()
    pts = [p for p in points if p.get("xy") is not None]
    fig, ax = plt.subplots(figsize=(MAX_WIDTH * 0.75, 5.0), dpi=DPI, layout="constrained")
    acc = [p["accuracy"] for p in pts]
    sc = ax.scatter(
        [p["xy"][0] for p in pts],
        [p["xy"][1] for p in pts],
        c=acc,
        cmap="viridis",
        s=60,
        edgecolors="0.2",
        linewidths=0.6,
    )
    fig.colorbar(sc, ax=ax, label=label)
    ax.set_xlabel("feature embedding, component 1", fontsize=TEXT)
    ax.set_ylabel("component 2", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    ax.set_title(
        "Functions by their features at initialisation (actlab's surrogate; names where they fit)", fontsize=TITLE
    )
    ax.grid(alpha=0.3)
    fig.canvas.draw()  # the final layout, then the names around it
    best_first = sorted(pts, key=lambda p: -p["accuracy"] if finite(p["accuracy"]) else math.inf)
    place_labels(
        ax,
        [(*p["xy"], p["name"][:24]) for p in best_first],
        marker_pt=math.sqrt(60),
        fontsize=TEXT - 1,
        family="monospace",
    )
    write_file_atomic(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"))
    plt.close(fig)
    return Path(path)
