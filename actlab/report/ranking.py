"""Functions ranked across tasks, as report pages show them: the critical-difference diagram
(Demšar 2006) and the tables of a ranking (:func:`actlab.stats.ranking`) and of a transfer
(:func:`actlab.execution.transfer.transfer_table`)."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from actlab.execution.transfer import ranking_note
from actlab.report._html import _f, _pv
from actlab.report._style import TEXT, TITLE, figure

OUTCOME_CLASS = {"win": "better", "loss": "worse"}


def cd_points(rank: Mapping[str, Any]) -> list[tuple[str, float, float, str]]:
    """Where each function's label goes: ``(name, average rank, y, side)``, best first; the better
    half labelled on the left, the rest on the right, each further down than the one nearer the axis."""
    order = sorted(zip(rank["average_rank"], rank["functions"], strict=True))
    half = math.ceil(len(order) / 2)
    out = []
    for i, (r, name) in enumerate(order):
        left = i < half
        depth = i if left else len(order) - 1 - i
        out.append((name, r, -0.6 - 0.45 * depth, "left" if left else "right"))
    return out


def cd_figure(rank: Mapping[str, Any]):
    """The critical-difference diagram: each function at its average rank (1 = best, on the left),
    the Nemenyi critical difference as a bar above the axis, and a thick line joining the functions
    whose ranks lie within it (no difference among them is significant)."""
    k = len(rank["functions"])
    points = cd_points(rank)
    depth = max(len(points) - math.ceil(k / 2), math.ceil(k / 2))
    fig = figure(figsize=(7.5, 1.6 + 0.3 * depth))
    ax = fig.add_subplot()
    lo, hi = 1, max(k, 2)
    ax.hlines(0, lo, hi, color="k", lw=1)
    for t in range(lo, hi + 1):
        ax.vlines(t, 0, 0.1, color="k", lw=1)
        ax.text(t, 0.18, str(t), ha="center", va="bottom", fontsize=TEXT)
    for name, r, y, side in points:
        end = lo - 0.1 if side == "left" else hi + 0.1
        ax.plot([r, r, end], [0, y, y], color="k", lw=0.8)
        ax.text(
            end,
            y,
            f"{name} ({r:.2f}) " if side == "left" else f" {name} ({r:.2f})",
            ha="right" if side == "left" else "left",
            va="center",
            fontsize=TEXT,
            family="monospace",
        )
    if rank.get("cd"):
        ax.plot([lo, lo + rank["cd"]], [0.75, 0.75], color="k", lw=1.5)
        ax.text(lo + rank["cd"] / 2, 0.85, f"CD = {rank['cd']:.2f}", ha="center", va="bottom", fontsize=TEXT)
    average = dict(zip(rank["functions"], rank["average_rank"], strict=True))
    for i, group in enumerate(rank.get("groups") or []):
        rs = [average[n] for n in group]
        y = -0.25 - 0.12 * i
        ax.plot([min(rs) - 0.03, max(rs) + 0.03], [y, y], color="#d62728", lw=3, solid_capstyle="round")
    ax.set_xlim(lo - 0.1 - 0.25 * hi, hi + 0.1 + 0.25 * hi)
    ax.set_ylim(min(y for *_, y, _ in points) - 0.3, 1.2)
    ax.axis("off")
    title = "Average rank across tasks (1 = best)"
    if rank.get("friedman"):
        title += f"; Friedman p = {_pv(rank['friedman']['p_value'])}"
    ax.set_title(title, fontsize=TITLE)
    return fig


def ranking_html(tasks: Sequence[str], means: Sequence[Sequence[float]], rank: Mapping[str, Any]) -> str:
    """The cross-task table: per task each function's mean test accuracy and rank, its average
    rank and Holm's post-hoc against the reference, then a line on Friedman's test."""
    post = {v["function"]: v for v in rank["versus_reference"]}
    head = "".join(f"<th>{html.escape(t)}</th>" for t in tasks)
    rows = []
    for j, name in enumerate(rank["functions"]):
        v = post.get(name)
        cls = OUTCOME_CLASS.get(v["outcome"], "") if v else ""
        verdict = "reference" if name == rank["reference"] else (f"{_pv(v['p_holm'])} {v['outcome']}" if v else "")
        cells = "".join(f"<td>{_f(means[t][j])} ({rank['ranks'][t][j]:g})</td>" for t in range(len(tasks)))
        rows.append(
            f"<tr class='{cls}'><td>{html.escape(name)}</td>{cells}<td class='{cls}'>"
            f"{_f(rank['average_rank'][j], '.2f')}</td><td>{verdict}</td></tr>"
        )
    return (
        f"<div class='scroll'><table class='ranking'><tr><th>function</th>{head}<th>average rank</th>"
        f"<th>Holm p vs {html.escape(str(rank['reference']))}</th></tr>{''.join(rows)}</table></div>"
        f"<p>{html.escape(ranking_note(rank, len(tasks)))}.</p>"
    )


def transfer_html(table: Mapping[str, Any]) -> str:
    """A transfer's tables: per task each function against the reference, then the ranking."""
    parts = []
    for task in table["tasks"]:
        rows = "".join(
            f"<tr class='{OUTCOME_CLASS.get(r['outcome'], '')}'><td>{html.escape(r['function'])}</td>"
            f"<td>{_f(r['mean'])} ± {_f(r['std'])}</td><td>[{_f(r['ci_low'])}, {_f(r['ci_high'])}]</td>"
            f"<td>{_verdict(r)}</td></tr>"
            for r in task["rows"]
        )
        parts.append(
            f"<h3>{html.escape(task['task'])}</h3><div class='scroll'><table><tr><th>function</th>"
            f"<th>test accuracy mean ± std</th><th>95% CI</th><th>p raw / Holm vs "
            f"{html.escape(table['reference'])}</th></tr>{rows}</table></div>"
        )
    means = [[r["mean"] for r in t["rows"]] for t in table["tasks"]]
    parts.append(ranking_html([t["task"] for t in table["tasks"]], means, table["ranking"]))
    seeds = ", ".join(map(str, table["seeds"]))
    return f"<p class='sub'>Seeds {seeds} on every task. {html.escape(table['test'])}.</p>" + "".join(parts)


def _verdict(row: Mapping[str, Any]) -> str:
    if row["outcome"] == "reference":
        return "reference"
    return f"{_pv(row['p_value'])} / {_pv(row['p_holm'])} {html.escape(row['outcome'])}"


__all__ = ["cd_figure", "cd_points", "ranking_html", "transfer_html"]
