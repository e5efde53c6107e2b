"""``actlab screen``: rank activation functions without training them, train the promising ones."""

from __future__ import annotations

from actlab.api._options import add_options
from actlab.api._screen import STUDY, config_from_args, run

_config = config_from_args  # its earlier name here

DESCRIPTION = """\
Rank every candidate by a surrogate model in seconds: features of the function at the
model's initialisation (its curve, the Fisher information's spectrum on one batch, effective
ranks, gradient norms) and a regressor fit on functions already trained. Trains the 8 usual
functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh), then the candidates
predicted best (the surrogate fit again after each round) and a few random ones, and says how
well prediction and training agree (Spearman's rank correlation). Writes results.json,
predicted.png, map.png and report.html to --out. Rerunning the same command on the same --out
trains nothing twice.

Examples:
  actlab screen --dataset mnist1d --model mlp --candidates all --out screen-out
  actlab screen --dataset digits --candidates all --train-top 12 --train-random 6 --seeds 3
  actlab screen --candidates 'relu,gelu,mish,expr:x*tanh(x),expr:max(x, sin(x))' --train-top 2"""


def add(p) -> None:
    p.description = DESCRIPTION
    add_options(p, STUDY)
    p.set_defaults(func=cmd_screen)


def cmd_screen(args) -> int:
    result = run(args)
    print(result.table())
    print(f"results: {result.out / 'results.json'}\nreport:  {result.out / 'report.html'}")
    return 0


__all__ = ["STUDY", "add", "cmd_screen", "config_from_args"]
