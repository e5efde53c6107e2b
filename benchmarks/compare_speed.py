"""Wall time of `actlab compare` run by run, packed, and on 2 worker processes, side by side.

1. The compare step of `make demo` (15 activations x 8 seeds, MLP on MNIST-1D, 50 epochs,
   patience 10): ``--pack 1`` (every run alone, one after another, as compare trained before it
   had a runner), the default (the 15 runs of a seed packed into one model), and the default with
   ``--workers 2``. The packed table must equal the one-by-one table up to float32 rounding; the
   script prints the largest difference of a mean test accuracy.
2. A comparison that cannot be packed (the 1-D CNN on MNIST-1D, 6 activations x 4 seeds, 20 epochs):
   1 worker vs 2 worker processes (one torch thread each).

Each command runs in a fresh process with a fresh --out (start-up and data generation included,
as a user sees it); the ratios divide wall times measured in this one run.

    .venv/bin/python benchmarks/compare_speed.py            # ~6 min on 2 cores
    .venv/bin/python benchmarks/compare_speed.py --quick    # ~1 min smoke run
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import OtherLoad, machine_line

DEMO = [
    "--dataset",
    "mnist1d",
    "--model",
    "mlp",
    "--activations",
    "seeds",
    "--baseline",
    "relu",
    "--seeds",
    "8",
    "--epochs",
    "50",
    "--patience",
    "10",
]
CNN = [
    "--dataset",
    "mnist1d",
    "--model",
    "cnn1d",
    "--activations",
    "relu,tanh,elu,selu,gelu,silu",
    "--seeds",
    "4",
    "--epochs",
    "20",
    "--patience",
    "0",
]


def run(args: list[str], out: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "actlab.cli", "compare", *args, "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"compare failed: {r.stderr[-2000:]}")
    return seconds, json.loads((out / "results.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds and 10 epochs instead of the demo's 8 and 50")
    a = ap.parse_args()
    demo, cnn = list(DEMO), list(CNN)
    if a.quick:
        demo[demo.index("--seeds") + 1], demo[demo.index("--epochs") + 1] = "2", "10"
        cnn[cnn.index("--seeds") + 1], cnn[cnn.index("--epochs") + 1] = "2", "2"
    print(machine_line("1 torch thread per run"))
    load = OtherLoad()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        alone_s, alone = run([*demo, "--pack", "1"], tmp / "alone")
        packed_s, packed = run(demo, tmp / "packed")
        w2_s, w2 = run([*demo, "--workers", "2"], tmp / "packed-w2")
        rows += [
            ("demo compare, run by run (--pack 1)", alone_s, 1.0),
            ("demo compare, packed (default)", packed_s, alone_s / packed_s),
            ("demo compare, packed, --workers 2", w2_s, alone_s / w2_s),
        ]
        means = {r["activation"]: r["mean"] for r in alone["summary"]}
        diff = max(abs(r["mean"] - means[r["activation"]]) for r in packed["summary"])
        same = [r["test_accuracy"] for r in packed["summary"]] == [r["test_accuracy"] for r in w2["summary"]]
        c1_s, c1 = run([*cnn, "--workers", "1"], tmp / "cnn1")
        c2_s, c2 = run([*cnn, "--workers", "2"], tmp / "cnn2")
        rows += [("cnn1d compare, 1 worker", c1_s, 1.0), ("cnn1d compare, 2 workers", c2_s, c1_s / c2_s)]
        cnn_same = [r["test_accuracy"] for r in c1["summary"]] == [r["test_accuracy"] for r in c2["summary"]]
    print(f"\n{'command':<40} {'wall s':>8} {'speed-up':>9}")
    for name, s, ratio in rows:
        print(f"{name:<40} {s:8.1f} {ratio:8.2f}x")
    print(
        f"\npacked vs run by run: largest difference of a mean test accuracy {diff:.4f} (float32 rounding); "
        f"packed on 2 workers equals packed in one process: {same}; cnn1d on 2 workers equals 1 worker: {cnn_same}"
    )
    print(load.line())
    print(
        f"RATIOS demo packed {alone_s / packed_s:.2f}x, packed + 2 workers {alone_s / w2_s:.2f}x (vs run by run); "
        f"cnn1d 2 workers {c1_s / c2_s:.2f}x"
    )


if __name__ == "__main__":
    main()
