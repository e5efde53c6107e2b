"""The comparison report: ``curves.png``, ``time_accuracy.png``, ``diagnostics.png`` and a
self-contained ``report.html`` (images embedded), all drawn from ``results.json`` alone."""

from __future__ import annotations

import html
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from actlab._io import finite, write_text_atomic
from actlab.report._html import _CSS, _f, _img, _n, _pv, _save, convergence_note, feature_map_section
from actlab.report._style import MAX_WIDTH, PALETTE, TEXT, TITLE, figure, pyplot, style
from actlab.report.ranking import cd_figure, ranking_html
from actlab.stats import CI_NOTE, NOT_CONVERGED
from actlab.surrogate.shape import shape_sentences
from actlab.training.why import explain

DIAG_PANELS = (
    ("dead", "dead units (fraction)"),
    ("saturated", "saturated pre-activations (fraction)"),
    ("std", "activation std"),
    ("grad_norm_last", "weight-gradient norm, last epoch"),
)


def _by_activation(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {a: [] for a in results["config"]["activations"]}
    for run in results["runs"]:
        out[run["activation"]].append(run["result"])
    return out


def _series(runs: list[dict[str, Any]], key: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-seed series of ``key`` and their mean over the seeds still running at each epoch."""
    per = [np.array([e.get(key, math.nan) for e in r["epochs"]], float) for r in runs]
    n = max((len(p) for p in per), default=0)
    grid = np.full((len(per), n), np.nan)
    for i, p in enumerate(per):
        grid[i, : len(p)] = p
    with warnings.catch_warnings():  # an epoch every seed diverged before has no mean: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(grid, 0) if n else np.array([])
    return mean, per


def plot_curves(results: dict[str, Any], path: Path) -> Path:
    return _save(curves_figure(results), path)


def curves_figure(results: dict[str, Any]):
    """Train and validation accuracy per epoch, one panel per activation (a matplotlib Figure)."""
    from matplotlib.ticker import MaxNLocator

    groups = _by_activation(results)
    n = len(groups)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = figure(figsize=(max(3.2 * cols, 6.4), 2.5 * rows + 0.9), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    for ax, (act, runs) in zip(axes.flat, groups.items(), strict=False):  # more axes than groups: the rest off
        for key, colour, ls, label in (
            ("train_accuracy", PALETTE[0], "-", "train"),
            ("val_accuracy", PALETTE[1], "--", "validation"),
        ):
            mean, per = _series(runs, key)
            for p in per:
                ax.plot(np.arange(1, len(p) + 1), p, color=colour, ls=ls, alpha=0.3, lw=0.8)
            ax.plot(np.arange(1, len(mean) + 1), mean, color=colour, ls=ls, lw=2, label=label)
        ax.set_title(act, fontsize=TITLE, family="monospace")
        ax.set_xlabel("epoch", fontsize=TEXT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=TEXT)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("accuracy", fontsize=TEXT)
    fig.legend(
        *axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=TEXT, frameon=False
    )
    fig.suptitle("Train vs validation accuracy per epoch (thin: each seed, thick: mean)", fontsize=TITLE)
    return fig


def plot_time_accuracy(results: dict[str, Any], path: Path) -> Path:
    """Each activation's own colour and marker; the legend, outside the axes, lists them from the
    most accurate down (points that fall together stay told apart there)."""
    plt = pyplot()
    rows = results["summary"]
    per_col = 22
    fig, ax = plt.subplots(
        figsize=(
            min(MAX_WIDTH, 6.2 + 2.3 * math.ceil(len(rows) / per_col)),
            max(4.4, 0.2 * min(len(rows), per_col) + 1.4),
        ),
        layout="constrained",
    )
    handles = []
    width = max(len(r["activation"]) for r in rows) if rows else 0
    ms = all(r["epoch_seconds"] < 1 for r in rows if finite(r["epoch_seconds"]))  # 1.2 ms reads better than 0.0012 s
    for i, r in enumerate(rows):
        st = style(i)
        h = ax.errorbar(
            r["epoch_seconds"] * (1000 if ms else 1),
            r["mean"],
            yerr=r["std"] if finite(r["std"]) else 0,
            fmt=st["marker"],
            color=st["color"],
            ms=7,
            capsize=3,
            alpha=0.9,
            label=f"{r['activation']:<{width}}  {_f(r['mean'])}",
        )
        handles.append((-r["mean"] if finite(r["mean"]) else math.inf, i, h))
    ax.set_xlabel(f"{'milliseconds' if ms else 'seconds'} per epoch (training pass)", fontsize=TEXT)
    ax.set_ylabel("test accuracy (mean ± std over seeds)", fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)
    ax.set_title("Time vs accuracy", fontsize=TITLE)
    ax.grid(alpha=0.3)
    ordered = [h for *_, h in sorted(handles, key=lambda t: t[:2])]
    fig.legend(
        ordered,
        [h.get_label() for h in ordered],
        loc="outside right upper",
        ncols=math.ceil(len(rows) / per_col),
        prop={"family": "monospace", "size": TEXT},
        title="test accuracy",
        title_fontsize=TEXT,
        frameon=False,
    )
    return _save(fig, path)


def diagnostics_table(results: dict[str, Any]) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """(activations, slots, {measure: matrix activations x slots}) averaged over seeds."""
    groups = _by_activation(results)
    slots: list[str] = []
    for runs in groups.values():
        for r in runs:
            for s in r.get("diagnostics", {}):
                if s not in slots:
                    slots.append(s)
    acts = list(groups)
    mats = {}
    for key, _ in DIAG_PANELS:
        m = np.full((len(acts), len(slots)), np.nan)
        for i, a in enumerate(acts):
            for j, s in enumerate(slots):
                v = [r["diagnostics"][s][key] for r in groups[a] if s in r.get("diagnostics", {})]
                v = [x for x in v if finite(x)]
                if v:
                    m[i, j] = float(np.mean(v))
        mats[key] = m
    return acts, slots, mats


def plot_diagnostics(results: dict[str, Any], path: Path) -> Path:
    """One heatmap per measure, two per row (one per row for many slots), numbers in the cells."""
    plt = pyplot()
    acts, slots, mats = diagnostics_table(results)
    label_in = 0.09 * max((len(a) for a in acts), default=4) + 0.5
    panel_w = label_in + 0.62 * max(len(slots), 2) + 0.9
    cols = 2 if 2 * panel_w <= MAX_WIDTH else 1
    rows = math.ceil(len(DIAG_PANELS) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * panel_w, rows * (0.3 * len(acts) + 1.4) + 0.4), squeeze=False, layout="constrained"
    )
    for ax, (key, title) in zip(axes.flat, DIAG_PANELS, strict=False):  # an odd panel count leaves one axis
        m = mats[key]
        bounded = key in ("dead", "saturated")
        im = ax.imshow(m, aspect="auto", cmap="viridis", vmin=0 if bounded else None, vmax=1 if bounded else None)
        ax.set_title(title, fontsize=TITLE)
        ax.set_xticks(range(len(slots)), slots, rotation=30, ha="right", rotation_mode="anchor", fontsize=TEXT)
        ax.set_yticks(range(len(acts)), acts, fontsize=TEXT, family="monospace")
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if math.isfinite(m[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{m[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=TEXT,
                        color="w" if im.norm(m[i, j]) < 0.6 else "k",
                    )
        fig.colorbar(im, ax=ax, fraction=0.06, pad=0.02).ax.tick_params(labelsize=TEXT)
    fig.suptitle("Per-slot diagnostics on validation data after training (mean over seeds)", fontsize=TITLE)
    return _save(fig, path)


def _summary_row(r: dict[str, Any], base: str, seeds: int) -> str:
    """One activation's row of the test-accuracy table."""
    cls = {"win": "better", "loss": "worse"}.get(r["outcome"], "")
    p = (
        "baseline"
        if r["activation"] == base
        else f"{_pv(r['p_value'])} / {_pv(r['p_holm'])}"
        + (f" {NOT_CONVERGED}" if r["outcome"] == NOT_CONVERGED else " *" if r["significant"] else "")
    )
    return (
        f"<tr class='{cls}'><td>{html.escape(r['activation'])}</td>"
        f"<td class='{cls}'>{_f(r['mean'])} ± {_f(r['std'])}</td>"
        f"<td>[{_f(r['ci_low'])}, {_f(r['ci_high'])}]</td><td>{_f(r['test_f1'])}</td><td>{_f(r['test_auc'])}</td>"
        f"<td>{_f(r['test_loss'])}</td><td>{_f(r['epoch_seconds'])}</td><td>{_f(r['epochs_run'], '.1f')}</td>"
        f"<td>{_f(r['train_test_gap'], '+.3f')}</td><td>{r['diverged']}/{seeds}</td><td>{p}</td></tr>"
    )


def _diagnostics_html(results: dict[str, Any]) -> str:
    """The diagnostics table: per activation and slot, dead / saturated / std."""
    acts, slots, mats = diagnostics_table(results)
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td>"
        + "".join(
            f"<td>{_f(mats['dead'][i, j], '.2f')} / {_f(mats['saturated'][i, j], '.2f')} / "
            f"{_f(mats['std'][i, j], '.2f')}</td>"
            for j in range(len(slots))
        )
        + "</tr>"
        for i, a in enumerate(acts)
    )
    head = "".join(f"<th>{html.escape(s)}</th>" for s in slots)
    return f'<div class="scroll"><table><tr><th>activation</th>{head}</tr>{rows}</table></div>'


def why_text(results: dict[str, Any]) -> tuple[str, list[str]] | None:
    """The best activation (by mean test accuracy) other than the baseline against the baseline:
    the heading, the sentences of :func:`actlab.training.why.explain` and those on their shapes
    (:func:`actlab.surrogate.shape.shape_sentences`); None with one activation."""
    base = results["config"]["baseline"]
    others = [r for r in results["summary"] if r["activation"] != base]
    if not others:
        return None
    best = max(others, key=lambda r: r["mean"])["activation"]
    groups = _by_activation(results)
    diag = {a: [r.get("diagnostics", {}) for r in groups[a]] for a in (best, base)}
    said = explain(diag[best], diag[base], best, base) + shape_sentences(best, base, best, base)
    return f"{best} against {base}", said


def _why_html(results: dict[str, Any]) -> str:
    why = why_text(results)
    if why is None:
        return ""
    head, lines = why
    items = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    return f"<p>What differs most, {html.escape(head)} (the same seeds; a description, not a test):</p><ul>{items}</ul>"


def write_report(results: dict[str, Any], out: str | Path) -> Path:
    """Draw the three figures and write ``report.html`` into ``out``; return the page. A comparison
    over several tasks gets its cross-task page (:func:`write_tasks_report`)."""
    out = Path(out)
    if "cross_task" in results:
        return write_tasks_report(results, out)
    figs = {
        "curves": plot_curves(results, out / "curves.png"),
        "time_accuracy": plot_time_accuracy(results, out / "time_accuracy.png"),
        "diagnostics": plot_diagnostics(results, out / "diagnostics.png"),
    }
    cfg = results["config"]
    base = cfg["baseline"]
    rows = "".join(_summary_row(r, base, cfg["seeds"]) for r in results["summary"])
    ds, t, sizes = results["dataset"], cfg["train"], results["dataset"]["sizes"]
    converging = convergence_note(results.get("convergence"), [r["outcome"] for r in results["summary"]])
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>actlab compare: {html.escape(ds["name"])}</title>
<style>{_CSS}</style></head><body>
<h1>Activation comparison on {html.escape(ds["name"])} with {html.escape(cfg["model"])}</h1>
<p class="sub">{_n(cfg["seeds"], "seed")} per activation; {sizes["train"]} train / {sizes["val"]} validation /
{sizes["test"]} test examples; {html.escape(t["optimizer"])}, batch {t["batch_size"]},
up to {_n(t["epochs"], "epoch")}, early stopping on {html.escape(t["monitor"])} (patience {t["patience"]}),
weights of the best validation epoch tested.</p>
<h2>Test accuracy</h2>
<div class="scroll"><table id="summary"><tr><th>activation</th><th>accuracy mean ± std</th><th>95% CI</th>
<th>F1</th><th>AUC</th><th>loss</th><th>s/epoch</th><th>epochs</th><th>train−test gap</th><th>diverged</th>
<th>p raw / Holm vs {html.escape(base)}</th></tr>
{rows}</table></div>
<p>{html.escape(results["test"])}; * marks p &lt; {results["alpha"]} after correction. Green: significantly better
than the baseline, red: significantly worse.{converging}
{html.escape(CI_NOTE)}.</p>
<h2>Learning curves</h2>{_img(figs["curves"], "train vs validation accuracy per epoch")}
<h2>Time and accuracy</h2>{_img(figs["time_accuracy"], "seconds per epoch vs test accuracy")}
<h2>Why: diagnostics per slot</h2>{_why_html(results)}{_img(figs["diagnostics"], "diagnostics per slot")}
{feature_map_section(results.get("feature_map"), out / "map.png", "mean test accuracy")}
{_diagnostics_html(results)}
<p>Cells: dead-unit fraction / saturated fraction / activation std, on validation data after training.</p>
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
<details><summary>Dataset</summary><pre>{html.escape(json.dumps(ds, indent=1, default=str))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)


def write_tasks_report(results: dict[str, Any], out: Path) -> Path:
    """The page of a comparison over several tasks: the cross-task table, the critical-difference
    diagram and a link to each task's own report (in its sub-folder)."""
    cfg, cross = results["config"], results["cross_task"]
    cd = _save(cd_figure(cross), out / "critical_difference.png")
    t = cfg["train"]
    links = "".join(
        f"<li><a href='{html.escape(task['folder'])}/report.html'>{html.escape(task['task'])}</a>: "
        f"{html.escape(task['results']['dataset']['name'])}</li>"
        for task in results["tasks"]
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>actlab compare: {len(results["tasks"])} tasks</title>
<style>{_CSS}</style></head><body>
<h1>Activation comparison across {_n(len(results["tasks"]), "task")}</h1>
<p class="sub">{_n(cfg["seeds"], "seed")} per activation and task, the same on every task;
{html.escape(t["optimizer"])}, batch {t["batch_size"]}, up to {_n(t["epochs"], "epoch")};
weights of the best validation epoch tested.</p>
<h2>Ranks across tasks</h2>
{ranking_html(cross["tasks"], cross["means"], cross)}
<h2>Critical-difference diagram</h2>{_img(cd, "average ranks and the critical difference")}
<p>Functions joined by a bar do not differ significantly (Nemenyi, alpha {cross["alpha"]}; Demšar 2006).</p>
<h2>Each task</h2><ul>{links}</ul>
<details><summary>Configuration</summary><pre>{html.escape(json.dumps(cfg, indent=1))}</pre></details>
</body></html>"""
    return write_text_atomic(out / "report.html", page)
