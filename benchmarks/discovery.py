"""Does discovery discover? Evolution within a budget, then evolved vs ReLU vs the best catalogue
function on test; and the per-layer search's verdicts on the offline suite.

1. ``actlab evolve`` with successive halving on MNIST-1D (the MLP, all 3,600 training examples)
   and on Fashion-MNIST (the MLP, a smaller budget), on 2 worker processes, ended by ``--budget``
   (wall-clock; the CPU time the evolution really got is measured and printed beside it). Its
   final evaluation is the comparison: every hall-of-fame member, ReLU and the best catalogue
   function (chosen on validation at the highest fidelity), 10 fresh seeds each, trained long
   enough for the validation curve to flatten (weights of the best validation epoch), scored on
   test, permutation tests, Holm-corrected. Printed: the per-generation figures, the final table
   and how well each fidelity's fitness ranked the final test accuracies.
2. Should behaviours that differ by an added constant or a positive scale count as one? From
   the evolution's own trainings at the first fidelity: the fitness gap within groups of
   functions equal up to ``a * f(x) + b`` (a > 0), against the gap between two seeds of one
   function (the noise of the fitness itself, measured here on a few functions).
3. ``actlab search --suite offline``: the top configuration against the ReLU baseline per
   dataset, win / tie / loss.
4. ``--only tasks``: one evolution for three tasks (``--tasks mnist1d,digits,fashion-mnist:10000``),
   its transfer to the three held-out tasks of ``HELD_OUT`` (fixed beforehand) and to the training
   tasks, 10 seeds, ranked across all six; the same with the single-task MNIST-1D function added;
   and the fitness over tasks measured: the mean standing against ReLU that evolve uses, against
   the mean rank within a generation (generations drawn as random groups of the population's size
   from the run's candidates, 20 times) and the plain mean accuracy: how each ranks with every
   task's own score (does a task dominate?), and how much a candidate's rank fitness moves with
   the generation it lands in.

``--stagnation G`` passes ``--stagnation G`` to every evolution (restart after G generations
without a better hall of fame): run a part with and without it to compare. ``--task-fitness
worst`` passes it to the evolution over tasks (a candidate's lowest standing, not the mean).

    .venv/bin/python benchmarks/discovery.py                 # ~2 h on 2 cores
    .venv/bin/python benchmarks/discovery.py --only mnist1d  # one part
    .venv/bin/python benchmarks/discovery.py --only mnist1d --stagnation 10 --out /tmp/d-stag
    .venv/bin/python benchmarks/discovery.py --quick         # ~5 min smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import OtherLoad, machine_line

ACTLAB = [sys.executable, "-m", "actlab.cli"]
# (dataset, limit (None: all), budget, fidelities, final epochs)
EVOLUTIONS = {
    "mnist1d": (None, "25m", "4:0.25,15:0.5,50", 50),  # RESULTS.md: an idle machine
    "fashion-mnist": (10000, "15m", "2:0.25,6:0.5,20", 20),
}
QUICK = {"mnist1d": (1000, "40s", "1:0.5,3", 3), "fashion-mnist": (1000, "30s", "1:0.5,3", 3)}
# --only tasks: (tasks, limit of those without one, budget, fidelities, final epochs (on the first task))
TASKS = ("mnist1d,digits,fashion-mnist:10000", None, "30m", "2:0.25,6:0.5,20", 20)
QUICK_TASKS = ("iris,wine,digits:300", None, "150s", "1:0.5,2", 2)
# The held-out tasks, fixed before any run and never used to choose anything: the evolved function,
# ReLU and the best catalogue function train there (and on the training tasks again) with the final
# seeds and epochs, and so does the single-task MNIST-1D function of RESULTS.md.
HELD_OUT = "breast_cancer,wine,mnist1d/cnn1d"
QUICK_HELD_OUT = "breast_cancer:200"
MNIST1D_FUNCTION = "hardshrink(x) * abs(x + x)"  # evolved on MNIST-1D alone (RESULTS.md)


def evolve(name: str, settings, out: Path, quick: bool, extra: tuple[str, ...] = ()) -> dict:
    limit, budget, fidelities, final_epochs = settings
    cmd = [
        *ACTLAB,
        "evolve",
        "--dataset",
        name,
        "--model",
        "mlp",
        "--limit",
        str(limit or 0),
        "--population",
        "12" if quick else "32",
        "--generations",
        "100000",
        "--budget",
        budget,
        "--fidelities",
        fidelities,
        "--workers",
        "2",
        "--final-seeds",
        "3" if quick else "10",
        "--final-epochs",
        str(final_epochs),
        "--out",
        str(out),
        *extra,
    ]
    print("$ " + " ".join(cmd[2:]), flush=True)
    t0, c0 = time.perf_counter(), _children_cpu()
    load = OtherLoad()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if r.returncode != 0:
        sys.exit(f"evolve failed:\n{r.stderr[-3000:]}")
    res = json.loads((out / "results.json").read_text())
    gens = res["history"]
    spent = sum(h["seconds"] for h in gens)
    print(
        f"{len(gens)} generations in {spent / 60:.1f} min of --budget {budget}; "
        f"whole command {wall / 60:.1f} min wall, "
        f"{cpu / 60:.1f} CPU-min (final evaluation included); {load.line()}"
    )
    print("| gen | new trainings | duplicates replaced | distinct | promoted | best | hall-of-fame best (fidelity) |")
    print("|---|---|---|---|---|---|---|")
    for h in gens:
        print(
            f"| {h['generation']} | {h['evaluations']} | {h.get('replaced', 0)} | {h.get('distinct', '?')} | "
            f"{'/'.join(map(str, h.get('promoted', [])))} | {h['best']:.3f} | {h['hof_best']:.3f} |"
            + (" restart |" if h.get("restart") else "")
        )
    if res.get("tasks"):
        print("hall of fame's best per task: " + ", ".join(f"{n} {v:.3f}" for n, v in gens[-1]["hof_tasks"].items()))
    final = res["final"]
    comps = {c["vs"]: c for c in final["comparisons"]}
    print(
        f"\nfinal: {len(final['contenders'][0]['seeds'])} seeds, {final['epochs']} epochs; evolved = hall of fame "
        f"#{final['chosen']['hall_of_fame_rank']}: {res['best']['functions']['all']}"
    )
    print("| contender | val acc | test acc mean ± std | difference | p (Holm) | outcome |")
    print("|---|---|---|---|---|---|")
    for row in final["contenders"]:
        c = comps.get(row["name"])
        extra = f"{-c['difference']:+.4f} | {c['p_holm']:.4f} | {c['outcome']} (evolved vs it)" if c else " | | "
        print(f"| {row['name']} | {row['val_mean']:.4f} | {row['mean']:.4f} ± {row['std']:.4f} | {extra} |")
    print("\nfidelity correlation (Spearman, fitness vs mean test accuracy over the contenders):")
    for c in final["fidelity_correlation"]:
        rho = "n/a" if c["spearman"] is None else f"{c['spearman']:+.2f} (n={c['n']}, p={c['p_value']:.3f})"
        what = (
            "final training's validation"
            if c["fidelity"] == "final"
            else f"fidelity {c['fidelity']} ({c['epochs']} epochs, {c['train_fraction']:.0%} of the split)"
        )
        print(f"  {what}: {rho}")
    return res


def _children_cpu() -> float:
    t = os.times()
    return t.children_user + t.children_system


def affine(out: Path, samples: int) -> None:
    """Fitness gaps within groups equal up to a positive scale and a shift, against seed noise."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from actlab.catalogue import expr as E
    from actlab.execution import Runner, Unit
    from actlab.studies.evolve.gp import PROBE

    units = [json.loads(f.read_text()) for f in (out / "units").glob("*.json")]
    first = min(u["unit"]["train"]["epochs"] for u in units)
    runs = []
    for u in units:
        if u["unit"]["train"]["epochs"] != first or u["result"]["status"] == "diverged":
            continue
        acc = [e.get("val_accuracy") for e in u["result"]["epochs"] if e.get("val_accuracy") is not None]
        if acc:
            runs.append((u["unit"], u["unit"]["plan"]["hidden"][len(E.PREFIX) :], max(acc)))
    groups: dict[str, list] = {}
    exact: set[str] = set()
    for unit, text, fit in runs:
        y = E.numpy_eval(E.parse(text), PROBE)
        if not np.all(np.isfinite(y)) or np.std(y) == 0:
            continue
        exact.add(" ".join(f"{v:.6g}" for v in y))
        z = (y - y.mean()) / y.std()
        groups.setdefault(" ".join(f"{v:.4g}" for v in z), []).append((unit, text, fit))
    merged = [g for g in groups.values() if len(g) > 1]
    gaps = [abs(a[2] - b[2]) for g in merged for i, a in enumerate(g) for b in g[i + 1 :]]
    print(
        f"\naffine behaviour keys: {len(runs)} trainings at the first fidelity, {len(exact)} exact behaviours, "
        f"{len(groups)} up to a positive scale and shift ({len(merged)} groups of 2 or more)"
    )
    if gaps:
        print(
            f"  fitness gap within those groups: mean {np.mean(gaps):.4f}, median {np.median(gaps):.4f}, "
            f"max {np.max(gaps):.4f} over {len(gaps)} pairs"
        )
    rng = random.Random(0)
    pick = rng.sample(runs, min(samples, len(runs)))
    again = []
    for i, (unit, _, _) in enumerate(pick):
        u = dict(unit)
        u["name"], u["train"] = f"noise-{i}", {**unit["train"], "seed": unit["train"]["seed"] + 1000}
        again.append(Unit(**u))
    runner = Runner(workers=2)
    try:
        recs = runner.map(again)
    finally:
        runner.close()
    noise = []
    for (_, _, fit), rec in zip(pick, recs, strict=True):
        acc = [
            e.get("val_accuracy") for e in rec.get("result", {}).get("epochs", []) if e.get("val_accuracy") is not None
        ]
        if "result" in rec and acc:
            noise.append(abs(max(acc) - fit))
    print(
        f"  fitness gap between two seeds of one function: mean {np.mean(noise):.4f}, median {np.median(noise):.4f}, "
        f"max {np.max(noise):.4f} over {len(noise)} functions"
    )


def aggregation(out: Path, population: int, draws: int = 20) -> None:
    """The fitness over tasks, measured on the run's trainings at the first fidelity: the standing
    against ReLU (evolve's), the mean rank within a generation, the plain mean score."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from actlab.stats import rank_correlation
    from actlab.studies.evolve.tasks import standing

    res = json.loads((out / "results.json").read_text())
    cache = json.loads((out / "checkpoint.json").read_text())["cache"].values()
    names, relu = res["tasks"]["names"], res["tasks"]["relu"]
    runs = [v for v in cache if v.get("status") == "ok" and v.get("tasks")]
    scores = np.array([[v["tasks"][n][0] for n in names] for v in runs])  # candidates x tasks
    combine = np.min if res["config"].get("task_fitness") == "worst" else np.mean  # as the evolution did
    z = combine([[standing(x, relu[n][0]) for x, n in zip(row, names, strict=True)] for row in scores], axis=1)
    from scipy.stats import rankdata

    size = min(population, max(3, len(runs) // 2))  # a short run: smaller generations, so that they differ
    rng = np.random.default_rng(0)
    ranks = np.full((draws, len(runs)), np.nan)
    for d in range(draws):  # each candidate's mean rank (0 worst, 1 best; ties share) in a random generation
        order = rng.permutation(len(runs))
        for group in np.array_split(order, max(1, len(runs) // size)):
            within = (rankdata(scores[group], axis=0) - 1) / max(len(group) - 1, 1)
            ranks[d, group] = within.mean(axis=1)
    rank = ranks.mean(axis=0)
    plain = scores.mean(axis=1)
    print(f"\nfitness over {len(names)} tasks, {len(runs)} candidates at the first fidelity:")
    print("| fitness | " + " | ".join(f"Spearman with {n}" for n in names) + " | Spearman with the standing |")
    print("|---|" + "---|" * (len(names) + 1))
    for what, f in (("standing vs ReLU (evolve's)", z), ("mean rank in a generation", rank), ("mean score", plain)):
        cells = [rank_correlation(f, scores[:, t])["spearman"] for t in range(len(names))]
        cells.append(rank_correlation(f, z)["spearman"])
        print(f"| {what} | " + " | ".join("n/a" if c is None else f"{c:+.2f}" for c in cells) + " |")
    moved = ranks.std(axis=0)
    print(
        f"a candidate's mean rank moves with its generation: std {np.mean(moved):.3f} on average "
        f"(max {np.max(moved):.3f}) over {draws} draws of generations of {size}, on a 0-1 scale; "
        "the standing is the same in any generation"
    )


def with_mnist1d_function(out: Path, held_out: list[str]) -> None:
    """The evolution's transfer table (the evolved function, ReLU, the best catalogue function on
    the training and held-out tasks), then the same with the single-task MNIST-1D function added,
    trained with the same seeds, epochs and data (the runs already made are reused)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from actlab.catalogue import expr as E
    from actlab.execution import Runner, Task
    from actlab.execution.transfer import transfer_text, transfer_to
    from actlab.studies.evolve.config import EvolveConfig

    res = json.loads((out / "results.json").read_text())
    final = res["final"]
    table = final["transfer"]
    print("\ntransfer (evolve --transfer-to; test accuracy, Holm p of the average rank vs relu):")
    print(transfer_text(table))
    _held_out_verdicts(table, held_out)
    config = EvolveConfig.from_dict(res["config"])
    plans = {r["name"]: r["plan"] for r in final["contenders"]}
    contenders = {n: plans[n] for n in table["functions"]}
    contenders["mnist1d-evolved"] = E.PREFIX + MNIST1D_FUNCTION
    train = {"epochs": final["epochs"], "patience": None, "restore_best": True, "monitor": "val_accuracy"}
    runner = Runner(workers=2)
    try:
        both = transfer_to(
            contenders,
            Task.of(config.task_configs()[0]),
            [t["task"] for t in table["tasks"]],
            table["seeds"],
            runner,
            out / "final" / "transfer",
            "relu",
            progress=False,
            **train,
        )
    finally:
        runner.close()
    print(f"\nthe same with the MNIST-1D function ({MNIST1D_FUNCTION}) added:")
    print(transfer_text(both))
    _held_out_verdicts(both, held_out)


def _held_out_verdicts(table: dict, held_out: list[str]) -> None:
    """Per contender, win / tie / loss against ReLU on the held-out tasks (Holm p < 0.05)."""
    rows = [r for t in table["tasks"] if _held(t["task"], held_out) for r in t["rows"] if r["function"] != "relu"]
    for name in dict.fromkeys(r["function"] for r in rows):
        outcome = [r["outcome"] for r in rows if r["function"] == name]
        counts = ", ".join(f"{outcome.count(o)} {o}" for o in dict.fromkeys(outcome))
        print(f"held out, {name} vs relu: {counts} (of {len(outcome)})")


def _held(task: str, held_out: list[str]) -> bool:
    return any(task == h or task.startswith(h + "/") for h in held_out)


def search_suite(out: Path, quick: bool) -> None:
    trials = "4" if quick else "100"
    cmd = [
        *ACTLAB,
        "search",
        "--suite",
        "offline",
        "--trials",
        trials,
        "--epochs",
        "3" if quick else "30",
        "--final-seeds",
        "3" if quick else "10",
        "--out",
        str(out),
    ]
    print("\n$ " + " ".join(cmd[2:]), flush=True)
    t0 = time.perf_counter()
    load = OtherLoad()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"search failed:\n{r.stderr[-3000:]}")
    table = r.stdout[r.stdout.index("dataset") :] if "dataset" in r.stdout else r.stdout
    print(table.rstrip())
    print(f"({(time.perf_counter() - t0) / 60:.1f} min; {load.line()})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run of the script")
    ap.add_argument("--only", choices=("mnist1d", "fashion-mnist", "search", "tasks"))
    ap.add_argument("--out", help="keep the outputs here (default: a temporary folder)")
    ap.add_argument("--stagnation", type=int, metavar="G", help="restart each evolution after G stagnant generations")
    ap.add_argument("--task-fitness", choices=("mean", "worst"), help="--only tasks: how the standings combine")
    args = ap.parse_args()
    print(machine_line("2 worker processes, 1 thread each"))
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="actlab-discovery-"))
    extra = ("--stagnation", str(args.stagnation)) if args.stagnation else ()
    for name, settings in (QUICK if args.quick else EVOLUTIONS).items():
        if args.only in (None, name):
            print(f"\n## {name}")
            evolve(name, settings, root / name, args.quick, extra)
            if name == "mnist1d":
                affine(root / name, 4 if args.quick else 12)
    if args.only in (None, "tasks"):
        tasks, *settings = QUICK_TASKS if args.quick else TASKS
        print(f"\n## tasks: {tasks}")
        first = tasks.split(",")[0].partition(":")[0]
        held_out = QUICK_HELD_OUT if args.quick else HELD_OUT
        print(f"held-out tasks (fixed beforehand): {held_out}")
        transfer = ("--transfer-to", f"{tasks},{held_out}")
        if args.task_fitness:
            transfer += ("--task-fitness", args.task_fitness)
        evolve(first, settings, root / "tasks", args.quick, ("--tasks", tasks, *transfer, *extra))
        with_mnist1d_function(root / "tasks", held_out.split(","))
        aggregation(root / "tasks", 12 if args.quick else 32)
    if args.only in (None, "search"):
        search_suite(root / "search", args.quick)
    print(f"\noutputs: {root}")


if __name__ == "__main__":
    main()
