"""Evolution with and without the surrogate: the best fitness reached per number of trainings.

``actlab evolve`` on MNIST-1D (the MLP, 2,000 training examples, 4-epoch fitness), population 16,
10 generations, 3 evolution seeds, ``--surrogate 0`` (every offspring trains) against
``--surrogate 4`` (4x the offspring are varied, the 15 predicted best trained, a quarter of them
drawn at random). Both train the same number of candidates per generation, so the budget is the
same; printed: the hall of fame's best fitness and the mean of its top 5 after every generation
(mean over the seeds), and how well the surrogate ranked what it chose (Spearman of predicted vs
trained fitness, mean over generations and seeds).

    .venv/bin/python benchmarks/surrogate_evolution.py            # ~5 min on 2 cores
    .venv/bin/python benchmarks/surrogate_evolution.py --quick    # ~1 min
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import OtherLoad, machine_line

ACTLAB = [sys.executable, "-m", "actlab.cli"]


def run(out: Path, seed: int, surrogate: int, quick: bool) -> dict:
    cmd = [
        *ACTLAB,
        "evolve",
        "--dataset",
        "mnist1d",
        "--limit",
        "1000" if quick else "2000",
        "--population",
        "16",
        "--generations",
        "4" if quick else "10",
        "--epochs",
        "2" if quick else "4",
        "--seed",
        str(seed),
        "--surrogate",
        str(surrogate),
        "--final-seeds",
        "0",
        "--quiet",
        "--out",
        str(out),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"evolve failed:\n{r.stderr[-3000:]}")
    return json.loads((out / "results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    print(machine_line("1 process, 1 thread"))
    load = OtherLoad()
    curves: dict[int, list[list[float]]] = {0: [], 4: []}
    top5: dict[int, list[float]] = {0: [], 4: []}
    rho: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(a.seeds):
            for s in (0, 4):
                res = run(Path(tmp) / f"s{s}-{seed}", seed, s, a.quick)
                curves[s].append([h["hof_best"] for h in res["history"]])
                top5[s].append(statistics.mean(h["fitness"] for h in res["hall_of_fame"][:5]))
                rho += [
                    h["surrogate"]["spearman"]
                    for h in res["history"]
                    if h.get("surrogate") and h["surrogate"]["spearman"] is not None
                ]
                trained = [h["evaluations"] for h in res["history"]]
                print(
                    f"seed {seed}, --surrogate {s}: trained {sum(trained)}, hall-of-fame best "
                    f"{curves[s][-1][-1]:.4f}, top-5 mean {top5[s][-1]:.4f}",
                    flush=True,
                )
    n = len(curves[0][0])
    print("\n| generation | best, no surrogate | best, --surrogate 4 |")
    print("|---|---|---|")
    for g in range(n):
        print(
            f"| {g} | {statistics.mean(c[g] for c in curves[0]):.4f} | {statistics.mean(c[g] for c in curves[4]):.4f} |"
        )
    print(
        f"\ntop-5 mean fitness at the end: {statistics.mean(top5[0]):.4f} without, {statistics.mean(top5[4]):.4f} with "
        f"(over {a.seeds} seeds)"
    )
    if rho:
        print(
            f"surrogate's rank correlation with the trained fitness of what it chose: mean {statistics.mean(rho):+.2f} "
            f"over {len(rho)} generations"
        )
    print(load.line())


if __name__ == "__main__":
    main()
