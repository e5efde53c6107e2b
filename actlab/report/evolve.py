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

from actlab._io import finite, write_text_atomic
from actlab.report._html import _CSS, _f, _img, _n, _plt, _pv, _save, convergence_note, feature_map_section
from actlab.report._math import drawn, formula_html
from actlab.report._style import LINESTYLES, MAX_WIDTH, PALETTE, TEXT, TITLE, style
from actlab.stats import CI_NOTE

CURVE_RANGE = (-5.0, 5.0)
TOP = 5


# ------------------------------------------------------------------------------------ numbers
def fitness_series(results: dict[str, Any]) -> dict[str, Any]:
    """Per generation: best and mean fitness of the population, the hall of fame's best so far,
    and (coevolution) each population's best."""
    h = results["history"]
    out = {
        "generation": [r["generation"] for r in h],
        "best": [r["best"] for r in h],
        "mean": [r["mean"] for r in h],
        "hof_best": [r.get("hof_best") for r in h],
    }
    if h and "slots" in h[0]:
        out["slots"] = {s: [r["slots"][s]["best"] for r in h] for s in h[0]["slots"]}
    return out


def curve(text: str, lo: float = CURVE_RANGE[0], hi: float = CURVE_RANGE[1], n: int = 601) -> dict[str, list[float]]:
    """f and f' of an expression on ``[lo, hi]`` (float64, autograd)."""
    from actlab.catalogue.expr import Expression

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
            out.setdefault(slot, []).append(
                {"label": f"#{item['rank']} {_short(text)} ({item['fitness']:.3f})", "text": text, **curve(text)}
            )
    return out


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


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
    fig, ax = plt.subplots(figsize=(8.4, 3.8), layout="constrained")
    ax.plot(s["generation"], s["best"], "o-", color=PALETTE[3], label="best in population")
    ax.plot(s["generation"], s["mean"], "s--", color=PALETTE[0], label="population mean")
    ax.step(s["generation"], s["hof_best"], where="post", color="0.3", lw=1, label="hall of fame best")
    for i, (slot, v) in enumerate(s.get("slots", {}).items()):
        st = style(i + 4)
        ax.plot(s["generation"], v, ":", marker=st["marker"], color=st["color"], label=f"best, {slot} population")
    ax.set_xlabel("generation", fontsize=TEXT)
    ax.set_ylabel("fitness (validation accuracy)", fontsize=TEXT)
    ax.set_xticks(s["generation"])
    ax.tick_params(labelsize=TEXT)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=TEXT, frameon=False)
    ax.set_title("Fitness per generation", fontsize=TITLE)
    return _save(fig, path)


def plot_functions(curves: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """Rows: slots, each with its legend below it; left f, right f'; ReLU dashed for reference."""
    plt = _plt()
    relu = {"x": np.linspace(*CURVE_RANGE, 601)}
    relu["y"], relu["dy"] = np.maximum(relu["x"], 0), (relu["x"] > 0).astype(float)
    rows = list(curves.items())
    legend_in = [0.22 * math.ceil((len(cs) + 1) / 2) + 0.2 for _, cs in rows]
    fig = plt.figure(figsize=(MAX_WIDTH, sum(3.0 + h for h in legend_in) + 0.3), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1, squeeze=False, height_ratios=[3.0 + h for h in legend_in])[:, 0]
    for sub, (slot, cs) in zip(subfigs, rows):
        axes = sub.subplots(1, 2)
        for ax, key, name in zip(axes, ("y", "dy"), ("f(x)", "f'(x)")):
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            ax.plot(relu["x"], relu[key], color="0.45", lw=1.2, ls=(0, (4, 3)), label="relu")
            for i, c in enumerate(cs):
                ls = LINESTYLES[i % len(LINESTYLES)]  # members with the same function stay visible on top of each other
                ax.plot(
                    c["x"],
                    c[key],
                    color=style(i)["color"],
                    ls=ls,
                    lw=2.2 if i == 0 else 1.4,
                    alpha=1 if i == 0 else 0.85,
                    label=c["label"],
                )
            ax.set_ylim(*_ylim(relu[key], *(c[key] for c in cs)))
            ax.set_title(f"{name}" + ("" if slot == "all" else f", {slot} slot"), fontsize=TITLE)
            ax.tick_params(labelsize=TEXT)
            ax.grid(alpha=0.25)
        sub.legend(
            *axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=TEXT, frameon=False
        )
    fig.suptitle(title, fontsize=TITLE)
    return _save(fig, path)


def plot_final(final: dict[str, Any], path: Path) -> Path:
    plt = _plt()
    rows = final["contenders"]
    fig, ax = plt.subplots(figsize=(min(MAX_WIDTH, max(6.4, 1.3 * len(rows) + 1.5)), 3.8), layout="constrained")
    for i, r in enumerate(rows):
        acc = r["test_accuracy"]
        colour = style(i)["color"]
        ax.scatter([i] * len(acc), acc, alpha=0.6, color=colour)
        sd = r["std"] if finite(r["std"]) else 0.0
        ax.errorbar(i + 0.15, r["mean"], yerr=sd, fmt="D", color=colour, capsize=4)
    slanted = len(rows) > 4
    ax.set_xticks(
        range(len(rows)),
        [r["name"] for r in rows],
        fontsize=TEXT,
        family="monospace",
        rotation=25 if slanted else 0,
        ha="right" if slanted else "center",
        rotation_mode="anchor",
    )
    ax.set_ylabel("test accuracy", fontsize=TEXT)
    ax.tick_params(axis="y", labelsize=TEXT)
    ax.grid(alpha=0.3, axis="y")
    ax.set_title("Final evaluation on test (dots: seeds, diamond: mean ± std)", fontsize=TITLE)
    return _save(fig, path)


# ------------------------------------------------------------------------------------- the page
def _drawn(f: dict[str, Any]) -> str:
    """The formula drawn on a line of its own; nothing where mathtext cannot draw it (its text and
    LaTeX are shown beside it anyway)."""
    return f"<div class='formula'>{formula_html(f['latex'], alt=f['text'])}</div>" if drawn(f["latex"])[0] else ""


def _formula_cell(f: dict[str, Any]) -> str:
    """The drawn formula, then its text, a note where sympy gave up, the LaTeX."""
    note = f"<div class='note'>{html.escape(f['note'])}</div>" if f.get("note") and not f.get("simplified") else ""
    return (
        f"{_drawn(f)}<div><code>{html.escape(f['text'])}</code></div>{note}"
        f"<details><summary>LaTeX</summary><code>{html.escape(f['latex'])}</code></details>"
    )


def _fidelities(cfg: dict[str, Any]) -> str:
    fid = cfg.get("fidelities")
    learn = "; constants learned per layer with the weights" if cfg.get("learn_constants") else ""
    if not fid:
        return _n(cfg["train"]["epochs"], "epoch") + learn
    steps = ", then ".join(f"{_n(int(e), 'epoch')} on {f:.0%} of the training split" for e, f in fid)
    return (
        f"{steps} (successive halving: the best 1 in {cfg.get('reduction_factor', 3)} of each fidelity go on to the "
        f"next; candidates rank by the highest fidelity reached){learn}"
    )


def _why(results: dict[str, Any]) -> str:
    final = results.get("final") or {}
    return f", chosen by its {final['chosen']['by']}" if "chosen" in final else ""


def _doubled(final: dict[str, Any]) -> str:
    """How the final budget grew, where a comparison had not converged at first."""
    budgets = final.get("budgets") or []
    return (
        (f" (the budget doubled for every contender from {_n(budgets[0], 'epoch')}: a comparison had not converged)")
        if len(budgets) > 1
        else ""
    )


def _chosen(final: dict[str, Any]) -> str:
    if "chosen" not in final:
        return ""
    n = len(final.get("catalogue_finalists") or [])
    return (
        f"All contenders were trained alike. The evolved function is hall of fame #{final['chosen']['hall_of_fame_rank']}, "
        f"chosen by its {final['chosen']['by']} among the hall of fame; the catalogue function likewise among the "
        f"catalogue's {n} finalist(s), the best at the evolution's highest fidelity."
    )


def _correlation_table(rows: list[dict[str, Any]]) -> str:
    """Did the fitness predict the test accuracy? Spearman per fidelity, over the contenders."""
    if not rows:
        return ""
    body = []
    for c in rows:
        what = (
            "final training (its validation accuracy)"
            if c["fidelity"] == "final"
            else f"{c['fidelity']}: {_n(c['epochs'], 'epoch')}, {c['train_fraction']:.0%} of the training split"
        )
        rho = f"{c['spearman']:+.2f}" if c["spearman"] is not None else "n/a"
        p = _pv(c["p_value"]) if c["p_value"] is not None else html.escape(c.get("note") or "")
        body.append(f"<tr><td class='left'>{html.escape(what)}</td><td>{rho}</td><td>{c['n']}</td><td>{p}</td></tr>")
    return (
        "<h3>Is the fitness honest?</h3><p class='sub'>Spearman's rank correlation between each fidelity's fitness and "
        "the mean test accuracy of the final evaluation, over the contenders trained at that fidelity (near +1: the "
        "short training ranked the functions as the long one did).</p><div class='scroll'><table id='fidelity'>"
        "<tr><th>fidelity</th><th>Spearman</th><th>contenders</th><th>p</th></tr>" + "".join(body) + "</table></div>"
    )


def write_evolve_report(results: dict[str, Any], out: str | Path) -> Path:
    out = Path(out)
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    cfg = results["config"]
    ds = results["dataset"]
    hof = results["hall_of_fame"]
    fit_png = plot_fitness(results, figs / "fitness.png")
    curves = function_curves(results)
    best = results.get("best") or (hof[0] if hof else None)  # after a final evaluation: the member it chose
    best_curves = (
        {
            s: [{"label": f"#{best['rank']} {_short(t)} ({best['fitness']:.3f})", "text": t, **curve(t)}]
            for s, t in best["functions"].items()
        }
        if best
        else {}
    )
    best_png = (
        plot_functions(best_curves, figs / "best_vs_relu.png", "The best evolved function(s) next to ReLU")
        if best
        else None
    )
    hof_png = (
        plot_functions(curves, figs / "hall_of_fame.png", f"Top {min(TOP, len(hof))} of the hall of fame")
        if hof
        else None
    )

    hof_rows = []
    for item in hof:
        cells = []
        for slot, text in item["functions"].items():
            label = "" if slot == "all" else f"<b>{html.escape(slot)}</b> "
            cells.append(
                f"<div class='slot'><div>{label}<code class='expr'>{html.escape(text)}</code></div>"
                f"{_formula_cell(item['formulas'][slot])}</div>"
            )
        hof_rows.append(
            f"<tr><td>{item['rank']}</td><td>{_f(item['fitness'])}</td><td>{len(item.get('rungs') or [0])}</td>"
            f"<td>{item['generation']}</td>"
            f"<td>{item['nodes']}</td><td class='left'>{''.join(cells)}</td></tr>"
        )
    hist_rows = "".join(
        f"<tr><td>{h['generation']}</td><td>{_f(h['best'])}</td><td>{_f(h['mean'])}</td><td>{h['candidates']}</td>"
        f"<td>{h['evaluations']}</td><td>{h.get('replaced', 0)}</td><td>{h.get('distinct', '')}</td>"
        f"<td>{'/'.join(str(n) for n in h.get('promoted', [])) or '—'}</td>"
        f"<td>{h['cache_hits']}</td><td>{h['rejected']}</td><td>{h['failed']}</td>"
        f"<td>{_f(h['seconds'], '.1f')}</td><td>{h.get('session', 0)}</td></tr>"
        for h in results["history"]
    )

    final_html = "<p>No final evaluation was run (<code>--final-seeds 0</code>).</p>"
    final = results.get("final")
    if final:
        comps = {c["vs"]: c for c in final["comparisons"]}
        rows = []
        for r in final["contenders"]:
            c = comps.get(r["name"])
            p = "—" if c is None else f"{_pv(c['p_value'])} / {_pv(c['p_holm'])} ({c['outcome']})"
            plan = ", ".join(f"{k}={v}" for k, v in r["plan"].items())
            rows.append(
                f"<tr><td>{html.escape(r['name'])}</td><td>{_f(r.get('val_mean'))}</td><td>{_f(r['mean'])} ± {_f(r['std'])}</td>"
                f"<td>[{_f(r['ci_low'])}, {_f(r['ci_high'])}]</td><td>{len(r['test_accuracy'])}</td>"
                f"<td>{html.escape(p)}</td><td class='left'><code>{html.escape(plan)}</code></td></tr>"
            )
        sel = ", ".join(f"{s['activation']} {_f(s['val_accuracy'])}" for s in final["catalogue_selection"])
        final_png = plot_final(final, figs / "final.png")
        final_html = f"""<div class="scroll"><table id="final"><tr><th>activation</th><th>validation accuracy</th><th>test accuracy mean ± std</th><th>95% CI</th><th>seeds</th>
<th>p raw / Holm, evolved vs this</th><th>plan</th></tr>{"".join(rows)}</table></div>
<p>{html.escape(final["test"])}; outcome from the evolved function's side, p &lt; {final["alpha"]}.{convergence_note(final.get("convergence"), [c["outcome"] for c in final["comparisons"]])} Each contender was
trained {_n(final["epochs"], "epoch")} per seed on the training split{_doubled(final)}; the weights of its best validation epoch were scored
once on test. {html.escape(_chosen(final))} Catalogue functions at the evolution's highest fidelity (validation): {html.escape(sel)}.
{html.escape(CI_NOTE)}.</p>
{_img(final_png, "final test accuracy")}
{_correlation_table(final.get("fidelity_correlation") or [])}
{feature_map_section(results.get("feature_map"), figs / "map.png", "mean test accuracy")}"""

    t = cfg["train"]
    totals = results["totals"]
    best_html = ""
    if best:
        slots = "".join(
            f"<div class='slot'>{'' if s == 'all' else '<b>' + html.escape(s) + '</b> '}"
            f"<code class='expr'>{html.escape(v)}</code> = <code>{html.escape(best['formulas'][s]['text'])}</code>"
            f"{_drawn(best['formulas'][s])}</div>"
            for s, v in best["functions"].items()
        )
        best_html = (
            f"<h2>The best function{'s' if len(best['functions']) > 1 else ''}</h2>{slots}"
            f"<p>Hall of fame #{best['rank']}, validation fitness {_f(best['fitness'])}{_why(results)}. Use it: "
            f'<code>actlab.load("best.json")</code>, <code>actlab show best.json</code>, or the spec '
            f"<code>{'pexpr' if cfg.get('learn_constants') else 'expr'}:{html.escape(next(iter(best['functions'].values())))}</code>.</p>"
            f"<p class='sub'>The best evolved function{'s' if len(best['functions']) > 1 else ''} (solid) "
            f"next to ReLU (dashed): f on the left, its derivative f' on the right.</p>"
            f"{_img(best_png, 'best evolved function next to relu')}"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>actlab evolve: {html.escape(ds["name"])}</title>
<style>{_CSS}
td.left{{text-align:left;white-space:normal}}code.expr{{font-weight:bold}}.slot{{margin:4px 0 8px}}#hof td{{vertical-align:top}}
.formula{{overflow-x:auto;margin:4px 0}}.formula img{{display:block;border:0;margin:0;max-width:none}}
</style></head><body>
<h1>Evolved activation functions on {html.escape(ds["name"])} with {html.escape(cfg["model"])} ({html.escape(cfg["mode"])} mode)</h1>
<p class="sub">Genetic programming (DEAP): population {cfg["population"]}, {_n(cfg["generations"], "generation")}, tournament
{cfg["tournament"]}, elite {cfg["elite"]}, crossover {cfg["cxpb"]}, mutation {cfg["mutpb"]}, height limit {cfg["max_height"]}.
Fitness: best validation accuracy over {_fidelities(cfg)} ({html.escape(t["optimizer"])}, lr {t["lr"]}, batch {t["batch_size"]},
seed {t["seed"]}); {ds["sizes"]["train"]} train / {ds["sizes"]["val"]} validation / {ds["sizes"]["test"]} test examples.
{totals["candidates"]} candidates: {totals["evaluations"]} trained, {totals["cache_hits"]} answered by the cache (equivalent
candidates are trained once), {totals["rejected"]} rejected by the checks before training, {totals["failed"]} failed in
training (fitness 0).</p>
{best_html}
<h2>Final evaluation on test</h2>{final_html}
<h2>Fitness per generation</h2>{_img(fit_png, "fitness per generation")}
<div class="scroll"><table id="history"><tr><th>generation</th><th>best</th><th>mean</th><th>candidates</th><th>trained</th><th>replaced</th><th>distinct</th><th>promoted</th><th>cache hits</th>
<th>rejected</th><th>failed</th><th>seconds</th><th>run (resumed)</th></tr>{hist_rows}</table></div>
<p class="sub"><i>trained</i>: new behaviours trained at the first fidelity; <i>replaced</i>: offspring that repeated a
behaviour already trained (or another offspring's), varied again before training; <i>distinct</i>: behaviours in the
population; <i>promoted</i>: candidates trained at each higher fidelity (successive halving).</p>
<h2>Hall of fame</h2>
<div class="scroll"><table id="hof"><tr><th>rank</th><th>fitness</th><th>fidelity</th><th>generation</th><th>nodes</th><th>function(s): expression, simplified by sympy</th></tr>
{"".join(hof_rows)}</table></div>
{_img(hof_png, "hall of fame functions and derivatives") if hof_png else ""}
<p>Formulas show <code>a/b</code> for the protected division (|b| raised to at least 1e-6); <code>log</code> is
log(|x| + 1e-6) and <code>sqrt</code> is sqrt(|x|).</p>
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)


__all__ = [
    "curve",
    "fitness_series",
    "function_curves",
    "plot_final",
    "plot_fitness",
    "plot_functions",
    "write_evolve_report",
]
