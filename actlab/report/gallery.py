"""The gallery: one HTML page with every catalogue entry's plot, formula and properties."""

from __future__ import annotations

import html
import math
import sys
from pathlib import Path

from actlab.catalogue import KINDS, Entry, entries
from actlab.report._math import formula_html
from actlab.report.plots import curve_data, draw_entry

KIND_TITLES = {
    "standard": "Standard activations (PyTorch, Keras, timm)",
    "math": "Tensor math functions used as activations",
    "literature": "From the literature",
    "spatial": "Spatial",
    "learnable": "Learnable",
    "user": "Registered by you",
}


def fmt_range(r: tuple[float, float]) -> str:
    def f(v: float) -> str:
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        return f"{v:.4g}".replace("-", "−")

    return f"{f(r[0])} … {f(r[1])}"


def yes_no(v) -> str:
    return "n/a" if v is None else ("yes" if v else "no")


def property_rows(e: Entry) -> list[tuple[str, str]]:
    axis = {"elementwise": "element-wise", "dim": "along a dimension (dim=1)", "spatial": "spatial (k×k neighbourhood)"}
    return [
        ("range", fmt_range(e.range)),
        ("bounded", f"below {yes_no(e.bounded_below)}, above {yes_no(e.bounded_above)}"),
        ("monotonic", yes_no(e.monotonic)),
        ("smooth (C¹)", yes_no(e.smooth)),
        ("zero-centred", yes_no(e.zero_centred)),
        (
            "applies",
            "element-wise at its starting values; trained, it mixes the features" if e.mixes_features else axis[e.axis],
        ),
        ("gradient", "yes" if e.differentiable else "zero almost everywhere"),
        ("parameters", ", ".join(f"{k}={v!r}" for k, v in e.params.items()) or "none"),
    ] + ([("random", "yes (training noise)")] if e.stochastic else [])


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fafafa;color:#222}
header{padding:18px 28px;background:#1f2d3d;color:#fff}header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#cdd}nav{padding:10px 28px;background:#eef1f4;font-size:13px;line-height:1.8}
nav a{margin-right:8px;color:#245}section{padding:8px 28px}h2{border-bottom:2px solid #ccd;padding-bottom:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(470px,1fr));gap:14px}
.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:10px 14px}
.card h3{margin:2px 0 4px;font-family:monospace;font-size:17px}.alias{color:#667;font-size:12px}
.card img{width:100%;max-width:462px}.note{font-size:13px;margin:4px 0}
.formula{margin:6px 0}.card img.math{width:auto;max-width:100%;height:auto;display:block}
details{font-size:11px;color:#556;margin:2px 0 4px}summary{cursor:pointer}
code{background:#f2f2f5;padding:1px 4px;border-radius:3px;font-size:12px;word-break:break-all}
table{font-size:12px;border-collapse:collapse}td{padding:1px 8px 1px 0;vertical-align:top}
td:first-child{color:#667}.ref{font-size:11px;color:#556}
"""


def _formula(e: Entry, out: Path) -> str:
    """The entry's formula drawn (``img/NAME-formula.svg``), its LaTeX source folded away."""
    drawn = formula_html(
        e.formula,
        alt=f"formula of {e.name}: {e.formula}",
        file=out / "img" / f"{e.name}-formula.svg",
        src=f"img/{e.name}-formula.svg",
    )
    return f"{drawn}<details><summary>LaTeX</summary><code>{html.escape(e.formula)}</code></details>"


def build_gallery(out_dir: str | Path, *, kinds: list[str] | None = None, progress: bool = True) -> Path:
    """Write ``out_dir/index.html``, ``out_dir/img/NAME.png`` (the plot) and ``NAME-formula.svg``
    (the formula drawn) for every entry; return the page."""
    out = Path(out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    chosen = [e for e in entries() if kinds is None or e.kind in kinds]
    cards: dict[str, list[str]] = {k: [] for k in KINDS}
    for i, e in enumerate(chosen, 1):
        if progress:
            print(f"\r[{i}/{len(chosen)}] {e.name:<24}", end="", file=sys.stderr, flush=True)
        draw_entry(curve_data(e.name), out / "img" / f"{e.name}.png")
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in property_rows(e))
        aliases = f' <span class="alias">alias: {html.escape(", ".join(e.aliases))}</span>' if e.aliases else ""
        cards[e.kind].append(
            f'<div class="card entry" id="{e.name}" data-name="{e.name}"><h3>{e.name}{aliases}</h3>'
            f'<img src="img/{e.name}.png" alt="plot of {e.name} and its derivative on [-5, 5]">'
            f'<p class="note">{html.escape(e.note)}</p>'
            f'<div class="formula">{_formula(e, out)}</div><table>{rows}</table>'
            f'<p class="ref">{html.escape(e.reference)}</p></div>'
        )
    if progress:
        print(file=sys.stderr)
    nav = " ".join(f'<a href="#{e.name}">{e.name}</a>' for e in chosen)
    sections = "".join(
        f'<section id="kind-{k}"><h2>{html.escape(KIND_TITLES[k])} ({len(c)})</h2>'
        f'<div class="grid">{"".join(c)}</div></section>'
        for k, c in cards.items()
        if c
    )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>actlab gallery</title>'
        f"<style>{_CSS}</style></head><body><header><h1>actlab — activation function gallery</h1>"
        f"<p>{len(chosen)} functions. Solid: f(x); dashed: f′(x), on [−5, 5]. Functions along a dimension "
        f"are shown as f([x, 0])[0]; FReLU as the centre pixel of a constant image. "
        f"In formulas, [P] is 1 where P holds, else 0.</p></header><nav>{nav}</nav>{sections}</body></html>"
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
