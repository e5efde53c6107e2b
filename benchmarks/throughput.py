"""Discovery throughput: candidate trainings per CPU-minute and per wall-minute, and how many cores a
study keeps busy, one by one vs packed, on 1 and 2 worker processes, in one run.

    .venv/bin/python benchmarks/throughput.py            # the table of RESULTS.md (~4 min idle)
    .venv/bin/python benchmarks/throughput.py --quick    # a smoke run (~2 min)
    .venv/bin/python benchmarks/throughput.py --studies evolve-1 --repeat 2   # one study, twice

Studies (every one with one torch thread per process, final evaluations off):

* evolve-1: `actlab evolve` on MNIST-1D (2,000 training examples), population 24, 4 generations,
  fidelity 1 alone (2 epochs on half the training split);
* evolve-sh: the same with successive halving, `--fidelities 2:0.5,4,10` (reduction factor 3),
  with and without overlap (each generation's last fidelity trained while the next one is bred
  and trained, `actlab evolve`'s default since 2026-12-07; the other modes run with
  `--no-overlap`);
* search: `actlab search` on digits, 5-layer MLP of width 64, sipper48, TPE, no pruning, 8 epochs;
  `--pack 8` asks 8 trials at once and trains them in one pack (the search packs its batches
  itself: the runner's cutting does not apply), `--n-jobs` search processes;
* screen: `actlab screen` on MNIST-1D, 16 catalogue functions, 2 seeds, 8 picked by the surrogate
  4 per round and 4 at random, 4 epochs.

Each study runs one by one (`--pack 1`), packed as before 2026-12 (one pack per packable group
of a list, up to `--pack`: `actlab.execution.runner.SPREAD = 1`) and packed as now (a list of n
cut into packs of at most max(MIN_PART, ceil(n / SPREAD)), today max(4, ceil(n / 2)); `--spreads
2,4` adds a line with SPREAD 4), on 1 and 2 workers. A training is one unit the
runner trained (every fidelity counts; cache hits and rejected candidates are free) or one
search trial. CPU is user + system time of this process and its children (resource usage of
SELF + CHILDREN, and with psutil installed the children still running): the study's own work
(the GP, the surrogate, TPE) is in it. Cores busy = CPU / wall. With psutil, evolve and screen
train on worker processes started once per worker count (as in a long study, which starts them
once), and their start-up is shown apart; without it, and always for the search (its `--n-jobs`
processes are its own), each run starts its workers and their start-up is in its numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

try:
    import psutil
except ImportError:  # the CPU of running worker processes is not seen: every run starts its own
    psutil = None

sys.path.insert(0, str(Path(__file__).parent))
from _common import Kept, OtherLoad, cpu_seconds, machine_line  # noqa: E402

import actlab.execution.runner as R  # noqa: E402
import actlab.studies.evolve.run as evolve_run  # noqa: E402
from actlab.execution import Runner, Unit  # noqa: E402
from actlab.studies.evolve.config import EvolveConfig  # noqa: E402
from actlab.studies.evolve.run import run_evolution  # noqa: E402
from actlab.studies.screen import ScreenConfig  # noqa: E402
from actlab.studies.screen.run import run_screen  # noqa: E402
from actlab.studies.search import SearchConfig  # noqa: E402
from actlab.studies.search.run import run_search  # noqa: E402
from actlab.training import TrainConfig  # noqa: E402

SPREAD = getattr(R, "SPREAD", 1)  # the runner's; 1 before 2026-12 (PYTHONPATH an older checkout)
OVERLAP = "overlap" in EvolveConfig.__dataclass_fields__  # evolve's overlap, since 2026-12-07

SCREENED = (
    "relu,tanh,elu,selu,gelu,silu,mish,softplus,softsign,sigmoid,leaky_relu,hard_swish,celu,tanhshrink,hardtanh,relu6"
)


@dataclass(frozen=True)
class Size:
    population: int = 24
    generations: int = 4
    fidelities: str = "2:0.5,4,10"
    trials: int = 32
    search_epochs: int = 8
    screen_top: int = 8
    screen_random: int = 4
    screen_epochs: int = 4


QUICK = Size(
    population=16,
    generations=2,
    fidelities="1:0.5,2,4",
    trials=16,
    search_epochs=2,
    screen_top=4,
    screen_random=2,
    screen_epochs=2,
)


@dataclass(frozen=True)
class Mode:
    name: str
    pack: int  # 1: one by one
    spread: int  # the runner's SPREAD: 1 cuts a packable group only where it exceeds --pack
    overlap: bool = False  # evolve-sh: overlap (a generation's last fidelity while the next one trains)


def modes(spreads: list[int]) -> list[Mode]:
    """One by one, one pack per list (as before 2026-12), and the packs cut for workers with each
    of ``spreads`` (the runner's SPREAD first)."""
    cut = [Mode("packs cut for workers" + (f" ({n})" if n != SPREAD else ""), 32, n) for n in spreads]
    return [Mode("one by one", 1, SPREAD), Mode("one pack per list", 32, 1), *cut]


@contextlib.contextmanager
def spread(n: int) -> Iterator[None]:
    """The runner cuts packs with ``SPREAD = n`` meanwhile (packs are cut in this process); actlab
    before 2026-12 (``PYTHONPATH`` an older checkout) has no SPREAD: one pack per list."""
    was = getattr(R, "SPREAD", None)
    if was is not None:
        R.SPREAD = n
    try:
        yield
    finally:
        if was is not None:
            R.SPREAD = was


def started(workers: int) -> tuple[Runner, float, float]:
    """A runner whose ``workers`` processes are started and hold the MNIST-1D split; its start-up's
    wall and CPU seconds."""
    c0, t0 = cpu_seconds(), time.perf_counter()
    runner = Runner(workers=workers, pack=1, threads=1)
    train = {"epochs": 1, "seed": 0, "threads": 1, "diagnostics": False, "train_fraction": 0.05}
    warm = [
        Unit(name=f"w{i}", plan="relu", dataset="mnist1d", model="mlp", data_options={"limit": 2000}, train=train)
        for i in range(2 * workers)
    ]
    runner.map(warm)
    return runner, time.perf_counter() - t0, cpu_seconds() - c0


def fidelities(text: str) -> list[list[float]]:
    return [[float(x) for x in f.split(":")] + ([] if ":" in f else [1.0]) for f in text.split(",")]


def units_in(folder: Path) -> int:
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


def evolve(size: Size, mode: Mode, workers: int, out: Path, halving: bool, kept: Kept | None = None) -> int:
    levels = fidelities(size.fidelities)
    cfg = EvolveConfig(
        dataset="mnist1d",
        population=size.population,
        generations=size.generations,
        fidelities=levels if halving else levels[:1],
        final_seeds=0,
        pack=mode.pack,
        **({"overlap": mode.overlap} if OVERLAP else {}),
    )
    own = evolve_run.Runner
    evolve_run.Runner = kept or own  # the study trains on the started workers
    try:
        run_evolution(cfg, out, workers=workers, progress=False, final=False)
    finally:
        evolve_run.Runner = own
    return units_in(out / "units")


def search(size: Size, mode: Mode, workers: int, out: Path, kept: Kept | None = None) -> int:
    cfg = SearchConfig(
        dataset="digits",
        layers=5,
        width=64,
        trials=size.trials,
        pruner="none",
        pack=8 if mode.pack > 1 else 1,
        final_seeds=0,
        train=TrainConfig(epochs=size.search_epochs, patience=None, monitor="val_accuracy", threads=1),
    )
    res = run_search(cfg, out, n_jobs=workers, progress=False, final=False)
    return res["counts"]["complete"]


def screen(size: Size, mode: Mode, workers: int, out: Path, kept: Kept | None = None) -> int:
    cfg = ScreenConfig(
        dataset="mnist1d",
        candidates=SCREENED.split(","),
        train_top=size.screen_top,
        train_random=size.screen_random,
        per_round=4,
        data_options={"limit": 2000},
        train=TrainConfig(
            epochs=size.screen_epochs, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
        ),
    )
    runner = kept(pack=mode.pack) if kept else Runner(workers=workers, pack=mode.pack, threads=1)
    try:
        run_screen(cfg, out, progress=False, runner=runner, say=lambda _: None)
    finally:
        runner.close()
    return units_in(out / "units")


STUDIES: dict[str, Callable[..., int]] = {  # (size, mode, workers, out, kept runner or None) -> trainings
    "evolve-1": lambda s, m, w, o, k: evolve(s, m, w, o, halving=False, kept=k),
    "evolve-sh": lambda s, m, w, o, k: evolve(s, m, w, o, halving=True, kept=k),
    "search": search,
    "screen": screen,
}


@dataclass
class Row:
    study: str
    mode: str
    workers: int
    trainings: int
    wall: float
    cpu: float

    def line(self) -> str:
        return (
            f"{self.study:<10} {self.mode:<22} {self.workers:>7} {self.trainings:>9} {self.wall:>7.1f} "
            f"{self.cpu:>7.1f} {self.cpu / self.wall:>6.2f} {self.trainings / self.cpu * 60:>8.1f} "
            f"{self.trainings / self.wall * 60:>9.1f}"
        )


HEADER = (
    f"{'study':<10} {'mode':<22} {'workers':>7} {'trained':>9} {'wall s':>7} {'CPU s':>7} {'cores':>6} "
    f"{'/CPU-min':>8} {'/wall-min':>9}"
)


def measure(study: str, size: Size, mode: Mode, workers: int, out: Path, kept: Kept | None = None) -> Row:
    shutil.rmtree(out, ignore_errors=True)
    c0, t0 = cpu_seconds(), time.perf_counter()
    with spread(mode.spread):
        n = STUDIES[study](size, mode, workers, out, None if study == "search" else kept)
    return Row(study, mode.name, workers, n, time.perf_counter() - t0, cpu_seconds() - c0)


OVERLAPPED = Mode("packs cut, overlapped", 32, SPREAD, overlap=True)
MODE_KEYS = {  # --modes: a key per mode (the beginning of its name; "cut" takes every SPREAD's line)
    "alone": "one by one",
    "list": "one pack per list",
    "cut": "packs cut for workers",
    "overlap": OVERLAPPED.name,
    "packed": "packed",  # the search's
}


def modes_of(study: str, spreads: list[int]) -> list[Mode]:
    every = modes(spreads)
    if study == "evolve-sh" and OVERLAP:
        return [*every, OVERLAPPED]
    return every if study != "search" else [every[0], Mode("packed", 32, SPREAD)]  # it cuts no runner packs


def median_row(rows: list[Row]) -> Row:
    """The run of median wall time (its CPU and trainings with it)."""
    return sorted(rows, key=lambda r: r.wall)[len(rows) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small studies: a smoke run of about 2 minutes")
    ap.add_argument("--studies", default=",".join(STUDIES), help=f"some of {', '.join(STUDIES)}")
    ap.add_argument("--workers", default="1,2", help="worker counts to run (default 1,2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each line, the median's shown (default 1)")
    ap.add_argument("--generations", type=int, help="generations of the evolutions (default 4)")
    ap.add_argument("--spreads", default=str(SPREAD), help=f"the runner's SPREAD values to compare (default {SPREAD})")
    ap.add_argument(
        "--modes",
        help=f"only these modes, by key ({', '.join(f'{k}: {v}' for k, v in MODE_KEYS.items())}); default all",
    )
    a = ap.parse_args()
    size = QUICK if a.quick else Size()
    if a.generations:
        size = dataclasses.replace(size, generations=a.generations)
    studies = [s for s in a.studies.split(",") if s]
    spreads = [int(n) for n in a.spreads.split(",")]
    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        ap.error(f"unknown study {unknown[0]!r}; choose from {', '.join(STUDIES)}")
    only = None if a.modes is None else [m for m in a.modes.split(",") if m]
    if only is not None and (not only or any(m not in MODE_KEYS for m in only)):
        ap.error(f"--modes takes some of {', '.join(MODE_KEYS)}, comma-separated")
    torch.set_num_threads(1)
    print(machine_line("1 torch thread per process"))
    print(f"sizes: {size}")
    load = OtherLoad()
    tmp = Path(tempfile.mkdtemp(prefix="actlab-throughput-"))
    rows: list[Row] = []
    try:
        for workers in (int(w) for w in a.workers.split(",")):
            spread_list = [SPREAD, *(n for n in spreads if n != SPREAD)]
            rows += _rows(studies, size, workers, spread_list, a.repeat, tmp, only)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(load.line())
    _headline(rows)
    return 0


def _rows(
    studies: list[str], size: Size, workers: int, spreads: list[int], repeat: int, tmp: Path, only: list[str] | None
) -> list[Row]:
    """The lines of ``studies`` on ``workers`` (started once, with psutil), printed as they come."""
    runner = None
    if psutil is not None:
        runner, wall, cpu = started(workers)
        if workers > 1:
            print(f"\n{runner.name}: started in {wall:.1f} s, {cpu:.1f} CPU-s (not in the lines below but search's)")
    print(HEADER, flush=True)
    rows = []
    try:
        for study in studies:
            for mode in modes_of(study, spreads):
                if only is not None and not any(mode.name.startswith(MODE_KEYS[k]) for k in only):
                    continue
                runs = [
                    measure(study, size, mode, workers, tmp / "out", runner and Kept(runner)) for _ in range(repeat)
                ]
                rows.append(median_row(runs))
                walls = f"  (walls {', '.join(f'{r.wall:.1f}' for r in runs)})" if repeat > 1 else ""
                print(rows[-1].line() + walls, flush=True)
    finally:
        if runner is not None:
            runner.close()
    return rows


def _headline(rows: list[Row]) -> None:
    """Per study and worker count: the packs cut for workers against one pack per list (or, for
    the search, packed against one by one), per wall-minute and per CPU-minute."""
    for study in dict.fromkeys(r.study for r in rows):
        for workers in dict.fromkeys(r.workers for r in rows if r.study == study):
            mine = {r.mode: r for r in rows if r.study == study and r.workers == workers}
            old = mine.get("one pack per list") or mine.get("one by one")
            for new in (mine.get("packs cut for workers") or mine.get("packed"), mine.get(OVERLAPPED.name)):
                if new is None or old is None or not (new.trainings and old.trainings):
                    continue
                wall = (new.trainings / new.wall) / (old.trainings / old.wall)
                cpu = (new.trainings / new.cpu) / (old.trainings / old.cpu)
                print(
                    f"{study}, {workers} worker(s): {new.mode} vs {old.mode}: {wall:.2f}x the trainings per "
                    f"wall-minute, {cpu:.2f}x per CPU-minute; {new.cpu / new.wall:.2f} vs {old.cpu / old.wall:.2f} "
                    "cores busy"
                )


if __name__ == "__main__":
    sys.exit(main())
