"""How well actlab's surrogate ranks activation functions it has not trained, and what its
features cost next to one training.

For MNIST-1D and digits with the MLP (width 64, 3 layers):

1. every catalogue function that runs in the MLP is trained for real, 3 seeds, with the training
   settings of ``actlab screen``'s defaults (Adam, batch 128, up to 20 epochs, early stopping on
   validation accuracy with patience 5); its score is the best validation accuracy, mean over the
   seeds. The trainings go through actlab's runner into ``--out`` (a rerun reuses them);
2. leave-one-out: each function predicted by a surrogate fit on all the others, for every
   regressor (all feature blocks) and for the default regressor with one block at a time;
   Spearman's rank correlation of predicted and real. Also what ``actlab screen`` starts from:
   a surrogate fit on the 8 usual functions only, predicting all the others;
3. the cost of the features of one function (computed afresh) against one training of it alone
   (same settings, seed 0, one thread), for the 8 usual functions, each pair timed side by side.

    .venv/bin/python benchmarks/surrogate.py                 # ~6 CPU-min per dataset on 2 cores
    .venv/bin/python benchmarks/surrogate.py --quick         # smoke run: 12 functions, 1 seed, 3 epochs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from _common import OtherLoad, machine_line

from actlab._progress import Progress
from actlab.execution import Runner, load_data
from actlab.models import build
from actlab.stats import rank_correlation
from actlab.studies.screen import ScreenConfig, Trainings, catalogue_names, usual
from actlab.surrogate import BLOCKS, DEFAULT_REGRESSOR, REGRESSORS, Surrogate, compute_features
from actlab.training import TrainConfig, train

DATASETS = ("mnist1d", "digits")


def scores(config: ScreenConfig, specs: list[str], folder: Path) -> dict[str, float]:
    """Train every spec (``config.seeds`` seeds, packed, on the runner; files in ``folder``) and score it."""
    folder.mkdir(parents=True, exist_ok=True)
    bar = Progress(len(specs) * config.seeds, "runs", enabled=False)
    with Runner() as runner:
        t = Trainings(config, runner, folder, bar, {})
        t.train(specs)
    return {s: v for s in specs if (v := t.score(s)) is not None}


def cost(config: ScreenConfig, specs: list[str], data) -> list[tuple[str, float, float]]:
    """(spec, seconds of its features computed afresh, seconds of one training alone), side by side."""
    out = []
    task = config.task()
    cfg = TrainConfig.from_dict({**config.train.to_dict(), "seed": 0, "threads": 1})
    compute_features("relu", task, data)  # warm-up: first calls of torch ops
    for s in specs:
        t0 = time.perf_counter()
        compute_features(s, task, data)
        t1 = time.perf_counter()
        train(lambda s=s: build(config.model, data.input_shape, data.n_classes, s, **config.model_options), data, cfg)
        out.append((s, t1 - t0, time.perf_counter() - t1))
    return out


def rho(pred, real) -> str:
    c = rank_correlation(pred, real)
    return f"{c['spearman']:+.3f}" if c["spearman"] is not None else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="12 functions, 1 seed, 3 epochs: checks the script")
    ap.add_argument("--only", choices=DATASETS)
    ap.add_argument("--out", help="keep the trainings here (default: a temporary folder)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(machine_line("1 torch thread"))
    load = OtherLoad()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(a.out or tmp)
        for ds in [a.only] if a.only else DATASETS:
            run(ds, root / ds / ("quick" if a.quick else "full"), a.quick)
    print(load.line())


def run(ds: str, folder: Path, quick: bool) -> None:
    t_start = time.perf_counter()
    config = ScreenConfig(dataset=ds, candidates=["relu"], seeds=1 if quick else 3)
    if quick:
        config.train = TrainConfig.from_dict({**config.train.to_dict(), "epochs": 3})
    data = load_data({"dataset": ds, "data_seed": 0, "data_options": {}})
    sur = Surrogate(config.task(), data, folder=folder / "features")
    specs = [s for s in catalogue_names() if sur.ok(s)]
    if quick:
        specs = list(dict.fromkeys([*usual(specs), *specs[:4]]))
    t = config.train
    print(
        f"\n{ds}: {len(data.train)} train / {len(data.val)} val examples; {len(specs)} functions that run in the MLP "
        f"(width 64, 3 layers), {config.seeds} seeds, {t.optimizer} batch {t.batch_size}, up to {t.epochs} epochs, "
        f"patience {t.patience} on {t.monitor}",
        flush=True,
    )
    real = scores(config, specs, folder / "units")
    specs = [s for s in specs if s in real]
    y = [real[s] for s in specs]
    print(
        f"score (best validation accuracy, mean of {config.seeds} seeds): {min(y):.3f} ... {max(y):.3f}, "
        f"median {statistics.median(y):.3f}"
    )
    base = usual(specs)
    rest = [s for s in specs if s not in base]
    print(f"\n{'regressor':<10} {'blocks':<28} {'LOO Spearman':>13} {'8 usual -> rest':>16} {'seconds':>8}")
    runs = [(r, BLOCKS) for r in REGRESSORS] + [(DEFAULT_REGRESSOR, (b,)) for b in BLOCKS]
    for reg, blocks in runs:
        t0 = time.perf_counter()
        sur.regressor, sur.blocks = reg, blocks
        loo, _ = sur.leave_one_out(specs, y)
        sur.fit(base, [real[s] for s in base], pool=specs)
        pred, _ = sur.predict(rest)
        print(
            f"{reg:<10} {'+'.join(blocks):<28} {rho(loo, y):>13} {rho(pred, [real[s] for s in rest]):>16} "
            f"{time.perf_counter() - t0:>8.1f}",
            flush=True,
        )
    pairs = cost(config, base, data)
    print(f"\n{'function':<12} {'features s':>11} {'training s':>11} {'ratio':>8}")
    for s, f, tr in pairs:
        print(f"{s:<12} {f:>11.4f} {tr:>11.3f} {f / tr:>8.2%}")
    mf, mt = statistics.median(p[1] for p in pairs), statistics.median(p[2] for p in pairs)
    print(
        f"RATIO {ds}: features / one training = {mf / mt:.2%} (medians: {mf * 1000:.1f} ms / {mt:.2f} s); "
        f"this dataset took {time.perf_counter() - t_start:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
