"""The evolution report: fitness per generation, the hall of fame with simplified formulas (text
and LaTeX), plots of the best functions and their derivatives next to ReLU, and the final test
table; ``report.html`` with the images embedded, all drawn from ``results.json`` alone."""

from __future__ import annotations

import html
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from actlab._io import finite, write_text_atomic
from actlab.report._html import _CSS, _f, _img, _n, _pv, _save, convergence_note, feature_map_section
from actlab.report._math import drawn, formula_html
from actlab.report._style import DPI, LINESTYLES, MAX_WIDTH, PALETTE, TEXT, TITLE, figure, pyplot, style
from actlab.report.ranking import transfer_html
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


def member_curves(members: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """slot -> curves (label, text, x, y, dy) of hall-of-fame members, in their order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for item in members:
        for slot, text in item["functions"].items():
            out.setdefault(slot, []).append(
                {"label": f"#{item['rank']} {_short(text)} ({item['fitness']:.3f})", "text": text, **curve(text)}
            )
    return out


def function_curves(results: dict[str, Any], top: int = TOP) -> dict[str, list[dict[str, Any]]]:
    """slot -> curves of the top hall-of-fame entries (label, fitness, x, y, dy)."""
    return member_curves(results["hall_of_fame"][:top])


def report_info(results: dict[str, Any]) -> dict[str, Any]:
    """What the page draws, computed once: the best member (after a final evaluation, the one it
    chose), the fitness per generation, the curves of the best and of the hall of fame's top."""
    hof = results["hall_of_fame"]
    best = results.get("best") or (hof[0] if hof else None)
    return {
        "best": best,
        "fitness": fitness_series(results),
        "best_curves": member_curves([best]) if best else {},
        "hof_curves": function_curves(results),
        "top": min(TOP, len(hof)),
    }


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


def plot_fitness(results: dict[str, Any], path: Path, series: dict[str, Any] | None = None) -> Path:
    return _save(fitness_figure(results, series), path)


def fitness_figure(results: dict[str, Any], series: dict[str, Any] | None = None):
    """Best and mean fitness per generation, the hall of fame's best, each population's best (a
    matplotlib Figure)."""

    s = series or fitness_series(results)
    fig = figure(figsize=(8.4, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(s["generation"], s["best"], "o-", color=PALETTE[3], label="best in population")
    ax.plot(s["generation"], s["mean"], "s--", color=PALETTE[0], label="population mean")
    ax.step(s["generation"], s["hof_best"], where="post", color="0.3", lw=1, label="hall of fame best")
    for i, (slot, v) in enumerate(s.get("slots", {}).items()):
        st = style(i + 4)
        ax.plot(s["generation"], v, ":", marker=st["marker"], color=st["color"], label=f"best, {slot} population")
    ax.set_xlabel("generation", fontsize=TEXT)
    what = "mean standing against ReLU over the tasks" if results.get("tasks") else "validation accuracy"
    ax.set_ylabel(f"fitness ({what})", fontsize=TEXT)
    ax.set_xticks(s["generation"])
    ax.tick_params(labelsize=TEXT)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=TEXT, frameon=False)
    ax.set_title("Fitness per generation", fontsize=TITLE)
    return fig


def plot_functions(curves: dict[str, list[dict[str, Any]]], path: Path, title: str) -> Path:
    """Rows: slots, each with its legend below it; left f, right f'; ReLU dashed for reference."""
    plt = pyplot()
    relu = {"x": np.linspace(*CURVE_RANGE, 601)}
    relu["y"], relu["dy"] = np.maximum(relu["x"], 0), (relu["x"] > 0).astype(float)
    rows = list(curves.items())
    legend_in = [0.22 * math.ceil((len(cs) + 1) / 2) + 0.2 for _, cs in rows]
    fig = plt.figure(figsize=(MAX_WIDTH, sum(3.0 + h for h in legend_in) + 0.3), layout="constrained")
    subfigs = fig.subfigures(len(rows), 1, squeeze=False, height_ratios=[3.0 + h for h in legend_in])[:, 0]
    for sub, (slot, cs) in zip(subfigs, rows, strict=True):
        axes = sub.subplots(1, 2)
        for ax, key, name in zip(axes, ("y", "dy"), ("f(x)", "f'(x)"), strict=True):
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
    plt = pyplot()
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
        "All contenders were trained alike. The evolved function is hall of fame "
        f"#{final['chosen']['hall_of_fame_rank']}, "
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


# ------------------------------------------------------------------------------ the sections
STYLE = (
    "td.left{text-align:left;white-space:normal}code.expr{font-weight:bold}.slot{margin:4px 0 8px}"
    "#hof td{vertical-align:top}\n"
    ".formula{overflow-x:auto;margin:4px 0}.formula img{display:block;border:0;margin:0;max-width:none}\n"
)
HISTORY_HEAD = (
    "<tr><th>generation</th><th>best</th><th>mean</th><th>candidates</th><th>trained</th><th>replaced</th>"
    "<th>distinct</th><th>promoted</th><th>cache hits</th>\n"
    "<th>rejected</th><th>failed</th><th>seconds</th><th>run (resumed)</th></tr>"
)
HOF_HEAD = (
    "<tr><th>rank</th><th>fitness</th><th>fidelity</th><th>generation</th><th>nodes</th>"
    "<th>function(s): expression, simplified by sympy</th></tr>"
)
FINAL_HEAD = (
    "<tr><th>activation</th><th>validation accuracy</th><th>test accuracy mean ± std</th><th>95% CI</th>"
    "<th>seeds</th>\n<th>p raw / Holm, evolved vs this</th><th>plan</th></tr>"
)


def _summary(results: dict[str, Any]) -> str:
    """The heading and what was run: the genetic programming, the fitness, the data, the totals."""
    cfg, ds, totals = results["config"], results["dataset"], results["totals"]
    t, sizes = cfg["train"], ds["sizes"]
    return (
        f"<h1>Evolved activation functions on {html.escape(ds['name'])} with {html.escape(cfg['model'])} "
        f"({html.escape(cfg['mode'])} mode)</h1>\n"
        f'<p class="sub">Genetic programming (DEAP): population {cfg["population"]}, '
        f"{_n(cfg['generations'], 'generation')}, tournament\n{cfg['tournament']}, elite {cfg['elite']}, "
        f"crossover {cfg['cxpb']}, mutation {cfg['mutpb']}, height limit {cfg['max_height']}.\n"
        f"Fitness: best validation accuracy over {_fidelities(cfg)} ({html.escape(t['optimizer'])}, lr {t['lr']}, "
        f"batch {t['batch_size']},\nseed {t['seed']}); {sizes['train']} train / {sizes['val']} validation / "
        f"{sizes['test']} test examples.\n{totals['candidates']} candidates: {totals['evaluations']} trained, "
        f"{totals['cache_hits']} answered by the cache (equivalent\ncandidates are trained once), "
        f"{totals['rejected']} rejected by the checks before training, {totals['failed']} failed in\n"
        "training (fitness 0).</p>"
    )


def _best_section(results: dict[str, Any], best: dict[str, Any] | None, png: Path | None) -> str:
    """The best function(s): expression, simplified formula, how to use it, its plot next to ReLU."""
    if not best:
        return ""
    spec = "pexpr" if results["config"].get("learn_constants") else "expr"
    plural = "s" if len(best["functions"]) > 1 else ""
    slots = "".join(
        f"<div class='slot'>{'' if s == 'all' else '<b>' + html.escape(s) + '</b> '}"
        f"<code class='expr'>{html.escape(v)}</code> = <code>{html.escape(best['formulas'][s]['text'])}</code>"
        f"{_drawn(best['formulas'][s])}</div>"
        for s, v in best["functions"].items()
    )
    return (
        f"<h2>The best function{plural}</h2>{slots}"
        f"<p>Hall of fame #{best['rank']}, validation fitness {_f(best['fitness'])}{_why(results)}. Use it: "
        f'<code>actlab.load("best.json")</code>, <code>actlab show best.json</code>, or the spec '
        f"<code>{spec}:{html.escape(next(iter(best['functions'].values())))}</code>.</p>"
        f"<p class='sub'>The best evolved function{plural} (solid) "
        f"next to ReLU (dashed): f on the left, its derivative f' on the right.</p>"
        f"{_img(png, 'best evolved function next to relu')}"
    )


def _final_section(results: dict[str, Any], figs: Path) -> str:
    """The final evaluation on test: the table, how it was done, its plot, the fitness correlations, the map."""
    final = results.get("final")
    if not final:
        return "<p>No final evaluation was run (<code>--final-seeds 0</code>).</p>"
    comps = {c["vs"]: c for c in final["comparisons"]}
    rows = "".join(_final_row(r, comps.get(r["name"])) for r in final["contenders"])
    sel = ", ".join(
        f"{s['activation']} {_f(s['val_accuracy'])}"
        + (f" (standing over the tasks {s['standing']:+.2f})" if "standing" in s else "")
        for s in final["catalogue_selection"]
    )
    png = plot_final(final, figs / "final.png")
    note = convergence_note(final.get("convergence"), [c["outcome"] for c in final["comparisons"]])
    return (
        f'<div class="scroll"><table id="final">{FINAL_HEAD}{rows}</table></div>\n'
        f"<p>{html.escape(final['test'])}; outcome from the evolved function's side, p &lt; {final['alpha']}.{note} "
        f"Each contender was\ntrained {_n(final['epochs'], 'epoch')} per seed on the training split"
        f"{_doubled(final)}; the weights of its best validation epoch were scored\nonce on test. "
        f"{html.escape(_chosen(final))} Catalogue functions at the evolution's highest fidelity (validation): "
        f"{html.escape(sel)}.\n{html.escape(CI_NOTE)}.</p>\n"
        f"{_img(png, 'final test accuracy')}\n"
        f"{_correlation_table(final.get('fidelity_correlation') or [])}\n"
        + _why_it_wins(final)
        + ("<h3>Transfer to other tasks</h3>" + transfer_html(final["transfer"]) if final.get("transfer") else "")
        + f"{feature_map_section(results.get('feature_map'), figs / 'map.png', 'mean test accuracy')}"
    )


def _why_it_wins(final: dict[str, Any]) -> str:
    """What the per-slot diagnostics of the evolved function and ReLU say, in sentences."""
    if not final.get("why"):
        return ""
    items = "".join(f"<li>{html.escape(x)}</li>" for x in final["why"])
    shape = "".join(f"<li>{html.escape(x)}</li>" for x in final.get("shape") or ())
    return (
        "<h3>Why: the evolved function against ReLU</h3><p>The per-slot diagnostics that differ most (dead units, "
        "saturation, effective rank, gradient norms; the final runs, the same seeds; a description, not a test):"
        f"</p><ul>{items}</ul>\n"
        + (f"<p>How their shapes differ (the surrogate's curve features):</p><ul>{shape}</ul>\n" if shape else "")
    )


def _final_row(r: dict[str, Any], c: dict[str, Any] | None) -> str:
    p = "—" if c is None else f"{_pv(c['p_value'])} / {_pv(c['p_holm'])} ({c['outcome']})"
    plan = ", ".join(f"{k}={v}" for k, v in r["plan"].items())
    return (
        f"<tr><td>{html.escape(r['name'])}</td><td>{_f(r.get('val_mean'))}</td>"
        f"<td>{_f(r['mean'])} ± {_f(r['std'])}</td>"
        f"<td>[{_f(r['ci_low'])}, {_f(r['ci_high'])}]</td><td>{len(r['test_accuracy'])}</td>"
        f"<td>{html.escape(p)}</td><td class='left'><code>{html.escape(plan)}</code></td></tr>"
    )


def _history_section(history: list[dict[str, Any]], png: Path, overlapped: bool = False) -> str:
    """Fitness per generation: the plot, a table row per generation, what its columns mean."""
    rows = "".join(
        f"<tr><td>{h['generation']}</td><td>{_f(h['best'])}</td><td>{_f(h['mean'])}</td><td>{h['candidates']}</td>"
        f"<td>{h['evaluations']}</td><td>{h.get('replaced', 0)}</td><td>{h.get('distinct', '')}</td>"
        f"<td>{'/'.join(str(n) for n in h.get('promoted', [])) or '—'}</td>"
        f"<td>{h['cache_hits']}</td><td>{h['rejected']}</td><td>{h['failed']}</td>"
        f"<td>{_f(h['seconds'], '.1f')}</td><td>{h.get('session', 0)}</td></tr>"
        for h in history
    )
    return (
        f"<h2>Fitness per generation</h2>{_img(png, 'fitness per generation')}\n"
        f'<div class="scroll"><table id="history">{HISTORY_HEAD}{rows}</table></div>\n'
        '<p class="sub"><i>trained</i>: new behaviours trained at the first fidelity; <i>replaced</i>: offspring '
        "that repeated a\nbehaviour already trained (or another offspring's), varied again before training; "
        "<i>distinct</i>: behaviours in the\npopulation; <i>promoted</i>: candidates trained at each higher "
        "fidelity (successive halving)"
        + (
            "; those promoted to the last fidelity trained there while the next generation was bred and trained "
            "(overlap), the last generation's after it"
            if overlapped
            else ""
        )
        + ".</p>"
    )


def _tasks_section(results: dict[str, Any]) -> str:
    """Several tasks: how the fitness combines them, ReLU's reference and the best's score on each
    (at the highest fidelity the best reached); and the generations that restarted."""
    restarts = [str(h["generation"]) for h in results["history"] if h.get("restart")]
    note = f"<p>Restarts after stagnant generations: generation {', '.join(restarts)}.</p>" if restarts else ""
    tasks = results.get("tasks")
    if not tasks:
        return note
    best = results["hall_of_fame"][0] if results["hall_of_fame"] else {}
    rows = []
    for name in tasks["names"]:
        scores = (best.get("tasks") or {}).get(name) or []
        ref = tasks["relu"][name][max(len(scores) - 1, 0)]
        rows.append(
            f"<tr><td class='left'>{html.escape(name)}</td><td>{_f(ref['mean'])} ± {_f(ref['spread'])}</td>"
            f"<td>{_f(scores[-1]) if scores else '—'}</td></tr>"
        )
    return (
        f"<h2>Tasks</h2><p>Fitness: {html.escape(tasks['aggregate'])}; ReLU trained "
        f"{tasks['reference_seeds']} times per task and fidelity.</p>\n"
        "<table id='tasks'><tr><th>task</th><th>ReLU mean ± spread</th><th>hall of fame #1</th></tr>"
        f"{''.join(rows)}</table>{note}"
    )


def _hof_section(hof: list[dict[str, Any]], png: Path | None) -> str:
    """The hall of fame: a row per member with its functions and their formulas, the top's plot."""
    rows = []
    for item in hof:
        cells = "".join(
            f"<div class='slot'><div>{'' if slot == 'all' else f'<b>{html.escape(slot)}</b> '}"
            f"<code class='expr'>{html.escape(text)}</code></div>{_formula_cell(item['formulas'][slot])}</div>"
            for slot, text in item["functions"].items()
        )
        rows.append(
            f"<tr><td>{item['rank']}</td><td>{_f(item['fitness'])}</td><td>{len(item.get('rungs') or [0])}</td>"
            f"<td>{item['generation']}</td>"
            f"<td>{item['nodes']}</td><td class='left'>{cells}</td></tr>"
        )
    return (
        f'<h2>Hall of fame</h2>\n<div class="scroll"><table id="hof">{HOF_HEAD}\n{"".join(rows)}</table></div>\n'
        f"{_img(png, 'hall of fame functions and derivatives') if png else ''}\n"
        "<p>Formulas show <code>a/b</code> for the protected division (|b| raised to at least 1e-6); "
        "<code>log</code> is\nlog(|x| + 1e-6) and <code>sqrt</code> is sqrt(|x|).</p>"
    )


# -------------------------------------------------------------------------------- the report
def draw_figures(results: dict[str, Any], info: dict[str, Any], figs: Path) -> dict[str, Path | None]:
    """The figures of the page, drawn from :func:`report_info`'s numbers into ``figs``."""
    top = info["top"]
    return {
        "fitness": plot_fitness(results, figs / "fitness.png", info["fitness"]),
        "best": plot_functions(
            info["best_curves"], figs / "best_vs_relu.png", "The best evolved function(s) next to ReLU"
        )
        if info["best"]
        else None,
        "hof": plot_functions(info["hof_curves"], figs / "hall_of_fame.png", f"Top {top} of the hall of fame")
        if top
        else None,
    }


def prepare_report() -> None:
    """Load what :func:`write_evolve_report` first loads (matplotlib, its Agg canvas and PNG writer,
    mathtext's parser and fonts; about 0.5 s) by drawing a small figure and a formula, and
    discarding them: an evolution does it while its last trainings run, not after them."""
    fig = figure(figsize=(2, 1.5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], marker="o", label="x")
    ax.set_title("x")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png", dpi=DPI)
    drawn("x^{2}")


def write_evolve_report(results: dict[str, Any], out: str | Path) -> Path:
    """``report.html`` (with ``figures/``) in ``out``, drawn from an evolution's results alone."""
    out = Path(out)
    figs = out / "figures"
    figs.mkdir(exist_ok=True)
    info = report_info(results)
    png = draw_figures(results, info, figs)
    name = html.escape(results["dataset"]["name"])
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>actlab evolve: {name}</title>\n'
        f"<style>{_CSS}\n{STYLE}</style></head><body>\n"
        f"{_summary(results)}\n"
        f"{_best_section(results, info['best'], png['best'])}\n"
        f"<h2>Final evaluation on test</h2>{_final_section(results, figs)}\n"
        f"{_history_section(results['history'], png['fitness'], any(h.get('carried') for h in results['history']))}\n"
        f"{_tasks_section(results)}\n"
        f"{_hof_section(results['hall_of_fame'], png['hof'])}\n"
        "<details><summary>Configuration</summary>"
        f"<pre>{html.escape(json.dumps(results['config'], indent=1))}</pre></details>\n</body></html>"
    )
    return write_text_atomic(out / "report.html", page)


__all__ = [
    "curve",
    "draw_figures",
    "fitness_series",
    "function_curves",
    "member_curves",
    "plot_final",
    "plot_fitness",
    "plot_functions",
    "prepare_report",
    "report_info",
    "write_evolve_report",
]
