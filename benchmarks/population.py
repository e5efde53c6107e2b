"""Population training: K MLPs, each with its own activation function, trained together in one
packed model (actlab.training.population) vs one after another with actlab's trainer.

    .venv/bin/python benchmarks/population.py                # the table of RESULTS.md
    .venv/bin/python benchmarks/population.py --quick        # a smoke run, ~30 s
    .venv/bin/python benchmarks/population.py --ks 32 --widths 64 --datasets mnist1d --equivalence 10
    .venv/bin/python benchmarks/population.py --stops         # re-packing after early stops
    .venv/bin/python benchmarks/population.py --fixed-cost    # a pack's time outside its training passes

Each cell trains K models (3-layer MLP, the given width, Adam, batch 128 on Fashion-MNIST and 32
on MNIST-1D, 2 epochs, one thread) whose activations cycle through catalogue functions and
evolved expressions, so that almost every member has a different function. "one by one" is
measured on min(K, --sample) members spread evenly over the K (catalogue functions and
expressions alike) and scaled to K (the scaling is printed). The packed run trains all K. A
warm-up first runs every function once (a first call of an expression compiles it, a first call
of an operator initialises it: a cost of the process, not of a run). Both include per-epoch
validation and the final test scoring. The ratio is one-by-one time / packed time. "same fn"
packs K members that all use ReLU and compares them with the same one-by-one time: what packing
gives when each slot applies one function instead of up to 24 (the cost of distinct functions).
Every row uses actlab's default optimizer (Adam's fused kernel, one by one and packed); "loop"
packs again with ``fused=False``, PyTorch's per-parameter loop (bit for bit equal to training
alone with it, in float32 too; see actlab.training.population).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import OtherLoad, machine_line  # noqa: E402

from actlab.data import load  # noqa: E402
from actlab.models import build  # noqa: E402
from actlab.training import TrainConfig, population, train  # noqa: E402
from actlab.training.population import train_population  # noqa: E402

FUNCTIONS = [
    "relu",
    "tanh",
    "elu",
    "selu",
    "gelu",
    "silu",
    "mish",
    "softplus",
    "sigmoid",
    "leaky_relu",
    "hard_swish",
    "softsign",
    "celu",
    "log_sigmoid",
    "tanhshrink",
    "relu6",
    "expr:max(x, x*tanh(x))",
    "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)",
    "expr:square(x) + 0.85",
    "expr:min(square(x), abs(x))",
    "expr:celu(x - 0.11)",
    "expr:softplus(abs(x))",
    "expr:x * erf(x)",
    "expr:max(x, sin(x))",
]


def plans(k: int) -> list[str]:
    return [FUNCTIONS[i % len(FUNCTIONS)] for i in range(k)]


def one_by_one(ps, data, cfg, opts) -> float:
    t0 = time.perf_counter()
    for p in ps:
        train(lambda p=p: build("mlp", data.input_shape, data.n_classes, p, **opts), data, cfg)
    return time.perf_counter() - t0


def packed(ps, data, cfg, opts) -> float:
    t0 = time.perf_counter()
    train_population(ps, data, cfg, opts)
    return time.perf_counter() - t0


def equivalence(seeds: int) -> None:
    """Packed with the fused kernel vs alone with PyTorch's loop (the strict reference), over seeds:
    the test accuracies of each function, their means and a permutation test."""
    from actlab.stats import mean_std_ci, permutation_test

    data = load("mnist1d", seed=0)
    fns = ["relu", "tanh", "expr:max(x, x*tanh(x))", "elu"]
    print(f"\nequivalence on mnist1d, width 64, 8 epochs, {seeds} seeds: packed (fused Adam) vs alone (loop Adam)")
    print(f"{'function':<26} {'alone mean':>10} {'packed mean':>11} {'max |diff|':>10} {'p':>6}")
    for fn in fns:
        alone, pack = [], []
        for s in range(seeds):
            base = {"epochs": 8, "batch_size": 32, "lr": 1e-3, "patience": None, "diagnostics": False, "threads": 1}
            base["seed"] = s
            r = train(
                lambda fn=fn: build("mlp", data.input_shape, data.n_classes, fn, width=64),
                data,
                TrainConfig(**base, fused=False),
            )
            alone.append(r.test["accuracy"])
            pack.append(
                train_population([fn, "relu"], data, TrainConfig(**base, fused=True), {"width": 64})[0].test["accuracy"]
            )
        diff = max(abs(a - b) for a, b in zip(alone, pack, strict=True))
        print(
            f"{fn:<26} {mean_std_ci(alone)[0]:>10.4f} {mean_std_ci(pack)[0]:>11.4f} {diff:>10.4f} "
            f"{permutation_test(alone, pack):>6.3f}"
        )


def stops(threads: int) -> None:
    """Members that stop early (patience 1): re-packing the survivors as soon as any member stops,
    once a quarter has, or never (the stopped ones ride along to the end), twice in turns."""
    data = load("mnist1d", seed=0)
    cfg = TrainConfig(
        epochs=8, batch_size=32, lr=3e-3, patience=1, monitor="val_accuracy", diagnostics=False, threads=threads
    )
    shares = {"any": 0.0, "a quarter": 0.25, "never": 2.0}
    times: dict[str, list[float]] = {name: [] for name in shares}
    packed(plans(4), data, cfg, {"width": 16})  # warm-up: imports, allocator
    for _ in range(2):
        for name, share in shares.items():
            population.REPACK_SHARE = share
            times[name].append(packed(plans(32), data, cfg, {"width": 64}))
    population.REPACK_SHARE = 0.0
    epochs = sorted(len(r.epochs) for r in train_population(plans(32), data, cfg, {"width": 64}))
    print(f"\nre-packing, mnist1d, K 32, width 64, patience 1, 8 epochs; members' epochs: {epochs}")
    for name, ts in times.items():
        print(f"re-pack when {name:<9} stopped: " + ", ".join(f"{t:.2f} s" for t in ts))


def fixed_cost(threads: int, rounds: int, limit: int) -> None:
    """A pack's fixed cost: the wall time of ``train_population`` outside its training passes
    (building the members, per-epoch validation, final scoring), K = 32 at width 64 on MNIST-1D
    (``limit`` examples: evolve's default is 2,000), one epoch, with the final scores of test and train and without them
    (``TrainConfig.final_scores``, off in evolve's fitness trainings; absent from code older than
    2026-12-07, whose line then says n/a). Medians over ``rounds``, the two settings in turn."""
    import statistics

    data = load("mnist1d", seed=0, limit=limit)
    base = {"epochs": 1, "batch_size": 32, "lr": 3e-3, "patience": None, "diagnostics": False, "threads": threads}
    settings = {"with final scores": {}}
    if any(f.name == "final_scores" for f in dataclasses.fields(TrainConfig)):
        settings["without (fitness)"] = {"final_scores": False}
    packed(plans(len(FUNCTIONS)), data, TrainConfig(**base), {"width": 16})  # warm-up
    got: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    for _ in range(rounds):
        for name, extra in settings.items():
            t0 = time.perf_counter()
            rs = train_population(plans(32), data, TrainConfig(**base, **extra), {"width": 64})
            wall = time.perf_counter() - t0
            got[name].append((wall, wall - rs[0].epochs[0]["seconds"]))
    n = len(data.train)
    print(f"\nfixed cost of a pack, mnist1d ({n:,} training examples), K 32, width 64, 1 epoch, median of {rounds}")
    for name in ("with final scores", "without (fitness)"):
        if name not in got:
            print(f"{name:<19} n/a in this code")
            continue
        wall, fixed = (statistics.median(v[i] for v in got[name]) for i in (0, 1))
        print(f"{name:<19} whole pack {wall:6.3f} s   outside the training pass {fixed:6.3f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ks", default="8,32,128")
    ap.add_argument("--widths", default="32,64,256")
    ap.add_argument("--datasets", default="mnist1d,fashion-mnist")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--sample", type=int, default=8, help="members trained one by one and scaled to K (default 8)")
    ap.add_argument("--limit", type=int, default=10000, help="training examples of Fashion-MNIST (default 10000)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--equivalence",
        type=int,
        default=0,
        metavar="SEEDS",
        help="also compare packed (fused) with alone (loop) test accuracies over SEEDS seeds",
    )
    ap.add_argument("--stops", action="store_true", help="only time re-packing the members that did not stop")
    ap.add_argument("--fixed-cost", action="store_true", help="only time a pack's work outside its training passes")
    ap.add_argument("--rounds", type=int, default=7, help="rounds of --fixed-cost (default 7; MNIST-1D --limit 2000)")
    a = ap.parse_args()
    if a.stops:
        stops(a.threads)
        return 0
    if a.fixed_cost:
        fixed_cost(a.threads, a.rounds, 2000 if a.limit == ap.get_default("limit") else a.limit)
        return 0
    if a.quick:
        a.ks, a.widths, a.datasets, a.epochs, a.sample, a.limit = "8,32", "64", "mnist1d", 1, 4, 2000
    torch.set_num_threads(a.threads)
    print(machine_line(f"{a.threads} thread(s)") + f"; {a.epochs} epochs, one by one on {a.sample} members scaled to K")
    load_ = OtherLoad()
    rows = []
    for ds in a.datasets.split(","):
        data = load(ds, seed=0, **({"limit": a.limit} if ds != "mnist1d" else {}))
        batch = 32 if ds == "mnist1d" else 128
        cfg = TrainConfig(
            epochs=a.epochs, batch_size=batch, lr=1e-3, patience=None, diagnostics=False, threads=a.threads
        )
        packed(plans(len(FUNCTIONS)), data, cfg, {"width": 16})  # warm-up: imports, allocator, every function
        for w in map(int, a.widths.split(",")):
            opts = {"width": w}
            for k in map(int, a.ks.split(",")):
                ps = plans(k)
                n = min(k, a.sample)
                single = one_by_one(ps[:: k // n][:n], data, cfg, opts) * k / n  # spread over the functions
                pack = packed(ps, data, cfg, opts)
                same = packed(["relu"] * k, data, cfg, opts)
                loop = packed(ps, data, dataclasses.replace(cfg, fused=False), opts)
                rows.append((ds, w, k, single, pack, single / pack, same, loop))
                print(
                    f"{ds:<14} width {w:>4}  K {k:>4}: one by one {single:8.2f} s  packed {pack:7.2f} s  "
                    f"x{single / pack:5.1f}  (same fn {same:7.2f} s, loop {loop:7.2f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"\n{'dataset':<14} {'width':>5} {'K':>4} {'one by one s':>13} {'packed s':>9} {'speed-up':>9} "
        f"{'same fn s':>10} {'speed-up':>9} {'loop s':>7} {'speed-up':>9}"
    )
    for ds, w, k, s, p, r, same, loop in rows:
        print(
            f"{ds:<14} {w:>5} {k:>4} {s:>13.2f} {p:>9.2f} {r:>8.1f}x {same:>10.2f} {s / same:>8.1f}x "
            f"{loop:>7.2f} {s / loop:>8.1f}x"
        )
    key = [r for r in rows if r[1] == 64 and r[2] == 32]
    if key:
        print(
            "K = 32, width 64: "
            + ", ".join(f"{r[0]} x{r[5]:.1f} (same fn x{r[3] / r[6]:.1f}, loop x{r[3] / r[7]:.1f})" for r in key)
            + " (target >= 5x)"
        )
    if a.equivalence:
        equivalence(a.equivalence)
    print(load_.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
