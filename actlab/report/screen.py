"""The screening report: predicted vs real validation accuracy (``predicted.png``), a 2-D map of
the surrogate's feature embedding coloured by accuracy (``map.png``) and the ranking of every
candidate, in a self-contained ``report.html``; all drawn from ``results.json`` alone."""

from __future__ import annotations

import html
import json
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from actlab._io import finite, write_text_atomic
from actlab.report._html import _CSS, _f, _img, _n, _save
from actlab.report._style import DPI, MAX_WIDTH, PALETTE, TEXT, TITLE, figure, pyplot
from actlab.report.plots import place_labels
from actlab.report.ranking import transfer_html

ROLE_STYLE = {
    "usual": (PALETTE[7], "s", "usual (trained first)"),
    "top": (PALETTE[0], "o", "top predicted"),
    "random": (PALETTE[1], "^", "drawn at random"),
}


def _blank(v: float | None) -> str:
    """A number of the ranking table; nothing where it does not apply (not trained, not picked)."""
    return "" if v is None else _f(v)


def _rho(c: dict[str, Any]) -> str:
    return (
        f"{c['spearman']:+.2f} (n = {c['n']}, p = {c['p_value']:.3f})"
        if c["spearman"] is not None
        else f"n/a: {c['note']}"
    )


def predicted_vs_real(results: dict[str, Any]) -> dict[str, list[tuple[str, float, float, float]]]:
    """Per role: (function, predicted before training, its std, real validation accuracy)."""
    out: dict[str, list[tuple[str, float, float, float]]] = {"top": [], "random": []}
    for r in results["candidates"]:
        if r["role"] in out and finite(r["predicted_before"]) and finite(r["val_accuracy"]):
            out[r["role"]].append(
                (r["spec"], r["predicted_before"], r["predicted_before_std"] or 0.0, r["val_accuracy"])
            )
    return out


def plot_predicted(results: dict[str, Any], path: Path) -> Path:
    return _save(predicted_figure(results), path)


def predicted_figure(results: dict[str, Any]):
    """The trained functions' predicted against their real validation accuracy (a matplotlib Figure)."""
    points = predicted_vs_real(results)
    fig = figure(figsize=(7.2, 5.0), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    every = [v for pts in points.values() for p in pts for v in (p[1], p[3])]
    lo, hi = (min(every), max(every)) if every else (0.0, 1.0)
    pad = 0.05 * max(hi - lo, 0.05)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", lw=1, ls="--", label="predicted = real")
    for role, pts in points.items():
        colour, marker, label = ROLE_STYLE[role]
        if not pts:
            continue
        ax.errorbar(
            [p[1] for p in pts],
            [p[3] for p in pts],
            xerr=[p[2] for p in pts],
            fmt=marker,
            color=colour,
            ms=7,
            capsize=3,
            alpha=0.9,
            label=label,
        )
    ax.margins(0.08)  # markers and their names stay inside the frame
    ax.set_xlabel("predicted validation accuracy (± std), before training", fontsize=TEXT)
    ax.set_ylabel("real validation accuracy (mean over seeds)", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    c = results["correlation"]
    ax.set_title("\n".join(textwrap.wrap(f"Predicted vs real: Spearman {_rho(c['picked'])}", 56)), fontsize=TITLE)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=TEXT, frameon=False)
    fig.canvas.draw()  # the final layout, then the names around it
    best_first = sorted((p for pts in points.values() for p in pts), key=lambda p: -p[3])
    place_labels(
        ax, [(x, y, name[:24]) for name, x, _, y in best_first], marker_pt=7, fontsize=TEXT - 1, family="monospace"
    )
    return fig


def map_frame(points: list[list[float]], share: float = 0.03) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits that hold all points but the ``share`` farthest out on each side of each axis
    (a few outliers would squeeze every other function into one corner)."""
    xy = np.array(points, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        return (-1.0, 1.0), (-1.0, 1.0)
    lo, hi = np.quantile(xy, share, axis=0), np.quantile(xy, 1 - share, axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-6)
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0])), (float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def plot_map(results: dict[str, Any], path: Path) -> Path:
    """Every candidate at its place in the embedding (first two principal components): filled
    markers are trained (real accuracy), hollow ones predicted; the few far out are drawn at the
    frame's edge (dashed edge)."""
    plt = pyplot()
    rows = [r for r in results["candidates"] if r["map"] is not None]
    (x0, x1), (y0, y1) = map_frame([r["map"] for r in rows])
    fig, ax = plt.subplots(figsize=(MAX_WIDTH * 0.8, 5.6), dpi=DPI, layout="constrained")
    values = [r["val_accuracy"] if finite(r["val_accuracy"]) else r["predicted"] for r in rows]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    cmap = plt.get_cmap("viridis")
    norm = plt.Normalize(vmin, vmax if vmax > vmin else vmin + 1e-6)
    inset_x, inset_y = 0.03 * (x1 - x0), 0.03 * (y1 - y0)  # the far-out ones, drawn just inside the frame
    named = []
    for r, v in zip(rows, values, strict=True):
        trained = finite(r["val_accuracy"])
        x, y = min(max(r["map"][0], x0 + inset_x), x1 - inset_x), min(max(r["map"][1], y0 + inset_y), y1 - inset_y)
        outside = (x, y) != tuple(r["map"])
        ax.scatter(
            [x],
            [y],
            s=60 if trained else 36,
            marker=ROLE_STYLE.get(r["role"], (None, "o"))[1],
            facecolors=cmap(norm(v)) if trained else "none",
            edgecolors=cmap(norm(v)),
            linewidths=1.5,
            linestyle="--" if outside else "-",
        )
        if trained or r["rank"] <= 10:
            named.append((not trained, r["rank"], x, y, r["spec"][:20]))
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(sm, ax=ax, label="validation accuracy (real where trained, else predicted)")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("embedding, component 1", fontsize=TEXT)
    ax.set_ylabel("component 2", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    ax.set_title(
        "Functions by their features: filled = trained, hollow = predicted\n"
        "(names where they fit: trained, then the top 10 predicted)",
        fontsize=TITLE,
    )
    ax.grid(alpha=0.3)
    fig.canvas.draw()  # the final layout, then the names around it
    place_labels(
        ax,
        [(x, y, name) for *_, x, y, name in sorted(named)],
        marker_pt=math.sqrt(60),
        fontsize=TEXT - 1.5,
        family="monospace",
    )
    return _save(fig, path)


def _transfer(results: dict[str, Any]) -> str:
    """The transfer of the best trained function and ReLU to other tasks, where one was asked."""
    if results.get("transfer"):
        t = results["transfer"]
        return (
            f"<h2>Transfer to other tasks</h2><p>{html.escape(t['functions'][0])} (the best trained function other "
            f"than ReLU) and {html.escape(t['reference'])}, {_n(len(t['seeds']), 'seed')} each, weights of the best "
            f"validation epoch; nothing screened again.</p>" + transfer_html(t)
        )
    if results["config"].get("transfer_to"):
        return "<h2>Transfer to other tasks</h2><p>None: no function other than ReLU was trained.</p>"
    return ""


def write_screen_report(results: dict[str, Any], out: str | Path) -> Path:
    """Draw the two figures and write ``report.html`` into ``out``; return the page."""
    out = Path(out)
    figs = {"predicted": plot_predicted(results, out / "predicted.png"), "map": plot_map(results, out / "map.png")}
    cfg, ds, c = results["config"], results["dataset"], results["correlation"]
    rows = []
    for r in results["candidates"]:
        why = html.escape(r["note"] or r["error"] or "")
        final = (
            "" if r["role"] else "n/a" if r["predicted"] is None else f"{_f(r['predicted'])} ± {_f(r['predicted_std'])}"
        )
        rows.append(
            f"<tr><td>{html.escape(r['spec'])}</td><td>{r['rank']}</td><td>{final}</td>"
            f"<td>{_blank(r['predicted_before'])}</td><td>{_blank(r['val_accuracy'])}</td>"
            f"<td>{_blank(r['test_accuracy'])}</td>"
            f"<td>{html.escape(r['role'] or '')}</td><td style='text-align:left;white-space:normal'>{why}</td></tr>"
        )
    t = cfg["train"]
    trained = sum(r["role"] is not None for r in results["candidates"])
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>actlab screen: {html.escape(ds["name"])}</title>
<style>{_CSS}</style></head><body>
<h1>Screening activation functions on {html.escape(ds["name"])} with {html.escape(cfg["model"])}</h1>
<p class="sub">{len(results["candidates"])} functions ranked by a surrogate ({html.escape(results["regressor"])} on
features at initialisation); {trained} trained with {_n(cfg["seeds"], "seed")} each: the 8 usual functions,
{cfg["train_top"]} predicted best, {cfg["train_random"]} drawn at random. Training: {html.escape(t["optimizer"])},
batch {t["batch_size"]}, up to {t["epochs"]} epochs, early stopping on {html.escape(t["monitor"])}
(patience {t["patience"]}). Score:
{html.escape(results["score"])}.</p>
<h2>Predicted vs real</h2>
<table><tr><th>Spearman rank correlation</th><th>value</th></tr>
<tr><td>top and random picks, predicted before their training</td><td>{html.escape(_rho(c["picked"]))}</td></tr>
<tr><td>random picks only (a fair sample)</td><td>{html.escape(_rho(c["random"]))}</td></tr>
<tr><td>leave-one-out over every trained function</td><td>{html.escape(_rho(c["leave_one_out"]))}</td></tr></table>
{_img(figs["predicted"], "predicted vs real validation accuracy")}
<h2>Map of the functions</h2>{_img(figs["map"], "feature embedding coloured by accuracy")}
<h2>Ranking</h2>
<p>Trained functions are ranked by their real validation accuracy, the others by the final surrogate's prediction
(fit on every trained function); functions that cannot run in the model come last, with the reason.</p>
<div class="scroll"><table><tr><th>function</th><th>rank</th><th>predicted ± std</th><th>predicted before training</th>
<th>val acc</th><th>test acc</th><th>trained as</th><th>note</th></tr>
{"".join(rows)}</table></div>
{_transfer(results)}
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
<details><summary>Timing</summary><pre>{html.escape(json.dumps(results["timing"], indent=1))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)
