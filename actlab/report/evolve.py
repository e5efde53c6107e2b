"""The evolution report: fitness per generation, the hall of fame with simplified formulas (text
and LaTeX), plots of the best functions and their derivatives next to ReLU, and the final test
table; ``report.html`` with the images embedded, all drawn from ``results.json`` alone."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._io import write_text_atomic
from .compare import _CSS, _f, _img, _plt, _save

CURVE_RANGE = (-5.0, 5.0)
TOP = 5


# ------------------------------------------------------------------------------------ numbers
def fitness_series(results: dict[str, Any]) -> dict[str, Any]:
    """Per generation: best and mean fitness of the population, the hall of fame's best so far,
    and (coevolution) each population's best."""
    h = results["history"]
    out = {"generation": [r["generation"] for r in h], "best": [r["best"] for r in h], "mean": [r["mean"] for r in h],
           "hof_best": [r.get("hof_best") for r in h]}
    if h and "slots" in h[0]:
        out["slots"] = {s: [r["slots"][s]["best"] for r in h] for s in h[0]["slots"]}
    return out


def curve(text: str, lo: float = CURVE_RANGE[0], hi: float = CURVE_RANGE[1], n: int = 601) -> dict[str, list[float]]:
    """f and f' of an expression on ``[lo, hi]`` (float64, autograd)."""
    from ..catalogue.expr import Expression

    m = Expression(text).eval()
    x = torch.linspace(lo, hi, n, dtype=torch.float64, requires_grad=True)
    y = m(x)
    g = torch.autograd.grad(y.sum(), x, allow_unused=True)[0] if y.requires_grad else None  # constants: no graph
    g = torch.zeros_like(x) if g is None else g
    return {"x": x.detach().tolist(), "y": y.detach().tolist(), "dy": g.detach().tolist()}


def function_curves(results: dict[str, Any], top: int = TOP) -> dict[str, list[dict[str, Any]]]:
    """slot -> curves of the top hall-of-fame entries (label, fitness, x, y, dy)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in results["hall_of_fame"][:top]:
        for slot, text in item["functions"].items():
            short = text if len(text) <= 40 else text[:37] + "..."
            out.setdefault(slot, []).append({"label": f"#{item['rank']} {short} ({item['fitness']:.3f})", "text": text,
                                             **curve(text)})
    return out


# ------------------------------------------------------------------------------------- drawing
def _ylim(*series, cap: float = 6.0):
    vals = [v for s in series for v in s if v is not None and math.isfinite(v)]
    if not vals:
        return -1.0, 1.0
    lo, hi = max(min(vals), -cap), min(max(vals), cap)
    pad = 0.08 * max(hi - lo, 1.0)
    return lo - pad, hi + pad


def plot_fitness(results: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    s = fitness_series(results)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(s["generation"], s["best"], "o-", color="tab:red", label="best in population")
    ax.plot(s["generation"], s["mean"], "s--", color="tab:blue", label="population mean")
    ax.step(s["generation"], s["hof_best"], where="post", color="0.3", lw=1, label="hall of fame best")
    for i, (slot, v) in enumerate(s.get("slots", {}).items()):
        ax.plot(s["generation"], v, ":", color=f"C{i + 2}", label=f"best, {slot} population")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness (validation accuracy)")
    ax.set_xticks(s["generation"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Fitness per generation", fontsize=10)
    return _save(fig, path)


def plot_functions(curves: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """Rows: slots; left f, right f'; ReLU dashed for reference."""
    plt = _plt()
    relu = {"x": np.linspace(*CURVE_RANGE, 601)}
    relu["y"], relu["dy"] = np.maximum(relu["x"], 0), (relu["x"] > 0).astype(float)
    fig, axes = plt.subplots(len(curves), 2, figsize=(10.4, 3.2 * len(curves)), squeeze=False)
    for row, (slot, cs) in zip(axes, curves.items()):
        for ax, key, name in zip(row, ("y", "dy"), ("f(x)", "f'(x)")):
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            ax.plot(relu["x"], relu[key], color="0.5", lw=1.2, ls="--", label="relu")
            for i, c in enumerate(cs):
                ax.plot(c["x"], c[key], color=f"C{i}", lw=2.2 if i == 0 else 1.2, alpha=1 if i == 0 else 0.75,
                        label=c["label"])
            ax.set_ylim(*_ylim(relu[key], *(c[key] for c in cs)))
            ax.set_title(f"{name}" + ("" if slot == "all" else f", {slot} slot"), fontsize=9)
            ax.grid(alpha=0.25)
        row[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_final(final: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    rows = final["contenders"]
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, r in enumerate(rows):
        acc = r["test_accuracy"]
        ax.scatter([i] * len(acc), acc, alpha=0.6, color=f"C{i}")
        sd = r["std"] if math.isfinite(r["std"]) else 0.0
        ax.errorbar(i + 0.15, r["mean"], yerr=sd, fmt="D", color=f"C{i}", capsize=4)
    ax.set_xticks(range(len(rows)), [r["name"] for r in rows], fontsize=8, family="monospace")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("Final evaluation on test (dots: seeds, diamond: mean ± std)", fontsize=10)
    return _save(fig, path)


def formula_image(latex: str, path: Path) -> Path | None:
    """The LaTeX rendered by matplotlib's mathtext, or None where mathtext cannot draw it."""
    plt = _plt()
    fig = plt.figure(figsize=(0.01, 0.01))
    try:
        fig.text(0, 0, f"${latex}$", fontsize=13)
        fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.04, transparent=False)
        return path
    except Exception:  # e.g. \begin{cases}: mathtext knows no environments
        return None
    finally:
        plt.close(fig)


# ------------------------------------------------------------------------------------- the page
def _formula_cell(f: dict[str, Any], img: Path | None) -> str:
    pic = _img(img, f["text"]) if img is not None else ""
    note = f"<div class='note'>{html.escape(f['note'])}</div>" if f.get("note") and not f.get("simplified") else ""
    return (f"{pic}<div><code>{html.escape(f['text'])}</code></div>{note}"
            f"<details><summary>LaTeX</summary><code>{html.escape(f['latex'])}</code></details>")


def write_evolve_report(results: dict[str, Any], out: str | Path) -> Path:
    out = Path(out)
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    cfg = results["config"]
    ds = results["dataset"]
    hof = results["hall_of_fame"]
    fit_png = plot_fitness(results, figs / "fitness.png")
    curves = function_curves(results)
    best = hof[0] if hof else None
    best_png = plot_functions({s: cs[:1] for s, cs in curves.items()}, figs / "best_vs_relu.png",
                              "The best evolved function(s) next to ReLU") if best else None
    hof_png = plot_functions(curves, figs / "hall_of_fame.png", f"Top {min(TOP, len(hof))} of the hall of fame") if hof else None

    hof_rows = []
    for item in hof:
        cells = []
        for slot, text in item["functions"].items():
            img = formula_image(item["formulas"][slot]["latex"], figs / f"formula-{item['rank']}-{slot}.png")
            label = "" if slot == "all" else f"<b>{html.escape(slot)}</b> "
            cells.append(f"<div class='slot'>{label}<code class='expr'>{html.escape(text)}</code>"
                         f"{_formula_cell(item['formulas'][slot], img)}</div>")
        hof_rows.append(f"<tr><td>{item['rank']}</td><td>{_f(item['fitness'])}</td><td>{item['generation']}</td>"
                        f"<td>{item['nodes']}</td><td class='left'>{''.join(cells)}</td></tr>")
    hist_rows = "".join(
        f"<tr><td>{h['generation']}</td><td>{_f(h['best'])}</td><td>{_f(h['mean'])}</td><td>{h['candidates']}</td>"
        f"<td>{h['evaluations']}</td><td>{h['cache_hits']}</td><td>{h['rejected']}</td><td>{h['failed']}</td>"
        f"<td>{_f(h['seconds'], '.1f')}</td><td>{h.get('session', 0)}</td></tr>" for h in results["history"])

    final_html = "<p>No final evaluation was run (<code>--final-seeds 0</code>).</p>"
    final = results.get("final")
    if final:
        comps = {c["vs"]: c for c in final["comparisons"]}
        rows = []
        for r in final["contenders"]:
            c = comps.get(r["name"])
            p = "—" if c is None else f"{_f(c['p_value'])} / {_f(c['p_holm'])} ({c['outcome']})"
            plan = ", ".join(f"{k}={v}" for k, v in r["plan"].items())
            rows.append(f"<tr><td>{html.escape(r['name'])}</td><td>{_f(r['mean'])} ± {_f(r['std'])}</td>"
                        f"<td>[{_f(r['ci_low'])}, {_f(r['ci_high'])}]</td><td>{len(r['test_accuracy'])}</td>"
                        f"<td>{html.escape(p)}</td><td class='left'><code>{html.escape(plan)}</code></td></tr>")
        sel = ", ".join(f"{s['activation']} {_f(s['val_accuracy'])}" for s in final["catalogue_selection"])
        final_png = plot_final(final, figs / "final.png")
        final_html = f"""<table id="final"><tr><th>activation</th><th>test accuracy mean ± std</th><th>95% CI</th><th>seeds</th>
<th>p raw / Holm, evolved vs this</th><th>plan</th></tr>{''.join(rows)}</table>
<p>{html.escape(final['test'])}; outcome from the evolved function's side, p &lt; {final['alpha']}. Each contender was
trained {final['epochs']} epochs per seed on the training split; the weights of its best validation epoch were scored once on
test. The catalogue function was chosen on validation with the evolution's own short training: {html.escape(sel)}.</p>
{_img(final_png, 'final test accuracy')}"""

    t = cfg["train"]
    totals = results["totals"]
    best_html = ""
    if best:
        slots = "".join(f"<div class='slot'>{'' if s == 'all' else '<b>' + html.escape(s) + '</b> '}"
                        f"<code class='expr'>{html.escape(v)}</code> = <code>{html.escape(best['formulas'][s]['text'])}</code></div>"
                        for s, v in best["functions"].items())
        best_html = f"<h2>The best function{'s' if len(best['functions']) > 1 else ''}</h2>{slots}" \
                    f"<p>Validation fitness {_f(best['fitness'])}. Use it: <code>actlab.load(\"best.json\")</code>, " \
                    f"<code>actlab show best.json</code>, or the spec <code>expr:{html.escape(next(iter(best['functions'].values())))}</code>.</p>" \
                    f"<p class='sub'>The best evolved function{'s' if len(best['functions']) > 1 else ''} (solid) " \
                    f"next to ReLU (dashed): f on the left, its derivative f' on the right.</p>" \
                    f"{_img(best_png, 'best evolved function next to relu')}"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>actlab evolve: {html.escape(ds['name'])}</title>
<style>{_CSS}
td.left{{text-align:left}}code.expr{{font-weight:bold}}.slot{{margin:4px 0}}.slot img{{border:0;margin:2px 0;max-height:60px}}
</style></head><body>
<h1>Evolved activation functions on {html.escape(ds['name'])} with {html.escape(cfg['model'])} ({html.escape(cfg['mode'])} mode)</h1>
<p class="sub">Genetic programming (DEAP): population {cfg['population']}, {cfg['generations']} generations, tournament
{cfg['tournament']}, elite {cfg['elite']}, crossover {cfg['cxpb']}, mutation {cfg['mutpb']}, height limit {cfg['max_height']}.
Fitness: best validation accuracy over {t['epochs']} epochs ({html.escape(t['optimizer'])}, lr {t['lr']}, batch {t['batch_size']},
seed {t['seed']}); {ds['sizes']['train']} train / {ds['sizes']['val']} validation / {ds['sizes']['test']} test examples.
{totals['candidates']} candidates: {totals['evaluations']} trained, {totals['cache_hits']} answered by the cache (equivalent
candidates are trained once), {totals['rejected']} rejected by the checks before training, {totals['failed']} failed in
training (fitness 0).</p>
{best_html}
<h2>Final evaluation on test</h2>{final_html}
<h2>Fitness per generation</h2>{_img(fit_png, 'fitness per generation')}
<table id="history"><tr><th>generation</th><th>best</th><th>mean</th><th>candidates</th><th>trained</th><th>cache hits</th>
<th>rejected</th><th>failed</th><th>seconds</th><th>session</th></tr>{hist_rows}</table>
<h2>Hall of fame</h2>
<table id="hof"><tr><th>rank</th><th>fitness</th><th>generation</th><th>nodes</th><th>function(s): expression, simplified by sympy</th></tr>
{''.join(hof_rows)}</table>
{_img(hof_png, 'hall of fame functions and derivatives') if hof_png else ''}
<p>Formulas show <code>a/b</code> for the protected division (|b| raised to at least 1e-6); <code>log</code> is
log(|x| + 1e-6) and <code>sqrt</code> is sqrt(|x|).</p>
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)


__all__ = ["curve", "fitness_series", "function_curves", "plot_final", "plot_fitness", "plot_functions",
           "write_evolve_report"]
