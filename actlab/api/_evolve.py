"""``actlab.evolve``: evolve new activation functions with genetic programming, from Python."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import write_json_atomic
from actlab.api._keywords import arguments
from actlab.api._options import SHARED, Option, Study, build, check_where, settle, transfer_option
from actlab.api.results import Result
from actlab.report.evolve import prepare_report, write_evolve_report
from actlab.studies.evolve import MODES, EvolveConfig
from actlab.studies.evolve.config import TASK_FITNESS


def duration(text: str) -> float:
    """``90s``, ``60m``, ``1.5h`` (a bare number is minutes) as seconds; a sign is read, so that
    ``-5m`` gets the range check of ``--budget``."""
    m = re.fullmatch(r"\s*([-+]?[0-9]*\.?[0-9]+)\s*(s|sec|m|min|h)?\s*", text or "")
    if not m:
        raise argparse.ArgumentTypeError(f"a duration like 90s, 60m or 2h, got {text!r}")
    return float(m.group(1)) * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, None: 60}[m.group(2)]


def fidelities(text: str) -> list[list[float]]:
    """``2:0.25,6:0.5,15`` as ``[[2, 0.25], [6, 0.5], [15, 1.0]]`` (epochs, share of the training split)."""
    out = []
    for part in (text or "").split(","):
        m = re.fullmatch(r"\s*([0-9]+)\s*(?::\s*([0-9]*\.?[0-9]+)\s*)?", part)
        if not m:
            raise argparse.ArgumentTypeError(f"fidelities like 2:0.25,6:0.5,15 (EPOCHS or EPOCHS:SHARE), got {text!r}")
        out.append([int(m.group(1)), float(m.group(2)) if m.group(2) else 1.0])
    return out


def _list(text: str) -> list[str]:
    """Names separated by commas."""
    return [t.strip() for t in text.split(",") if t.strip()]


OWN = (
    Option(("--mode",), "single, triple or coevolution ({default})", type=str, choices=lambda: MODES),
    Option(("--resume",), "continue the evolution checkpointed in --out (or start it)", flag=True, path=None),
    Option(
        ("--map",),
        "add to the report where each finalist sits in the features of actlab's surrogate (a 2-D map coloured by "
        "accuracy)",
        flag=True,
        path=None,
    ),
)
GP = (
    Option(("--population",), "individuals per population ({default})"),
    Option(("--generations",), "generations, the random one included ({default})"),
    Option(("--tournament",), "tournament size ({default})"),
    Option(("--elite",), "best individuals copied unchanged ({default})"),
    Option(("--cxpb",), "subtree crossover probability per pair ({default})", type=float),
    Option(("--mutpb",), "mutation probability per individual ({default})", type=float),
    Option(("--init-min",), "ramped half-and-half: smallest initial height ({default})"),
    Option(("--init-max",), "ramped half-and-half: largest initial height ({default})"),
    Option(("--max-height",), "height limit of crossover and mutation ({default})"),
    Option(
        ("--hof",),
        "hall of fame size: how many of the best functions found are kept and reported ({default})",
        path="hall_of_fame",
    ),
    Option(
        ("--unary",),
        "one-argument functions the evolved expressions may use, separated by commas (default: these {count}: {value})",
        type=_list,
    ),
    Option(
        ("--binary",),
        "two-argument operations the evolved expressions may use, separated by commas (default: {value})",
        type=_list,
    ),
    Option(
        ("--no-constants",),
        "no random constants in the expressions: x is their only input",
        flag=True,
        const=False,
        dest="constants",
    ),
    Option(
        ("--surrogate",),
        "vary N times the population each generation and train the offspring a surrogate model predicts best (a "
        "quarter at random), single mode; see 'actlab screen' ({default}; 0 = off)",
        metavar="N",
    ),
    Option(
        ("--learn-constants",),
        "train each candidate's constants per layer with the weights (parametric activation functions); best.json "
        "keeps the trained values and actlab.load rebuilds them",
        flag=True,
    ),
    Option(
        ("--mutations",),
        "mutations used, separated by commas (default: all four: uniform, a random new subtree; node, one node "
        "replaced; shrink, a subtree replaced by one of its branches; ephemeral, a constant drawn again)",
        type=_list,
    ),
    Option(
        ("--budget",),
        "wall-clock time for the generations, counting every earlier run of a resumed evolution, e.g. 60m or 2h (a "
        "bare number is minutes); the evolution ends before a generation would overrun it, keeps its checkpoint "
        "and runs the final evaluation ({default})",
        type=duration,
        metavar="TIME",
        none="no limit",
    ),
    Option(
        ("--stagnation",),
        "restart when the hall of fame's best has not risen for G generations: the next generation is the hall of "
        "fame's --elite best (at least one) and new random individuals ({default})",
        metavar="G",
        none="never",
    ),
    Option(("--seed",), "seed of the evolution and of the fitness training ({default})"),
)
TASKS = (
    Option(
        ("--tasks",),
        "evolve for several tasks, DATASET[:LIMIT][/MODEL] separated by commas, e.g. "
        "mnist1d,digits,fashion-mnist:10000/seed-cnn (LIMIT: training examples, default --limit; MODEL default "
        "--model); "
        "a candidate trains on each, and its fitness is its mean standing against ReLU there: (score - ReLU's mean) / "
        "ReLU's seed spread, at the same fidelity. The final evaluation is on the first task ({default})",
        type=_list,
        metavar="TASKS",
        none="--dataset alone",
    ),
    Option(("--reference-seeds",), "ReLU's trainings per task and fidelity, for its mean and spread ({default})"),
    Option(
        ("--task-fitness",),
        "how a candidate's standings on the tasks combine: mean, or worst (its lowest: a large gain on one task "
        "cannot buy a loss on another) ({default})",
        type=str,
        choices=lambda: TASK_FITNESS,
    ),
)
FIDELITIES = (
    Option(
        ("--fidelities",),
        "every new candidate trains E epochs on a share S of the training split (default 1) "
        "at the first fidelity; the best 1 in --reduction-factor of those go on to the next, e.g. 2:0.25,6:0.5,15; "
        "candidates rank by the highest fidelity they reached ({default})",
        type=fidelities,
        metavar="E[:S],...",
        none="one fidelity, --epochs on the whole split",
    ),
    Option(("--reduction-factor",), "one in this many candidates is promoted to the next fidelity ({default})"),
    Option(
        ("--no-overlap",),
        "train each generation's last fidelity before the next generation is bred, as successive halving alone "
        "does; by default it starts as soon as they are promoted and trains while the next generation is bred "
        "and trains its lower fidelities, so that every worker has work while the longest trainings run; the next "
        "generation is bred while those candidates still rank by their fitness one fidelity below",
        flag=True,
        const=False,
        dest="overlap",
    ),
)
FINAL = (
    Option(("--final-seeds",), "seeds per contender on test ({default}; 0 = skip)"),
    Option(("--final-epochs",), "epochs per final run ({default})"),
    Option(
        ("--catalogue",),
        "catalogue functions to pick the best from, on validation, to compare the evolved function with (default: "
        "{value})",
        type=_list,
    ),
    transfer_option("the evolved function, ReLU and the best catalogue function", "ReLU"),
)
# The defaults are EvolveConfig's own (a new run); a resumed run starts from the checkpoint's config.
STUDY = Study(
    "evolve",
    EvolveConfig,
    (
        (None, OWN),
        ("genetic programming", GP),
        ("successive halving", FIDELITIES),
        ("several tasks", TASKS),
        ("final evaluation", FINAL),
        *SHARED,
    ),
    without=("shape", "no_download", "loss", "patience", "device"),
    moved={"pack": "pack"},
    zero=("limit", "threads"),
)


def config_from_args(args, base: dict | None = None) -> EvolveConfig:
    """An :class:`EvolveConfig`: its defaults (or ``base``, a checkpoint's config) with the options
    given on the command line written over them."""
    if args.fidelities is not None and args.epochs is not None:
        raise ActlabError("give --epochs or --fidelities, not both: with fidelities, each one sets its own epochs")
    return build(EvolveConfig, settle(STUDY, args, checkpoint=base))


class EvolveResult(Result):
    """The result of :func:`evolve`; ``to_pandas()``: one row per final run (contender, seed),
    one column per activation slot of its plan."""

    COLUMNS = (
        "contender",  # evolved, relu, or the best catalogue function
        "seed",
        "test_accuracy",
        "val_accuracy",  # the run's best validation accuracy
        "status",
        "best_epoch",
    )

    def table(self) -> str:
        return format_results(self.results)

    def _contenders(self) -> list[dict[str, Any]]:
        return (self.results.get("final") or {}).get("contenders", [])

    def columns(self) -> list[str]:
        slots = dict.fromkeys(slot for c in self._contenders() for slot in c["plan"])
        return [*self.COLUMNS, *slots]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "contender": c["name"],
                "seed": seed,
                "test_accuracy": c["test_accuracy"][i],
                "val_accuracy": c["val_accuracy"][i],
                "status": c["status"][i],
                "best_epoch": c["best_epoch"][i],
                **c["plan"],
            }
            for c in self._contenders()
            for i, seed in enumerate(c["seeds"])
        ]

    @property
    def best(self) -> dict[str, Any] | None:
        """The best function found: ``functions`` (slot -> spec, as ``actlab.load`` rebuilds
        it from best.json), its validation ``fitness`` and simplified ``formulas``."""
        b = self.results.get("best")
        return None if b is None else {"functions": b["functions"], "fitness": b["fitness"], "formulas": b["formulas"]}

    def write_report(self, folder: Path) -> Path:
        return write_evolve_report(self.results, folder)

    def figure(self):
        from actlab.report.evolve import fitness_figure

        return fitness_figure(self.results)


def run(args) -> EvolveResult:
    """Run (or, with ``resume``, continue) the evolution the command line's ``args`` describe and
    write its report."""
    from actlab.studies.evolve.checkpoint import CHECKPOINT, read_checkpoint
    from actlab.studies.evolve.run import run_evolution

    if not args.out.strip():  # Path("") is the current folder
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    out = Path(args.out)
    base = None
    if args.resume and (out / CHECKPOINT).exists():
        base = read_checkpoint(out / CHECKPOINT)["config"]
    config = config_from_args(args, base)
    check_where(args)
    results = run_evolution(
        config,
        out,
        workers=args.workers,
        dask=args.dask,
        dask_timeout=args.dask_timeout,
        resume=args.resume,
        progress=not args.quiet,
        force=args.force,
        meanwhile=prepare_report,
    )
    if args.map:
        results["feature_map"] = _map(config, results)
        write_json_atomic(out / "results.json", results)
    write_evolve_report(results, out)
    return EvolveResult(results, out)


def evolve(**options: Any) -> EvolveResult:
    """Evolve activation functions with genetic programming, as ``actlab evolve`` does: the
    keywords are its long options with ``_`` (``final_seeds=3``, ``budget="60m"``), with its
    defaults; ``resume=True`` continues the evolution checkpointed in ``out`` (default
    ``evolve-out``). Returns an :class:`EvolveResult`; writes results.json, best.json and
    report.html to ``out``.

    ``tasks=["mnist1d", "mnist1d/cnn1d", "fashion-mnist:10000"]`` (or the text ``"mnist1d,digits"``)
    evolves for several tasks: a candidate's fitness is then its mean standing against ReLU,
    ``(score - ReLU's mean) / ReLU's seed spread`` per task, a property of the function alone
    (a rank within the generation would change from one generation to the next; see
    :mod:`actlab.studies.evolve.tasks`). ``stagnation=G`` restarts the population around the
    hall of fame's best after G generations without a better one.

    Example (a few seconds: iris, a population of 4 over 2 generations of 1 epoch, one final seed):

    >>> import actlab
    >>> result = actlab.evolve(dataset="iris", population=4, generations=2, epochs=1, final_seeds=1,
    ...                        final_epochs=1, out="iris-evolve", quiet=True)
    >>> 0 <= result.best["fitness"] <= 1
    True
    >>> len(result.results["history"])  # one record per generation
    2
    """
    return run(arguments(STUDY, "evolve", options))


def _map(config, results) -> dict:
    """The final evaluation's contenders in the surrogate's features (single mode: one function each)."""
    from actlab.surrogate import feature_points

    final = results.get("final")
    if not final or config.mode != "single":
        return {"points": [], "note": "a map needs the final evaluation of a single-mode evolution"}
    return feature_points(
        config.surrogate_task(), [(r["name"], r["plan"]["hidden"], r["mean"]) for r in final["contenders"]]
    )


def format_results(results) -> str:
    from actlab.studies.evolve.final import format_final

    t = results["totals"]
    tasks = results.get("tasks")
    on = ", ".join(tasks["names"]) if tasks else results["dataset"]["name"]
    lines = [
        f"evolution ({results['config']['mode']} mode) on {on}: "
        f"{len(results['history'])} generations, "
        f"{t['candidates']} candidates, {t['evaluations']} trained, {t['cache_hits']} from the cache, "
        f"{t['rejected']} rejected, {t['failed']} failed",
        f"hall of fame ({'mean standing against ReLU' if tasks else 'validation fitness'}, function, simplified):",
    ]
    for item in results["hall_of_fame"]:
        for i, (slot, text) in enumerate(item["functions"].items()):
            head = f"  {item['rank']}. {item['fitness']:.3f}  " if i == 0 else " " * 10
            if i == 0 and len(item.get("rungs") or ()) > 1:
                head += f"(fidelity {len(item['rungs'])}) "
            label = "" if slot == "all" else f"{slot:<6} "
            f = item["formulas"][slot]
            note = f"   ({f['note']})" if f.get("note") and not f.get("simplified") else ""
            lines.append(f"{head}{label}{text}   =  {f['text']}{note}")
    if results.get("final"):
        lines.append("")
        lines.append(format_final(results["final"]))
    return "\n".join(lines)


__all__ = ["STUDY", "EvolveResult", "config_from_args", "duration", "evolve", "fidelities", "format_results", "run"]
