"""The search report: optimisation history, which activation wins at which layer, parameter
importances, the final test table and the winner's diagnostics; all from ``results.json``."""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from actlab._io import write_text_atomic
from actlab.report._html import _CSS, _f, _img, _n, _pv, _save, convergence_note
from actlab.report._style import PALETTE, TEXT, TITLE, figure, pyplot
from actlab.report.ranking import transfer_html
from actlab.stats import CI_NOTE


def plot_history(results: dict[str, Any], path: Path) -> Path:
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    trials = [t for t in results["trials"] if t["state"] == "COMPLETE"]
    fig, ax = plt.subplots(figsize=(8.4, 3.8), layout="constrained")
    xs = [t["number"] for t in trials]
    ys = [t["value"] for t in trials]
    ax.scatter(xs, ys, s=16, alpha=0.7, color=PALETTE[0], label="trial (validation\naccuracy)")
    best = np.maximum.accumulate(ys) if ys else []
    ax.step(xs, best, where="post", color=PALETTE[3], label="best so far")
    pruned = [t["number"] for t in results["trials"] if t["state"] == "PRUNED"]
    if pruned:
        ax.scatter(
            pruned,
            [min(ys, default=0)] * len(pruned),
            marker="x",
            s=14,
            color=PALETTE[7],
            label="pruned (drawn at\nthe lowest value)",
        )
    ax.set_xlabel("trial", fontsize=TEXT)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("validation accuracy", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    fig.legend(loc="outside right upper", fontsize=TEXT, frameon=False)
    ax.grid(alpha=0.3)
    ax.set_title("Optimisation history", fontsize=TITLE)
    return _save(fig, path)


def winners_matrix(results: dict[str, Any], share: float = 0.2) -> tuple[list[str], list[str], np.ndarray, int]:
    """Counts of each candidate per slot among the best ``share`` of complete trials."""
    slots = results["space"]["slots"]
    done = sorted((t for t in results["trials"] if t["state"] == "COMPLETE"), key=lambda t: -t["value"])
    top = done[: max(1, math.ceil(share * len(done)))] if done else []
    used = sorted({t["plan"][s] for t in top for s in slots})
    m = np.zeros((len(used), len(slots)))
    for t in top:
        for j, s in enumerate(slots):
            m[used.index(t["plan"][s]), j] += 1
    return used, slots, m, len(top)


def plot_winners(results: dict[str, Any], path: Path) -> Path:
    return _save(winners_figure(results), path)


def winners_figure(results: dict[str, Any]):
    """How often each activation is chosen at each layer among the best trials (a matplotlib Figure)."""

    used, slots, m, n = winners_matrix(results)
    label_in = 0.09 * max((len(u) for u in used), default=4) + 0.5
    fig = figure(figsize=(max(5.0, label_in + 0.8 * len(slots) + 1.2), 0.32 * len(used) + 1.6), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(m, aspect="auto", cmap="Blues", vmin=0)
    ax.set_xticks(range(len(slots)), slots, rotation=30, ha="right", rotation_mode="anchor", fontsize=TEXT)
    ax.set_yticks(range(len(used)), used, fontsize=TEXT, family="monospace")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    int(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=TEXT,
                    color="w" if im.norm(m[i, j]) > 0.6 else "k",
                )
    ax.set_title(f"Which activation wins at which layer (best {_n(n, 'trial')})", fontsize=TITLE)
    fig.colorbar(im, ax=ax, fraction=0.06).ax.tick_params(labelsize=TEXT)
    return fig


def plot_importances(results: dict[str, Any], path: Path) -> Path | None:
    imp = results.get("importances") or {}
    if not imp:
        return None
    plt = pyplot()
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 0.35 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names], color=PALETTE[4])
    ax.set_xlabel("importance (fANOVA)", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    ax.set_title("Which layer's activation matters most", fontsize=TITLE)
    return _save(fig, path)


def score_text(c: dict[str, Any]) -> str:
    """A final contender's test accuracy, mean ± std over its seeds; seeds that diverged or failed
    are scored 0, and the text says how many (all of them: no mean to show)."""
    n, lost = len(c["test_accuracy"]), {w: c.get(w) or 0 for w in ("diverged", "failed")}
    k = sum(lost.values())
    if not k:
        return f"{_f(c['mean'])} ± {_f(c['std'])}"
    word = " or ".join(w for w, v in lost.items() if v)
    if k == n:
        return f"{word} ({k} of {n} seeds)"
    return f"{_f(c['mean'])} ± {_f(c['std'])} ({k} of {n} seeds {word}, scored 0)"


def _plan_cell(plan: dict[str, str]) -> str:
    """``slot=activation`` pairs that wrap between pairs, never inside one: the table fits the page."""
    return ", ".join(f"<span>{html.escape(f'{k}={v}')}</span>" for k, v in plan.items())


def _epochs(v) -> str:
    v = sorted(e for e in (v if isinstance(v, list) else [v]) if e is not None)
    return str(v[len(v) // 2]) if v else "—"


_PLAN_CSS = (
    "th.plan,td.plan{text-align:left}td.plan{font-family:monospace;white-space:normal;min-width:16em}"
    "td.plan span{white-space:nowrap}"
)


def _final_row(c: dict[str, Any]) -> str:
    """One contender's row of the final table."""
    cls = {"win": "better", "loss": "worse"}.get(c["outcome"], "")
    p = "baseline" if c["outcome"] == "baseline" else f"{_pv(c['p_value'])} / {_pv(c['p_holm'])}"
    return (
        f"<tr class='{cls}'><td>{html.escape(c['name'])}</td><td class='left plan'>{_plan_cell(c['plan'])}</td>"
        f"<td>{_f(c['val_accuracy'])}</td><td>{_epochs(c['epochs'])}</td><td>{html.escape(score_text(c))}</td>"
        f"<td>[{_f(c['ci_low'])}, {_f(c['ci_high'])}]</td><td>{p}</td><td>{c['outcome']}</td></tr>"
    )


def _winner_diagnostics(final: dict[str, Any]) -> str:
    """The diagnostics table of the winner (top-1, seed 0), per slot."""
    diag = next((c.get("diagnostics") for c in final["configs"] if c["name"] == "top-1"), None) or {}
    rows = "".join(
        f"<tr><td>{html.escape(s)}</td><td>{_f(d['dead'], '.2f')}</td><td>{_f(d['saturated'], '.2f')}</td>"
        f"<td>{_f(d['mean'], '.2f')}</td><td>{_f(d['std'], '.2f')}</td><td>{_f(d['grad_norm_first'], '.3g')}</td>"
        f"<td>{_f(d['grad_norm_last'], '.3g')}</td></tr>"
        for s, d in diag.items()
    )
    return (
        '<div class="scroll"><table><tr><th>slot</th><th>dead</th><th>saturated</th><th>mean</th><th>std</th>'
        f"<th>grad norm first</th><th>grad norm last</th></tr>{rows}</table></div>"
    )


def write_search_report(results: dict[str, Any], out: str | Path) -> Path:
    out = Path(out)
    figs = {
        "history": plot_history(results, out / "history.png"),
        "winners": plot_winners(results, out / "winners.png"),
        "importances": plot_importances(results, out / "importances.png"),
    }
    cfg, final = results["config"], results.get("final") or {"configs": []}
    rows = "".join(_final_row(c) for c in final["configs"])
    c, space = results["counts"], results["space"]
    training = final.get("training", "")
    converging = convergence_note(final.get("convergence"), [c["outcome"] for c in final["configs"]])
    importances = (
        _img(figs["importances"], "importances")
        if figs["importances"]
        else "<p>" + html.escape(results.get("importance_note", "not enough trials")) + "</p>"
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>actlab search: {html.escape(cfg["dataset"])}</title>
<style>{_CSS}
{_PLAN_CSS}
</style></head><body>
<h1>À-la-carte activation search on {html.escape(cfg["dataset"])} ({html.escape(cfg["model"])})</h1>
<p class="sub">Study <code>{html.escape(results["study"])}</code>: {_n(c["done"], "finished trial")}
({c.get("pruned", 0)} pruned), {c["failed"]} failed; sampler {cfg["sampler"]}, pruner {cfg["pruner"]};
{len(space["candidates"])} candidates per slot over slots {html.escape(", ".join(space["slots"]))}.
Objective: best validation accuracy.</p>
<h2>Final evaluation on test</h2>
<div class="scroll"><table id="final"><tr><th>config</th><th class="plan">activations</th><th>val acc (search)</th>
<th>best epoch (median)</th><th>test acc mean ± std</th>
<th>95% CI</th><th>p raw / Holm</th><th>vs baseline</th></tr>{rows}</table></div>
<p>{html.escape(training[:1].upper() + training[1:])}, {_n(cfg["final_seeds"], "seed")};
{html.escape(final.get("test", ""))}; win/loss = p &lt; {final.get("alpha", 0.05)} after correction.{converging}
{html.escape(CI_NOTE)}.</p>
{"<h3>Transfer to other tasks</h3>" + transfer_html(final["transfer"]) if final.get("transfer") else ""}
<h2>Optimisation history</h2>{_img(figs["history"], "optimisation history")}
<h2>Which activation wins at which layer</h2>{_img(figs["winners"], "winners per layer")}
<h2>Parameter importances</h2>{importances}
<h2>Why: diagnostics of the winner (top-1, seed 0)</h2>
{_winner_diagnostics(final)}
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)
