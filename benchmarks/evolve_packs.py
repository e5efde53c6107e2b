"""Wall time of one pack at each of evolve's fidelities at the demo's settings, in this process
(one torch thread): 12 candidates for 2 epochs on half the training split, 4 for 4 epochs, 3 for
10 (MNIST-1D, 2,000 training examples, the MLP), as a fitness training trains them.

    .venv/bin/python benchmarks/evolve_packs.py [--repeat 7] [--parts]

Prints the median of ``--repeat`` trainings of each pack. Run it with ``PYTHONPATH`` set to
another checkout, alternately, to compare two versions of the packed trainer side by side.
``--parts`` also times the packed trainer's parts (its private functions, wrapped): the training
epochs, validation after each epoch (AUC included, and apart) and the rest (building the members,
scoring), in the training of median wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line  # noqa: E402

import actlab.training.metrics as metrics  # noqa: E402
import actlab.training.population as population  # noqa: E402
from actlab.execution import train_units  # noqa: E402
from actlab.studies.evolve.config import EvolveConfig  # noqa: E402
from actlab.studies.evolve.fitness import make_task, plan_for  # noqa: E402

FUNCTIONS = [
    "x*sigmoid(x)", "tanh(x)", "max(x, 0)", "x + sin(x)", "x*tanh(x)", "abs(x)",
    "sin(x)", "x/(1+abs(x))", "max(x, 0.1*x)", "x*x", "exp(-x*x)", "log(1+exp(x))",
]  # fmt: skip
PACKS = [(12, 0), (4, 1), (3, 2)]  # (members, fidelity)


def units(config: EvolveConfig, n: int, fidelity: int) -> list[dict]:
    return [
        dict(make_task(config, plan_for("single", {"all": f}), fidelity=fidelity), name=f"u{i}")
        for i, f in enumerate(FUNCTIONS[:n])
    ]


PARTS = {"epochs": (population, "_train_epoch"), "validation": (population, "_scores"), "AUC": (metrics, "_auc_ovr")}


def time_parts() -> dict[str, float]:
    """Wrap the trainer's parts (:data:`PARTS`; validation's logits count with it) so that each
    adds its seconds to the dict returned."""
    spent = dict.fromkeys(PARTS, 0.0)
    wrapped = {**PARTS, "logits": (population, "_logits")}
    for name, (module, attr) in wrapped.items():
        f = getattr(module, attr)

        def timed(*args, _f=f, _name="validation" if name == "logits" else name, **kwargs):
            t = time.perf_counter()
            try:
                return _f(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - t

        setattr(module, attr, timed)
    return spent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="trainings of each pack (default 7)")
    ap.add_argument("--parts", action="store_true", help="also time the training epochs, validation and AUC")
    a = ap.parse_args()
    spent = time_parts() if a.parts else None
    torch.set_num_threads(1)
    print(machine_line("1 torch thread"))
    config = EvolveConfig(dataset="mnist1d", population=24, fidelities=[[2, 0.5], [4, 1.0], [10, 1.0]])
    train_units(units(config, 2, 0))  # data loaded, first optimizer built
    for n, fidelity in PACKS:
        part = units(config, n, fidelity)
        runs = []
        for _ in range(a.repeat):
            if spent is not None:
                spent.update(dict.fromkeys(spent, 0.0))
            t = time.perf_counter()
            train_units(part)
            runs.append((time.perf_counter() - t, dict(spent or {})))
        epochs = config.fidelity_levels()[fidelity][0]
        wall, parts = sorted(runs, key=lambda r: r[0])[len(runs) // 2]
        line = f"{n:>2} members, {epochs:g} epochs: {1000 * wall:6.0f} ms (median of {a.repeat})"
        if parts:
            rest = wall - parts["epochs"] - parts["validation"]
            line += (
                f"; epochs {1000 * parts['epochs']:.0f} ms, validation {1000 * parts['validation']:.0f} ms"
                f" (AUC {1000 * parts['AUC']:.0f} ms), the rest {1000 * rest:.0f} ms"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
