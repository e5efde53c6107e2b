"""``actlab evolve``: evolve new activation functions with genetic programming."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import _validate as V
from .._errors import ActlabError
from ..training import OPTIMIZERS

# Run-defining options: None on the command line means "not given" (the defaults below apply to
# a new run; a resumed run keeps the checkpoint's values and refuses different ones).
DEFAULTS = {
    "mode": "single", "dataset": "mnist1d", "limit": 2000, "data_seed": 0, "model": "mlp", "width": None, "layers": None,
    "population": 16, "generations": 5, "tournament": 3, "elite": 1, "cxpb": 0.6, "mutpb": 0.3, "init_min": 1,
    "init_max": 3, "max_height": 6, "hof": 5, "unary": None, "binary": None, "mutations": None, "seed": 0,
    "epochs": 4, "batch_size": 32, "optimizer": "adam", "lr": 3e-3, "threads": 1, "final_seeds": 5,
    "final_epochs": 15, "catalogue": None, "pack": 32, "data_dir": None, "target": None,
}


def add(sub) -> None:
    p = sub.add_parser(
        "evolve", help="evolve new activation functions with genetic programming (DEAP)",
        formatter_class=lambda prog: argparse.RawDescriptionHelpFormatter(prog, max_help_position=30),
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
                    "Then: actlab show evolve-out/best.json; actlab.load('evolve-out/best.json') in Python.")
    p.add_argument("--mode", choices=("single", "triple", "coevolution"), help="single (default), triple or coevolution")
    p.add_argument("--out", default="evolve-out", help="output folder (default evolve-out)")
    p.add_argument("--resume", action="store_true", help="continue the evolution checkpointed in --out (or start it)")
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    g = p.add_argument_group("data and model")
    g.add_argument("--dataset", help="dataset (default mnist1d); csv:PATH / npz:PATH work too")
    g.add_argument("--limit", type=int, help="training examples used (default 2000; 0 = all)")
    g.add_argument("--data-seed", type=int, help="seed of the data split (default 0)")
    g.add_argument("--data-dir", help="where dataset files are")
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument("--model", help="mlp (default), cnn1d, seed-cnn or resnet")
    g.add_argument("--width", type=int, help="mlp width (default 64)")
    g.add_argument("--layers", type=int, help="mlp layers (default 3: input, one hidden, output)")
    g = p.add_argument_group("genetic programming")
    g.add_argument("--population", type=int, help="individuals per population (default 16)")
    g.add_argument("--generations", type=int, help="generations, the random one included (default 5)")
    g.add_argument("--tournament", type=int, help="tournament size (default 3)")
    g.add_argument("--elite", type=int, help="best individuals copied unchanged (default 1)")
    g.add_argument("--cxpb", type=float, help="subtree crossover probability per pair (default 0.6)")
    g.add_argument("--mutpb", type=float, help="mutation probability per individual (default 0.3)")
    g.add_argument("--init-min", type=int, help="ramped half-and-half: smallest initial height (default 1)")
    g.add_argument("--init-max", type=int, help="ramped half-and-half: largest initial height (default 3)")
    g.add_argument("--max-height", type=int, help="height limit of crossover and mutation (default 6)")
    g.add_argument("--hof", type=int, help="hall of fame size (default 5)")
    g.add_argument("--unary", help="comma list of unary primitives (default: all 21)")
    g.add_argument("--binary", help="comma list of binary primitives (default add,sub,mul,div,max,min)")
    g.add_argument("--no-constants", action="store_true", help="no ephemeral constants, x is the only terminal")
    g.add_argument("--mutations", help="comma list from uniform,node,shrink,ephemeral (default all)")
    g.add_argument("--seed", type=int, help="seed of the evolution and of the fitness training (default 0)")
    g = p.add_argument_group("fitness training")
    g.add_argument("--epochs", type=int, help="epochs per candidate (default 4)")
    g.add_argument("--batch-size", type=int, help="batch size (default 32)")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), help="optimizer (default adam)")
    g.add_argument("--lr", type=float, help="learning rate (default 0.003)")
    g.add_argument("--threads", type=int, help="torch threads per evaluation (default 1; 0 = torch's choice)")
    g = p.add_argument_group("final evaluation")
    g.add_argument("--final-seeds", type=int, help="seeds per contender on test (default 5; 0 = skip)")
    g.add_argument("--final-epochs", type=int, help="epochs per final run (default 15)")
    g.add_argument("--catalogue", help="catalogue functions to pick the best from, on validation "
                                       "(default leaky_relu,elu,selu,gelu,silu,mish,tanh,softplus)")
    g = p.add_argument_group("where candidates train")
    g.add_argument("--workers", type=int, default=1, help="local worker processes, one thread each (default 1)")
    g.add_argument("--pack", type=int, help="MLP candidates trained together in one packed model, each as if alone "
                                         "(default 32; 1 = one by one)")
    g.add_argument("--dask", metavar="ADDRESS", help="evaluate on a Dask cluster, e.g. tcp://127.0.0.1:8786")
    g.add_argument("--dask-timeout", type=float, default=10.0, help="seconds to wait for the Dask scheduler (default 10)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_evolve)


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items


def _given(args) -> dict:
    return {k: getattr(args, k) for k in DEFAULTS if getattr(args, k, None) is not None}


def config_from_args(args, base: dict | None = None):
    """An :class:`EvolveConfig` from the options given, on top of ``base`` (a checkpoint's config)
    or of the defaults."""
    from ..evolve.run import EvolveConfig

    given = _given(args)
    if base is None:
        s = {**DEFAULTS, **given}
        d = {}
    else:
        d = json.loads(json.dumps(base))
        s = given
    train = dict(d.get("train") or EvolveConfig().train.to_dict())
    for key, name in (("epochs", "epochs"), ("batch_size", "batch_size"), ("optimizer", "optimizer"), ("lr", "lr"),
                      ("threads", "threads")):
        if key in s:
            train[name] = s[key]
    if train.get("threads") == 0:  # the command line's "torch's choice"
        train["threads"] = None
    d["train"] = train
    for key in ("mode", "dataset", "data_seed", "model", "population", "generations", "tournament", "elite", "cxpb",
                "mutpb", "init_min", "init_max", "max_height", "seed", "final_seeds", "final_epochs", "pack"):
        if key in s:
            d[key] = s[key]
    if "hof" in s:
        d["hall_of_fame"] = s["hof"]
    for key in ("unary", "binary", "mutations", "catalogue"):
        if s.get(key) is not None:
            d[key] = _list(s[key])
    if args.no_constants:
        d["constants"] = False
    data_options = dict(d.get("data_options") or {}) if base is not None else {}
    if "limit" in s:
        if s["limit"]:
            data_options["limit"] = s["limit"]
        else:
            data_options.pop("limit", None)
    for key in ("data_dir", "target"):
        if s.get(key) is not None:
            data_options[key] = s[key]
    d["data_options"] = data_options
    model_options = dict(d.get("model_options") or {}) if base is not None else {}
    if s.get("width") is not None or s.get("layers") is not None:
        if d.get("model", "mlp") != "mlp":
            raise ActlabError(f"--width and --layers apply to the mlp model only, not {d.get('model')!r}")
        if s.get("width") is not None:
            model_options["width"] = s["width"]
        if s.get("layers") is not None:
            model_options["depth"] = s["layers"]
    d["model_options"] = model_options
    return EvolveConfig.from_dict(d)


def cmd_evolve(args) -> int:
    from ..evolve.run import CHECKPOINT, read_checkpoint, run_evolution

    if not args.out.strip():  # Path("") is the current folder
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    out = Path(args.out)
    base = None
    if args.resume and (out / CHECKPOINT).exists():
        base = read_checkpoint(out / CHECKPOINT)["config"]
    config = config_from_args(args, base)
    V.integer("--workers", args.workers, 1, V.MAX_WORKERS)
    V.number("--dask-timeout", args.dask_timeout, 0, 3600, lo_open=True)
    results = run_evolution(config, out, workers=args.workers, dask=args.dask, dask_timeout=args.dask_timeout,
                            resume=args.resume, progress=not args.quiet, force=args.force)
    print(format_results(results))
    print(f"results: {out / 'results.json'}\nbest:    {out / 'best.json'}\nreport:  {out / 'report.html'}")
    return 0


def format_results(results) -> str:
    from ..evolve.final import format_final

    t = results["totals"]
    lines = [f"{results['config']['mode']} evolution on {results['dataset']['name']}: {len(results['history'])} generations, "
             f"{t['candidates']} candidates, {t['evaluations']} trained, {t['cache_hits']} cache hits, "
             f"{t['rejected']} rejected, {t['failed']} failed", "hall of fame (validation fitness, function, simplified):"]
    for item in results["hall_of_fame"]:
        for i, (slot, text) in enumerate(item["functions"].items()):
            head = f"  {item['rank']}. {item['fitness']:.3f}  " if i == 0 else " " * 10
            label = "" if slot == "all" else f"{slot:<6} "
            f = item["formulas"][slot]
            note = f"   ({f['note']})" if f.get("note") and not f.get("simplified") else ""
            lines.append(f"{head}{label}{text}   =  {f['text']}{note}")
    if results.get("final"):
        lines.append("")
        lines.append(format_final(results["final"]))
    return "\n".join(lines)
