"""``actlab evolve``: evolve new activation functions with genetic programming."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._io import write_json_atomic
from actlab.cli._catalogue import HelpFormatter
from actlab.cli._data_help import dataset_help, limit_help
from actlab.cli._settings import defaults, given, layered, show
from actlab.report.evolve import write_evolve_report
from actlab.training import OPTIMIZERS

# Option name -> path in EvolveConfig's dict. The defaults are EvolveConfig's own (a new run); a
# resumed run starts from the checkpoint's config and refuses different values. None on the
# command line means "not given".
NAMES = {
    "mode": "mode",
    "dataset": "dataset",
    "limit": "data_options.limit",
    "data_seed": "data_seed",
    "data_dir": "data_options.data_dir",
    "target": "data_options.target",
    "model": "model",
    "width": "model_options.width",
    "layers": "model_options.depth",
    "population": "population",
    "generations": "generations",
    "tournament": "tournament",
    "elite": "elite",
    "cxpb": "cxpb",
    "mutpb": "mutpb",
    "init_min": "init_min",
    "init_max": "init_max",
    "max_height": "max_height",
    "hof": "hall_of_fame",
    "unary": "unary",
    "binary": "binary",
    "mutations": "mutations",
    "seed": "seed",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "lr": "train.lr",
    "threads": "train.threads",
    "final_seeds": "final_seeds",
    "final_epochs": "final_epochs",
    "catalogue": "catalogue",
    "pack": "pack",
    "budget": "budget",
    "fidelities": "fidelities",
    "reduction_factor": "reduction_factor",
    "surrogate": "surrogate",
}
LISTS = ("unary", "binary", "mutations", "catalogue")


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


def _default(name: str) -> str:
    from actlab.studies.evolve.config import EvolveConfig

    value = defaults(EvolveConfig(), NAMES)[name]
    return ", ".join(map(str, value)) if isinstance(value, list) else show(value)  # a list wraps between its names


def add(sub) -> None:
    p = sub.add_parser(
        "evolve",
        help="evolve new activation functions with genetic programming (DEAP)",
        formatter_class=HelpFormatter,
        description="Genetic programming builds activation functions as expression trees over x from standard\n"
        "activations and binary operators; fitness is the validation accuracy after a short training.\n"
        "Modes: single (one function for every layer), triple (input, hidden and output functions in\n"
        "one individual), coevolution (three populations, each scored with the best of the others).\n"
        "A checkpoint is written after every generation; --resume continues a killed run. At the end\n"
        "the best function is compared on test with ReLU and the best catalogue function.\n\n"
        "Examples:\n"
        "  actlab evolve --dataset mnist1d --generations 5 --population 16 --out evolve-out\n"
        "  actlab evolve --mode coevolution --dataset iris --workers 4\n"
        "  actlab evolve --out evolve-out --resume\n"
        "  actlab evolve --dask tcp://scheduler:8786 --population 64 --generations 20\n"
        "Then: actlab show evolve-out/best.json; actlab.load('evolve-out/best.json') in Python.",
    )
    p.add_argument(
        "--mode", choices=("single", "triple", "coevolution"), help="single (default), triple or coevolution"
    )
    p.add_argument("--out", default="evolve-out", help="output folder (default evolve-out)")
    p.add_argument("--resume", action="store_true", help="continue the evolution checkpointed in --out (or start it)")
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    g = p.add_argument_group("data and model")
    g.add_argument("--dataset", help=dataset_help(_default("dataset")))
    g.add_argument("--limit", type=int, help=limit_help(f"{_default('limit')}; 0 = all"))
    g.add_argument("--data-seed", type=int, help=f"seed of the data split (default {_default('data_seed')})")
    g.add_argument("--data-dir", help="where dataset files are")
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument(
        "--model", help="mlp (default), cnn1d, seed-cnn (the CNN of 'SELU vs ReLU on CIFAR-10'), resnet or transformer"
    )
    g.add_argument("--width", type=int, help="mlp width (default 64)")
    g.add_argument("--layers", type=int, help="mlp layers (default 3: input, one hidden, output)")
    g = p.add_argument_group("genetic programming")
    g.add_argument("--population", type=int, help=f"individuals per population (default {_default('population')})")
    g.add_argument(
        "--generations", type=int, help=f"generations, the random one included (default {_default('generations')})"
    )
    g.add_argument("--tournament", type=int, help=f"tournament size (default {_default('tournament')})")
    g.add_argument("--elite", type=int, help=f"best individuals copied unchanged (default {_default('elite')})")
    g.add_argument("--cxpb", type=float, help=f"subtree crossover probability per pair (default {_default('cxpb')})")
    g.add_argument("--mutpb", type=float, help=f"mutation probability per individual (default {_default('mutpb')})")
    g.add_argument(
        "--init-min", type=int, help=f"ramped half-and-half: smallest initial height (default {_default('init_min')})"
    )
    g.add_argument(
        "--init-max", type=int, help=f"ramped half-and-half: largest initial height (default {_default('init_max')})"
    )
    g.add_argument(
        "--max-height", type=int, help=f"height limit of crossover and mutation (default {_default('max_height')})"
    )
    g.add_argument(
        "--hof",
        type=int,
        help=f"hall of fame size: how many of the best functions found are kept and "
        f"reported (default {_default('hof')})",
    )
    unary = _default("unary")
    g.add_argument(
        "--unary",
        help=f"one-argument functions the evolved expressions may use, separated by commas "
        f"(default: these {len(unary.split(', '))}: {unary})",
    )
    g.add_argument(
        "--binary",
        help=f"two-argument operations the evolved expressions may use, separated by commas "
        f"(default: {_default('binary')})",
    )
    g.add_argument(
        "--no-constants", action="store_true", help="no random constants in the expressions: x is their only input"
    )
    g.add_argument(
        "--surrogate",
        type=int,
        metavar="N",
        help="vary N times the population each generation and train the offspring a surrogate model "
        "predicts best (a quarter at random), single mode; see 'actlab screen' (default 0: off)",
    )
    g.add_argument(
        "--learn-constants",
        action="store_true",
        help="train each candidate's constants per layer with the weights (parametric activation "
        "functions); best.json keeps the trained values and actlab.load rebuilds them",
    )
    g.add_argument(
        "--mutations",
        help="mutations used, separated by commas (default: all four: uniform, a random new "
        "subtree; node, one node replaced; shrink, a subtree replaced by one of its "
        "branches; ephemeral, a constant drawn again)",
    )
    g.add_argument(
        "--budget",
        type=duration,
        metavar="TIME",
        help="wall-clock time for the generations, counting every earlier run of a resumed evolution, e.g. 60m or "
        "2h (a bare number is minutes); the evolution ends before a generation would overrun it, "
        "keeps its checkpoint and runs the final evaluation (default: no limit)",
    )
    g.add_argument(
        "--seed", type=int, help=f"seed of the evolution and of the fitness training (default {_default('seed')})"
    )
    g = p.add_argument_group("fitness training")
    g.add_argument("--epochs", type=int, help=f"epochs per candidate (default {_default('epochs')})")
    g.add_argument("--batch-size", type=int, help=f"batch size (default {_default('batch_size')})")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"optimizer (default {_default('optimizer')})")
    g.add_argument("--lr", type=float, help=f"learning rate (default {_default('lr')})")
    g.add_argument(
        "--threads", type=int, help=f"torch threads per evaluation (default {_default('threads')}; 0 = torch's choice)"
    )
    g.add_argument(
        "--fidelities",
        type=fidelities,
        metavar="E[:S],...",
        help="successive halving: every new candidate trains E epochs on a share S of the training split "
        "(default 1) at the first fidelity; the best 1 in --reduction-factor of those go on to the "
        "next, e.g. 2:0.25,6:0.5,15; candidates rank by the highest fidelity they reached "
        "(default: one fidelity, --epochs on the whole split)",
    )
    g.add_argument(
        "--reduction-factor",
        type=int,
        help=f"one in this many candidates is promoted to the next fidelity (default {_default('reduction_factor')})",
    )
    g = p.add_argument_group("final evaluation")
    g.add_argument(
        "--final-seeds", type=int, help=f"seeds per contender on test (default {_default('final_seeds')}; 0 = skip)"
    )
    g.add_argument("--final-epochs", type=int, help=f"epochs per final run (default {_default('final_epochs')})")
    g.add_argument(
        "--catalogue",
        help=f"catalogue functions to pick the best from, on validation, to compare the "
        f"evolved function with (default: {_default('catalogue')})",
    )
    g = p.add_argument_group("where candidates train")
    g.add_argument("--workers", type=int, default=1, help="local worker processes, one thread each (default 1)")
    g.add_argument(
        "--pack",
        type=int,
        help=f"MLP candidates trained together in one packed model, each as if alone "
        f"(default {_default('pack')}; 1 = one by one)",
    )
    g.add_argument("--dask", metavar="ADDRESS", help="evaluate on a Dask cluster, e.g. tcp://127.0.0.1:8786")
    g.add_argument(
        "--dask-timeout", type=float, default=10.0, help="seconds to wait for the Dask scheduler (default 10)"
    )
    p.add_argument(
        "--map",
        action="store_true",
        help="add to the report where each finalist sits in the features "
        "of actlab's surrogate (a 2-D map coloured by accuracy)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_evolve)


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items


def config_from_args(args, base: dict | None = None):
    """An :class:`EvolveConfig`: its defaults (or ``base``, a checkpoint's config) with the options
    given on the command line written over them."""
    from actlab.studies.evolve.config import EvolveConfig

    typed = given(args, NAMES)
    for key in LISTS:
        if key in typed:
            typed[key] = _list(typed[key])
    if typed.get("limit") == 0:  # all examples
        typed["limit"] = None
    if typed.get("threads") == 0:  # the command line's "torch's choice"
        typed["threads"] = None
    d = layered(base if base is not None else EvolveConfig().to_dict(), NAMES, typed)
    if "limit" in typed and typed["limit"] is None:
        d.get("data_options", {}).pop("limit", None)
    if "fidelities" in typed and "epochs" in typed:
        raise ActlabError("give --epochs or --fidelities, not both: with fidelities, each one sets its own epochs")
    if args.no_constants:
        d["constants"] = False
    if args.learn_constants:
        d["learn_constants"] = True
    if ("width" in typed or "layers" in typed) and d.get("model", "mlp") != "mlp":
        raise ActlabError(f"--width and --layers apply to the mlp model only, not {d.get('model')!r}")
    return EvolveConfig.from_dict(d)


def cmd_evolve(args) -> int:
    from actlab.studies.evolve.checkpoint import CHECKPOINT, read_checkpoint
    from actlab.studies.evolve.run import run_evolution

    if not args.out.strip():  # Path("") is the current folder
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    out = Path(args.out)
    base = None
    if args.resume and (out / CHECKPOINT).exists():
        base = read_checkpoint(out / CHECKPOINT)["config"]
    config = config_from_args(args, base)
    V.integer("--workers", args.workers, 1, V.MAX_WORKERS)
    V.number("--dask-timeout", args.dask_timeout, 0, 3600, lo_open=True)
    results = run_evolution(
        config,
        out,
        workers=args.workers,
        dask=args.dask,
        dask_timeout=args.dask_timeout,
        resume=args.resume,
        progress=not args.quiet,
        force=args.force,
    )
    if args.map:
        results["feature_map"] = _map(config, results)
        write_json_atomic(out / "results.json", results)
    write_evolve_report(results, out)
    print(format_results(results))
    print(f"results: {out / 'results.json'}\nbest:    {out / 'best.json'}\nreport:  {out / 'report.html'}")
    return 0


def _map(config, results) -> dict:
    """The final evaluation's contenders in the surrogate's features (single mode: one function each)."""
    from actlab.surrogate.features import Task, feature_points

    final = results.get("final")
    if not final or config.mode != "single":
        return {"points": [], "note": "a map needs the final evaluation of a single-mode evolution"}
    task = Task(
        dataset=config.dataset,
        model=config.model,
        data_seed=config.data_seed,
        model_options=dict(config.model_options),
        data_options=dict(config.data_options),
        loss=config.train.loss,
        seed=config.seed,
    )
    return feature_points(task, [(r["name"], r["plan"]["hidden"], r["mean"]) for r in final["contenders"]])


def format_results(results) -> str:
    from actlab.studies.evolve.final import format_final

    t = results["totals"]
    lines = [
        f"evolution ({results['config']['mode']} mode) on {results['dataset']['name']}: {len(results['history'])} generations, "
        f"{t['candidates']} candidates, {t['evaluations']} trained, {t['cache_hits']} from the cache, "
        f"{t['rejected']} rejected, {t['failed']} failed",
        "hall of fame (validation fitness, function, simplified):",
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
