"""``actlab compare``: train every (activation, seed) pair and compare them properly."""

from __future__ import annotations

import textwrap

from actlab.api._compare import ARTICLES, PRESETS, STUDY, config_from_args, run
from actlab.api._options import add_options

DESCRIPTION = """\
Train every (activation, seed) pair and compare: test accuracy mean ± std, 95% CI, time per
epoch, over-fitting (train - test gap), a permutation test against the baseline. Writes
results.json, curves.png, time_accuracy.png, diagnostics.png and report.html to --out.
Rerunning the same command on the same --out skips the runs already finished; several
processes on one --out split the runs between them. With --tasks, each task's comparison goes
to its own sub-folder of --out, and the top folder ranks the activations across the tasks
(average ranks, Friedman test, critical-difference diagram critical_difference.png).

Examples:
  actlab compare --dataset mnist1d --model mlp --activations relu,selu,tanh,sigmoid,swish,mish --seeds 5
  actlab compare --preset selu-vs-relu --epochs 10
  actlab compare --dataset csv:my.csv --target label --activations relu,gelu
  actlab compare --preset selu-vs-relu --workers 2
  actlab compare --tasks iris,wine,breast_cancer,digits --activations relu,tanh,elu,selu --seeds 3

Presets (experiments of the articles actlab started from):
"""


def add(p) -> None:
    p.description = DESCRIPTION + "\n".join(
        textwrap.fill(v["help"], 78, initial_indent=f"  {k:<18} ", subsequent_indent=" " * 21, break_on_hyphens=False)
        for k, v in PRESETS.items()
    )
    add_options(p, STUDY)
    p.set_defaults(func=cmd_compare)


def cmd_compare(args) -> int:
    result = run(args)
    print(result.table())
    print(f"results: {result.out / 'results.json'}\nreport:  {result.out / 'report.html'}")
    return 0


__all__ = ["ARTICLES", "PRESETS", "STUDY", "add", "cmd_compare", "config_from_args"]
