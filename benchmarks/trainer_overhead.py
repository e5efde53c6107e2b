"""What actlab's trainer costs per epoch next to a minimal PyTorch loop and Keras 3 ``fit``.

Same model, data and batch for all three: Fashion-MNIST (the train split of
``actlab.data.load("fashion-mnist")``, 54,000 examples, or ``--limit``), an MLP 784-256-256-10
with ReLU, batch 128, Adam lr 1e-3, cross-entropy on logits, float32 on the CPU.

* **hand**: the smallest honest loop: tensors in memory, ``randperm``, index batches,
  ``zero_grad / forward / loss / backward / step``; no metrics, no validation.
* **actlab**: ``actlab.training.train`` with ``patience=None``. Its epoch record holds
  ``seconds`` (the training pass alone: forward, backward, step, the running loss via
  ``loss.item()``, the finiteness check, keeping the logits for the epoch's accuracy) and
  ``eval_seconds`` (the validation evaluation after the pass). "train pass" compares
  ``seconds`` with the hand loop; "train + val" adds ``eval_seconds`` (6,000 validation examples).
  Run with the default ``diagnostics=True`` (a gradient norm per slot per batch) and with
  ``diagnostics=False``.
* **keras**: Keras 3 ``model.fit`` with ``KERAS_BACKEND=torch``, the same layers and
  optimizer, ``metrics=["accuracy"]`` (actlab also reports training accuracy), no
  validation data; epoch time from an ``on_epoch_begin`` / ``on_epoch_end`` callback. Keras is
  NOT an actlab dependency: ``pip install keras`` to include it; without it this row is skipped.

Every framework runs one warm-up epoch and then ``--epochs`` timed epochs; the table gives the
median (and min-max) seconds per epoch. The machine's matmul peak is a square float32 matmul
(``--matmul-n``, 2 n^3 FLOP) at the same thread count; the hand loop's share of it counts

    FLOP per example = 2*sum(a*b)    forward  (each Linear(a, b): a*b multiply-adds)
                     + 2*sum(a*b)    weight gradients
                     + 2*sum(a*b) - 2*784*256   input gradients (none for the first layer)
                     = 6*sum(a*b) - 2*784*256 = 1,211,392   (biases, ReLU, loss and Adam ignored)

Run (about 2 minutes on 2 cores):

    .venv/bin/python benchmarks/trainer_overhead.py
    .venv/bin/python benchmarks/trainer_overhead.py --quick      # ~30 s smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")  # must be set before keras is imported

import torch
import torch.nn.functional as F
from torch import nn

import actlab
from _common import machine_line, median_seconds
from actlab.data import load
from actlab.models import build
from actlab.training import TrainConfig, train

WIDTH, BATCH, LR = 256, 128, 1e-3
LAYERS = [(784, WIDTH), (WIDTH, WIDTH), (WIDTH, 10)]
FLOP_PER_EXAMPLE = 6 * sum(a * b for a, b in LAYERS) - 2 * LAYERS[0][0] * LAYERS[0][1]


def matmul_gflops(n: int) -> float:
    a, b, out = torch.randn(n, n), torch.randn(n, n), torch.empty(n, n)
    return 2 * n**3 / median_seconds(lambda: torch.mm(a, b, out=out), warmup=2, repeats=7) / 1e9


def hand_epochs(x, y, epochs: int, seed: int = 0) -> list[float]:
    """The minimal loop; returns the wall time of each epoch (the first is the warm-up)."""
    torch.manual_seed(seed)
    model = nn.Sequential(*(m for a, b in LAYERS for m in (nn.Linear(a, b), nn.ReLU())))[:-1]
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x = x.flatten(1)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x))
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def actlab_epochs(data, epochs: int, diagnostics: bool, threads: int) -> tuple[list[float], list[float]]:
    """actlab's trainer; returns per-epoch (training pass, training pass + validation) seconds."""
    cfg = TrainConfig(epochs=epochs, batch_size=BATCH, optimizer="adam", lr=LR, patience=None,
                      diagnostics=diagnostics, threads=threads)
    result = train(lambda: build("mlp", data.input_shape, data.n_classes, "relu", width=WIDTH, depth=3), data, cfg)
    return [e["seconds"] for e in result.epochs], [e["seconds"] + e["eval_seconds"] for e in result.epochs]


def keras_epochs(x, y, epochs: int, seed: int = 0) -> list[float] | None:
    try:
        import keras
    except ImportError:
        return None
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(WIDTH, activation="relu"),
                              keras.layers.Dense(WIDTH, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(LR), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    times, start = [], [0.0]

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            start[0] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - start[0])

    model.fit(x.flatten(1).numpy(), y.numpy(), batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0,
              callbacks=[Clock()])
    return times


def summary(times: list[float]) -> tuple[float, float, float]:
    timed = times[1:]  # drop the warm-up epoch
    return statistics.median(timed), min(timed), max(timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch intra-op threads (default: all cores)")
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs per framework, after one warm-up epoch")
    ap.add_argument("--limit", type=int, default=None, help="training examples (default: the whole train split)")
    ap.add_argument("--matmul-n", type=int, default=2048, help="size of the square matmul for the peak")
    ap.add_argument("--quick", action="store_true", help="smoke run: 10,000 examples, 2 timed epochs")
    args = ap.parse_args()
    if args.quick:
        args.limit, args.epochs, args.matmul_n = args.limit or 10_000, 2, 1024
    torch.set_num_threads(args.threads)

    data = load("fashion-mnist", seed=0, limit=args.limit, download=False)
    x, y = data.train.x, data.train.y
    n = len(x)
    print(machine_line(f"{torch.get_num_threads()} torch threads") + f"; actlab {actlab.__version__}")
    print(f"fashion-mnist {n} train examples, MLP 784-256-256-10 relu, "
          f"batch {BATCH}, Adam lr {LR}; 1 warm-up + {args.epochs} timed epochs each")

    peak = matmul_gflops(args.matmul_n)
    e = args.epochs + 1
    rows = {"hand loop (train pass)": summary(hand_epochs(x, y, e))}
    for diag in (True, False):
        train_pass, full = actlab_epochs(data, e, diag, args.threads)
        rows[f"actlab diagnostics={diag} (train pass)"] = summary(train_pass)
        rows[f"actlab diagnostics={diag} (train + val)"] = summary(full)
    torch.set_num_threads(args.threads)
    keras_times = keras_epochs(x, y, e)
    if keras_times is None:
        print("keras: not installed, skipped (it is not an actlab dependency; `pip install keras` to include it)")
    else:
        import keras

        torch.set_num_threads(args.threads)
        rows[f"keras {keras.__version__} fit, torch backend"] = summary(keras_times)

    hand = rows["hand loop (train pass)"][0]
    print(f"\n{'loop':<40} {'s/epoch':>8} {'min':>7} {'max':>7} {'x hand':>7} {'GFLOP/s':>8} {'% peak':>7}")
    print("-" * 82)
    for name, (med, lo, hi) in rows.items():
        gflops = FLOP_PER_EXAMPLE * n / med / 1e9
        print(f"{name:<40} {med:8.3f} {lo:7.3f} {hi:7.3f} {med / hand:7.2f} {gflops:8.1f} {100 * gflops / peak:6.1f}%")
    print(f"\nmatmul peak {peak:.1f} GFLOP/s ({args.matmul_n}^2 float32, {args.threads} threads); "
          f"MLP FLOP per example {FLOP_PER_EXAMPLE:,} (6*sum(a*b) - 2*784*256)")
    act = rows["actlab diagnostics=True (train pass)"][0]
    act_full = rows["actlab diagnostics=True (train + val)"][0]
    act_nodiag = rows["actlab diagnostics=False (train pass)"][0]
    line = (f"RATIOS actlab/hand {act / hand:.2f} (train pass; {act_nodiag / hand:.2f} without diagnostics; "
            f"{act_full / hand:.2f} with validation); hand loop at {100 * FLOP_PER_EXAMPLE * n / hand / 1e9 / peak:.0f}% of matmul peak")
    if keras_times is not None:
        line += f"; keras/actlab {rows[next(k for k in rows if k.startswith('keras'))][0] / act:.2f} (train pass)"
    print(line)


if __name__ == "__main__":
    main()
