"""Does overlap (`actlab evolve`'s default with fidelities) cost the evolution anything? The same
evolutions with it and with `--no-overlap`.

    .venv/bin/python benchmarks/overlap.py                 # 6 seeds, 12 generations (~7 min idle)
    .venv/bin/python benchmarks/overlap.py --seeds 2 --generations 4    # a smoke run

With overlap a generation's last fidelity trains while the next generation is bred and trained, so the next
generation is bred while the candidates promoted to the last fidelity still rank by their fitness
one fidelity below. The same number of candidates trains either way (the renewal of duplicates
aside); what may change is which. Each seed is one evolution of each kind on MNIST-1D (2,000
training examples, the MLP), population 24, `--fidelities 2:0.5,4,10`, on 2 worker processes
started once; then the final evaluation of the hall of fame's best on test (`--final-seeds`,
`--final-epochs`, elu as the catalogue's contender). Printed per seed and as mean ± std with a
permutation test: the hall of fame's best validation fitness (at the last fidelity), the evolved
function's mean test accuracy and the trainings (throughput is benchmarks/throughput.py's).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import Kept, OtherLoad, machine_line  # noqa: E402

import actlab.studies.evolve.run as evolve_run  # noqa: E402
from actlab.execution import Runner  # noqa: E402
from actlab.stats import format_p, permutation_test  # noqa: E402
from actlab.studies.evolve.config import EvolveConfig  # noqa: E402
from actlab.studies.evolve.run import run_evolution  # noqa: E402


def one(seed: int, overlap: bool, generations: int, final_seeds: int, final_epochs: int, runner, out: Path) -> dict:
    cfg = EvolveConfig(
        dataset="mnist1d",
        population=24,
        generations=generations,
        fidelities=[[2, 0.5], [4, 1.0], [10, 1.0]],
        final_seeds=final_seeds,
        final_epochs=final_epochs,
        catalogue=["elu"],
        seed=seed,
        overlap=overlap,
    )
    shutil.rmtree(out, ignore_errors=True)
    own = evolve_run.Runner
    evolve_run.Runner = Kept(runner)
    try:
        res = run_evolution(cfg, out, workers=2, progress=False)
    finally:
        evolve_run.Runner = own
    return {
        "fitness": res["hall_of_fame"][0]["fitness"],
        "test": float(res["final"]["contenders"][0]["mean"]),
        "function": res["hall_of_fame"][0]["slots"][0],
        "trained": len(list((out / "units").glob("*.json"))),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=6, help="evolutions of each kind (default 6)")
    ap.add_argument("--generations", type=int, default=12, help="generations of each (default 12)")
    ap.add_argument("--final-seeds", type=int, default=5, help="final runs of the best on test (default 5)")
    ap.add_argument("--final-epochs", type=int, default=10, help="epochs of a final run (default 10)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(machine_line("1 torch thread per process, 2 worker processes"))
    load = OtherLoad()
    tmp = Path(tempfile.mkdtemp(prefix="actlab-overlap-"))
    rows: dict[bool, list[dict]] = {False: [], True: []}
    runner = Runner(workers=2, threads=1)
    print(f"{'seed':>4} {'overlap':>7} {'hof best':>8} {'test':>6} {'trained':>7}  function")
    try:
        for seed in range(a.seeds):
            for overlap in (False, True):
                r = one(seed, overlap, a.generations, a.final_seeds, a.final_epochs, runner, tmp / "out")
                rows[overlap].append(r)
                print(
                    f"{seed:>4} {'yes' if overlap else 'no':>7} {r['fitness']:>8.3f} {r['test']:>6.3f} "
                    f"{r['trained']:>7}  {r['function']}",
                    flush=True,
                )
    finally:
        runner.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(load.line())
    for what in ("fitness", "test"):
        off, on = ([r[what] for r in rows[k]] for k in (False, True))
        p = permutation_test(on, off)
        print(
            f"{what:<8} without {np.mean(off):.3f} ± {np.std(off, ddof=1) if len(off) > 1 else 0:.3f}   "
            f"with {np.mean(on):.3f} ± {np.std(on, ddof=1) if len(on) > 1 else 0:.3f}   p = {format_p(p)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
