"""Study throughput: search trials per hour and evolution evaluations per hour, one by one vs packed
(the population trainer), in one process with one thread.

    .venv/bin/python benchmarks/throughput.py            # the table of RESULTS.md (~3 min)
    .venv/bin/python benchmarks/throughput.py --quick    # a smoke run

Search: `actlab search` on digits, a 5-layer MLP of width 64, sipper48 candidates, TPE, no
pruning (so both runs train every trial for all epochs), 10 epochs, N trials; `--pack 1` vs
`--pack 8`. Evolution: `actlab evolve` on MNIST-1D (2,000 training examples), population 32, 3
generations, the default fitness training (4 epochs, batch 32), `--pack 1` vs `--pack 32`; the
rate counts candidates actually trained (cache hits and rejected candidates are free). Start-up
and the final test evaluations are excluded (final seeds 0). Different packing changes which
trials TPE proposes next (it sees results in batches), so the two search runs train different
plans; the rates, not the studies, are compared.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import OtherLoad, machine_line  # noqa: E402

from actlab.studies.evolve.config import EvolveConfig  # noqa: E402
from actlab.studies.evolve.run import run_evolution  # noqa: E402
from actlab.studies.search import SearchConfig  # noqa: E402
from actlab.studies.search.run import run_search  # noqa: E402
from actlab.training import TrainConfig  # noqa: E402


def search_rate(pack: int, trials: int, epochs: int, out: Path) -> float:
    cfg = SearchConfig(
        dataset="digits",
        layers=5,
        width=64,
        trials=trials,
        pruner="none",
        pack=pack,
        final_seeds=0,
        train=TrainConfig(epochs=epochs, patience=None, monitor="val_accuracy", threads=1),
    )
    t0 = time.perf_counter()
    run_search(cfg, out / f"search-{pack}", progress=False, final=False)
    return trials / (time.perf_counter() - t0) * 3600


def evolve_rate(pack: int, population: int, generations: int, out: Path) -> tuple[float, int]:
    cfg = EvolveConfig(dataset="mnist1d", population=population, generations=generations, final_seeds=0, pack=pack)
    t0 = time.perf_counter()
    res = run_evolution(cfg, out / f"evolve-{pack}", progress=False, final=False)
    seconds = time.perf_counter() - t0
    trained = res["totals"]["evaluations"]
    return trained / seconds * 3600, trained


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--population", type=int, default=32)
    ap.add_argument("--generations", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.trials, a.epochs, a.population, a.generations = 16, 3, 16, 2
    torch.set_num_threads(1)
    print(machine_line("1 thread"))
    load = OtherLoad()
    out = Path(tempfile.mkdtemp(prefix="actlab-throughput-"))
    try:
        s1, s8 = search_rate(1, a.trials, a.epochs, out), search_rate(8, a.trials, a.epochs, out)
        (e1, n1), (e32, n32) = (
            evolve_rate(1, a.population, a.generations, out),
            evolve_rate(32, a.population, a.generations, out),
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"\n{'study':<44} {'one by one /h':>14} {'packed /h':>10} {'ratio':>6}")
    print(f"{f'search trials (digits, {a.trials} trials, pack 8)':<44} {s1:>14.0f} {s8:>10.0f} {s8 / s1:>5.1f}x")
    print(
        f"{f'evolve evaluations (mnist1d, pop {a.population}, pack 32)':<44} {e1:>14.0f} {e32:>10.0f} {e32 / e1:>5.1f}x"
    )
    print(f"(evolution trained {n1} and {n32} candidates; the same runs, the same candidates)")
    print(load.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
