"""Wall time of one pack at each of evolve's fidelities at the demo's settings, in this process
(one torch thread): 12 candidates for 2 epochs on half the training split, 4 for 4 epochs, 3 for
10 (MNIST-1D, 2,000 training examples, the MLP), as a fitness training trains them.

    .venv/bin/python benchmarks/evolve_packs.py [--repeat 7]

Prints the median of ``--repeat`` trainings of each pack. Run it with ``PYTHONPATH`` set to
another checkout, alternately, to compare two versions of the packed trainer side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="trainings of each pack (default 7)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(machine_line("1 torch thread"))
    config = EvolveConfig(dataset="mnist1d", population=24, fidelities=[[2, 0.5], [4, 1.0], [10, 1.0]])
    train_units(units(config, 2, 0))  # data loaded, first optimizer built
    for n, fidelity in PACKS:
        part = units(config, n, fidelity)
        walls = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            train_units(part)
            walls.append(time.perf_counter() - t)
        epochs = config.fidelity_levels()[fidelity][0]
        print(f"{n:>2} members, {epochs:g} epochs: {1000 * statistics.median(walls):6.0f} ms (median of {a.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
