"""Wall time of one pack at each of evolve's fidelities at the demo's settings, in this process
(one torch thread): 12 candidates for 2 epochs on half the training split, 4 for 4 epochs, 3 for
10 (MNIST-1D, 2,000 training examples, the MLP), as a fitness training trains them.

    .venv/bin/python benchmarks/evolve_packs.py [--repeat 7] [--parts] [--against CHECKOUT]

Prints the median of ``--repeat`` trainings of each pack. Run it with ``PYTHONPATH`` set to
another checkout, alternately, to compare two versions of the packed trainer side by side; or,
where the machine's speed drifts more than the difference, ``--against CHECKOUT``: that
checkout's ``actlab/training/population.py`` is loaded beside this one's, and each pack trains
with the two in turn (which goes first alternates), ``--repeat`` times each, in this process.
``--parts`` also times the packed trainer's parts (its private functions, wrapped): the training
epochs, validation after each epoch (AUC included, and apart) and the rest (building the members,
scoring), in the training of median wall time.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_line  # noqa: E402

import actlab.execution.worker as worker  # noqa: E402
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


def other_trainer(checkout: str):
    """``train_population`` of ``checkout``'s ``actlab/training/population.py``, loaded as a module
    of its own (on this checkout's other modules)."""
    spec = importlib.util.spec_from_file_location("_population_against", Path(checkout) / PACKED_TRAINER)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no {PACKED_TRAINER} in {checkout}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.train_population


PACKED_TRAINER = "actlab/training/population.py"


def against(config: EvolveConfig, checkout: str, repeat: int) -> None:
    """Each pack trained with ``checkout``'s packed trainer and this one's in turn: medians and ratio."""
    trainers = {"against": other_trainer(checkout), "this": worker.train_population}
    print(f"packed trainer of {checkout} ('against') and of this checkout ('this'), in turn")
    for n, fidelity in PACKS:
        part = units(config, n, fidelity)
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for r in range(repeat):
            for name in list(trainers)[:: 1 if r % 2 == 0 else -1]:
                worker.train_population = trainers[name]
                t = time.perf_counter()
                train_units(part)
                times[name].append(time.perf_counter() - t)
        worker.train_population = trainers["this"]
        old, new = statistics.median(times["against"]), statistics.median(times["this"])
        wins = sum(a > b for a, b in zip(times["against"], times["this"], strict=True))
        epochs = config.fidelity_levels()[fidelity][0]
        print(
            f"{n:>2} members, {epochs:g} epochs: against {1000 * old:.0f} ms, this {1000 * new:.0f} ms, "
            f"{old / new:.3f}x as fast (faster in {wins} of {repeat} pairs)"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="trainings of each pack (default 7)")
    ap.add_argument("--parts", action="store_true", help="also time the training epochs, validation and AUC")
    ap.add_argument("--against", metavar="CHECKOUT", help="alternate with this checkout's packed trainer")
    a = ap.parse_args()
    spent = time_parts() if a.parts else None
    torch.set_num_threads(1)
    print(machine_line("1 torch thread"))
    config = EvolveConfig(dataset="mnist1d", population=24, fidelities=[[2, 0.5], [4, 1.0], [10, 1.0]])
    train_units(units(config, 2, 0))  # data loaded, first optimizer built
    if a.against:
        against(config, a.against, a.repeat)
        return 0
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
