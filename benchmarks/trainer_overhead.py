"""What actlab's trainer costs per epoch next to a minimal PyTorch loop and Keras 3 ``fit``.

Same model, data and batch for all three: Fashion-MNIST (the train split of
``actlab.data.load("fashion-mnist")``, 54,000 examples, or ``--limit``), an MLP 784-256-256-10
with ReLU, batch 128, Adam lr 1e-3, cross-entropy on logits, float32 on the CPU.

* **hand**: the smallest honest loop: tensors in memory, ``randperm``, index batches,
  ``zero_grad / forward / loss / backward / step``; no metrics, no validation.
  A second row uses ``torch.optim.Adam(..., fused=True)`` (one fused op over all
  parameters; PyTorch's default on the CPU is a Python loop over them), which actlab does not use.
* **actlab**: ``actlab.training.train`` with ``patience=None``. Its epoch record holds
  ``seconds`` (the training pass alone: forward, backward, step, the running loss via
  ``loss.item()``, the finiteness check, keeping the logits for the epoch's accuracy) and
  ``eval_seconds`` (the validation evaluation after the pass). "train pass" compares
  ``seconds`` with the hand loop; "train + val" adds ``eval_seconds`` (6,000 validation examples).
  Run with the default ``diagnostics=True`` (a gradient norm per slot per batch) and with
  ``diagnostics=False``.
* **matrix products only**: the epoch's GEMMs at their shapes and nothing else (no loss, no
  activation, no optimizer): the ceiling for this model and batch size.
* **keras**: Keras 3 ``model.fit`` with ``KERAS_BACKEND=torch``, the same layers and
  optimizer, ``metrics=["accuracy"]`` (actlab also reports training accuracy), no
  validation data; epoch time from an ``on_epoch_begin`` / ``on_epoch_end`` callback. Keras is
  NOT an actlab dependency: ``pip install keras`` to include it; without it this row is skipped.

In each of ``--rounds`` rounds every loop runs in turn, one warm-up epoch and then ``--epochs``
timed epochs (a fresh model each round); the table gives the median (and min-max) seconds per
epoch over all timed epochs, so that a slow spell of the machine hits every loop alike. The
machine's matmul peak is a square float32 matmul
(``--matmul-n``, 2 n^3 FLOP) at the same thread count; the hand loop's share of it counts

    FLOP per example = 2*sum(a*b)    forward  (each Linear(a, b): a*b multiply-adds)
                     + 2*sum(a*b)    weight gradients
                     + 2*sum(a*b) - 2*784*256   input gradients (none for the first layer)
                     = 6*sum(a*b) - 2*784*256 = 1,211,392   (biases, ReLU, loss and Adam ignored)

GFLOP/s and "% peak" divide these training FLOPs by each row's time (for "train + val" rows the
validation pass is not counted, so they understate). On 2 cores anything else running on the
machine wrecks 2-thread timings (OpenMP threads wait for a descheduled partner): the first line
says how busy the CPU was before the start, the last but one what other programs took during
the run.

Run (about 2 minutes on 2 cores):

    .venv/bin/python benchmarks/trainer_overhead.py
    .venv/bin/python benchmarks/trainer_overhead.py --quick      # ~10 s smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # must be set before keras is imported

import torch
import torch.nn.functional as F
from _common import OtherLoad, machine_line, median_seconds
from torch import nn

import actlab
from actlab.data import load
from actlab.models import build
from actlab.training import TrainConfig, train

WIDTH, BATCH, LR = 256, 128, 1e-3
LAYERS = [(784, WIDTH), (WIDTH, WIDTH), (WIDTH, 10)]
FLOP_PER_EXAMPLE = 6 * sum(a * b for a, b in LAYERS) - 2 * LAYERS[0][0] * LAYERS[0][1]


def matmul_gflops(n: int) -> float:
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    return 2 * n**3 / median_seconds(lambda: torch.mm(a, b, out=out), warmup=2, repeats=7) / 1e9


def gemm_epochs(n: int, epochs: int) -> list[float]:
    """The epoch's matrix products alone, at its shapes (batch 128): per batch the 3 forward
    ``addmm``, the 3 weight-gradient and 2 input-gradient ``mm`` of the MLP, nothing else. What an
    epoch would cost if it were only its FLOP: the ceiling a training loop can approach at this
    batch size (small GEMMs run below the 2048^2 peak)."""
    torch.manual_seed(0)
    ws = [torch.randn(b, a) for a, b in LAYERS]
    bs = [torch.randn(b) for _, b in LAYERS]
    x = torch.randn(BATCH, LAYERS[0][0])
    acts = [x] + [torch.randn(BATCH, b) for _, b in LAYERS]
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for _ in range(0, n, BATCH):
            h = x
            for w, b in zip(ws, bs, strict=True):
                h = torch.addmm(b, h, w.t())
            for i in reversed(range(len(ws))):
                g = acts[i + 1]
                torch.mm(g.t(), acts[i])  # weight gradient
                if i:
                    torch.mm(g, ws[i])  # input gradient
        times.append(time.perf_counter() - t0)
    return times


def hand_epochs(x, y, epochs: int, seed: int = 0, fused: bool | None = None) -> list[float]:
    """The minimal loop; returns the wall time of each epoch (the first is the warm-up)."""
    torch.manual_seed(seed)
    model = nn.Sequential(*(m for a, b in LAYERS for m in (nn.Linear(a, b), nn.ReLU())))[:-1]
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=fused)
    x = x.flatten(1)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def actlab_epochs(data, epochs: int, diagnostics: bool, threads: int) -> tuple[list[float], list[float]]:
    """actlab's trainer; returns per-epoch (training pass, training pass + validation) seconds."""
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=BATCH,
        optimizer="adam",
        lr=LR,
        patience=None,
        diagnostics=diagnostics,
        threads=threads,
    )
    result = train(lambda: build("mlp", data.input_shape, data.n_classes, "relu", width=WIDTH, depth=3), data, cfg)
    return [e["seconds"] for e in result.epochs], [e["seconds"] + e["eval_seconds"] for e in result.epochs]


def keras_epochs(x, y, epochs: int, seed: int = 0) -> list[float] | None:
    try:
        import keras
    except ImportError:
        return None
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(WIDTH, activation="relu"),
            keras.layers.Dense(WIDTH, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        metrics=["accuracy"],
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    times, start = [], [0.0]

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            start[0] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - start[0])

    model.fit(
        x.flatten(1).numpy(), y.numpy(), batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()]
    )
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per loop and round, after one warm-up epoch")
    ap.add_argument("--rounds", type=int, default=5, help="rounds in which every loop runs once, in turn")
    ap.add_argument("--limit", type=int, default=None, help="training examples (default: the whole train split)")
    ap.add_argument("--matmul-n", type=int, default=2048, help="size of the square matmul for the peak")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 10,000 examples, 1 round of 2 timed epochs (checks the script; numbers are rough)",
    )
    args = ap.parse_args()
    if args.quick:
        args.limit, args.epochs, args.rounds, args.matmul_n = args.limit or 10_000, 2, 1, 1024
    torch.set_num_threads(args.threads)

    data = load("fashion-mnist", seed=0, limit=args.limit, download=False)
    x, y = data.train.x, data.train.y
    n = len(x)
    print(machine_line(f"{torch.get_num_threads()} torch threads") + f"; actlab {actlab.__version__}")
    others = OtherLoad()
    print(
        f"fashion-mnist {n} train examples, MLP 784-256-256-10 relu, batch {BATCH}, Adam lr {LR}; "
        f"{args.rounds} rounds, each loop 1 warm-up + {args.epochs} timed epochs per round"
    )

    peak = matmul_gflops(args.matmul_n)
    e = args.epochs + 1
    times: dict[str, list[float]] = {}

    def add(name: str, epoch_times: list[float]) -> None:
        times.setdefault(name, []).extend(epoch_times[1:])  # drop the warm-up epoch

    have_keras = True
    for _ in range(args.rounds):
        add("matrix products only (the ceiling)", gemm_epochs(n, e))
        add("hand loop (train pass)", hand_epochs(x, y, e))
        add("hand loop, Adam fused=True (train pass)", hand_epochs(x, y, e, fused=True))
        for diag in (True, False):
            train_pass, full = actlab_epochs(data, e, diag, args.threads)
            add(f"actlab diagnostics={diag} (train pass)", train_pass)
            add(f"actlab diagnostics={diag} (train + val)", full)
        torch.set_num_threads(args.threads)
        keras_times = keras_epochs(x, y, e)
        torch.set_num_threads(args.threads)
        if keras_times is None:
            have_keras = False
        else:
            add("keras fit, torch backend", keras_times)
    if not have_keras:
        print("keras: not installed, skipped (it is not an actlab dependency; `pip install keras` to include it)")
    else:
        import keras

        print(f"keras {keras.__version__}, backend {keras.backend.backend()}")

    med = {name: statistics.median(t) for name, t in times.items()}
    hand = med["hand loop (train pass)"]
    print(f"\n{'loop':<41} {'s/epoch':>8} {'min':>7} {'max':>7} {'x hand':>7} {'GFLOP/s':>8} {'% peak':>7}")
    print("-" * 83)
    for name, t in times.items():
        gflops = FLOP_PER_EXAMPLE * n / med[name] / 1e9
        print(
            f"{name:<41} {med[name]:8.3f} {min(t):7.3f} {max(t):7.3f} {med[name] / hand:7.2f} {gflops:8.1f} "
            f"{100 * gflops / peak:6.1f}%"
        )
    print(
        f"\nmedian of {args.rounds * args.epochs} timed epochs per loop; matmul peak {peak:.1f} GFLOP/s "
        f"({args.matmul_n}^2 float32, {args.threads} threads); MLP FLOP per example {FLOP_PER_EXAMPLE:,} "
        f"(6*sum(a*b) - 2*784*256)"
    )
    act = med["actlab diagnostics=True (train pass)"]
    fastest = min(times["actlab diagnostics=True (train pass)"]) / min(times["hand loop (train pass)"])
    line = (
        f"RATIOS actlab/hand {act / hand:.2f} (train pass, medians; fastest epochs {fastest:.2f}; "
        f"{med['actlab diagnostics=False (train pass)'] / hand:.2f} without diagnostics; "
        f"{med['actlab diagnostics=True (train + val)'] / hand:.2f} with validation); "
        f"hand loop at {100 * FLOP_PER_EXAMPLE * n / hand / 1e9 / peak:.0f}% of matmul peak"
    )
    if have_keras:
        line += f"; keras/actlab {med['keras fit, torch backend'] / act:.2f} (train pass)"
    gemm = med["matrix products only (the ceiling)"]
    line += (
        f"; the epoch's matrix products alone run at {100 * FLOP_PER_EXAMPLE * n / gemm / 1e9 / peak:.0f}% of the "
        f"2048^2 peak, actlab at {100 * gemm / act:.0f}% of that ceiling"
    )
    print(others.line())
    print(line)


if __name__ == "__main__":
    main()
