"""``actlab evolve``: evolve new activation functions with genetic programming."""

from __future__ import annotations

from actlab.api._evolve import STUDY, config_from_args, run
from actlab.api._options import add_options

DESCRIPTION = """\
Genetic programming builds activation functions as expression trees over x from standard
activations and binary operators; fitness is the validation accuracy after a short training.
Modes: single (one function for every layer), triple (input, hidden and output functions in
one individual), coevolution (three populations, each scored with the best of the others).
A checkpoint is written after every generation; --resume continues a killed run. At the end
the best function is compared on test with ReLU and the best catalogue function.

Examples:
  actlab evolve --dataset mnist1d --generations 5 --population 16 --out evolve-out
  actlab evolve --mode coevolution --dataset iris --workers 4
  actlab evolve --out evolve-out --resume
  actlab evolve --dask tcp://scheduler:8786 --population 64 --generations 20
Then: actlab show evolve-out/best.json; actlab.load('evolve-out/best.json') in Python."""


def add(p) -> None:
    p.description = DESCRIPTION
    add_options(p, STUDY)
    p.set_defaults(func=cmd_evolve)


def cmd_evolve(args) -> int:
    result = run(args)
    print(result.table())
    out = result.out
    print(f"results: {out / 'results.json'}\nbest:    {out / 'best.json'}\nreport:  {out / 'report.html'}")
    return 0


__all__ = ["STUDY", "add", "cmd_evolve", "config_from_args"]
