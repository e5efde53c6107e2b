"""Formulas on the pages: LaTeX drawn by matplotlib's mathtext as SVG and embedded in the page,
so a report shows them offline, without a script or a font (the glyphs are paths). Mathtext
reads the LaTeX of the catalogue and of sympy, but no environments (sympy writes
``\\begin{cases}`` for a piecewise function): such a formula is shown as its LaTeX source."""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from pathlib import Path

from actlab._io import write_file_atomic

SIZE = 12.0  # points: a little above the text around it, as a displayed formula


@functools.lru_cache(maxsize=512)
def drawn(latex: str) -> tuple[bytes | None, str]:
    """``(svg, "")``: the formula drawn (the same LaTeX gives the same bytes); or ``(None, why)``
    where mathtext cannot draw it, ``why`` its message."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "$" in latex:  # would end the formula and draw the rest as text
        return None, "a $ inside the formula"
    display = re.sub(r"\\frac(?![A-Za-z])", r"\\dfrac", latex)  # on a line of its own: display style
    with plt.rc_context({"svg.hashsalt": "actlab", "svg.fonttype": "path", "mathtext.fontset": "cm"}):
        fig = plt.figure(figsize=(0.01, 0.01))
        try:
            fig.text(0, 0, f"${display}$", fontsize=SIZE)
            buf = io.BytesIO()
            fig.savefig(
                buf, format="svg", bbox_inches="tight", pad_inches=0.03, transparent=True, metadata={"Date": None}
            )
            return buf.getvalue(), ""
        except Exception as e:  # noqa: BLE001 - a page never fails for a formula
            # mathtext's ValueError holds the formula, a caret, then the reason ("Unknown symbol: \begin")
            return None, str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        finally:
            plt.close(fig)


def formula_html(latex: str, alt: str | None = None, file: Path | None = None, src: str | None = None) -> str:
    """The formula as an ``<img class="math">`` (SVG embedded in the page, or written to ``file``
    and linked as ``src``), or the LaTeX in ``<code class="latex">`` where mathtext cannot draw
    it. ``alt``: its text for readers without images (default: the LaTeX, also its tooltip)."""
    svg, _ = drawn(latex)
    if svg is None:
        return f'<code class="latex">{html.escape(latex)}</code>'
    if file is None:
        src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    else:
        write_file_atomic(file, lambda tmp: Path(tmp).write_bytes(svg))
    return f'<img class="math" alt="{html.escape(alt or latex)}" title="{html.escape(latex)}" src="{html.escape(src)}">'


__all__ = ["SIZE", "drawn", "formula_html"]
