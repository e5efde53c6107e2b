"""``actlab screen``: rank activation functions without training them, train the promising ones."""

from __future__ import annotations

from pathlib import Path

from actlab._errors import ActlabError
from actlab._io import check_out
from actlab.cli._catalogue import HelpFormatter
from actlab.cli._data_help import dataset_help, limit_help
from actlab.cli._settings import defaults, given, layered
from actlab.execution import DEFAULT_PACK
from actlab.surrogate.features import REGRESSORS
from actlab.training import OPTIMIZERS, TrainConfig

# Option name -> path in ScreenConfig's dict: the defaults are ScreenConfig's own.
NAMES = {
    "dataset": "dataset",
    "model": "model",
    "seeds": "seeds",
    "train_top": "train_top",
    "train_random": "train_random",
    "per_round": "per_round",
    "regressor": "regressor",
    "seed": "seed",
    "data_seed": "data_seed",
    "epochs": "train.epochs",
    "patience": "train.patience",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "lr": "train.lr",
    "width": "model_options.width",
    "layers": "model_options.depth",
    "limit": "data_options.limit",
    "target": "data_options.target",
}


def _defaults() -> dict:
    from actlab.studies.screen import ScreenConfig

    return defaults(ScreenConfig(candidates=["relu"]), NAMES)


def add(sub) -> None:
    d = _defaults()
    p = sub.add_parser(
        "screen",
        help="rank activation functions without training them, then train the promising ones",
        formatter_class=HelpFormatter,
        description="Rank every candidate by a surrogate model in seconds: features of the function at the\n"
        "model's initialisation (its curve, the Fisher information's spectrum on one batch, effective\n"
        "ranks, gradient norms) and a regressor fit on functions already trained. Trains the 8 usual\n"
        "functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh), then the candidates\n"
        "predicted best (the surrogate fit again after each round) and a few random ones, and says how\n"
        "well prediction and training agree (Spearman's rank correlation). Writes results.json,\n"
        "predicted.png, map.png and report.html to --out. Rerunning the same command on the same --out\n"
        "trains nothing twice.\n\n"
        "Examples:\n"
        "  actlab screen --dataset mnist1d --model mlp --candidates all --out screen-out\n"
        "  actlab screen --dataset digits --candidates all --train-top 12 --train-random 6 --seeds 3\n"
        "  actlab screen --candidates 'relu,gelu,mish,expr:x*tanh(x),expr:max(x, sin(x))' --train-top 2",
    )
    p.add_argument("--dataset", help=dataset_help(d["dataset"]))
    p.add_argument("--model", help=f"mlp, seed-cnn, resnet, cnn1d or transformer (default {d['model']})")
    p.add_argument(
        "--candidates",
        default="all",
        help="all (default: every function of the catalogue), or specs separated by commas, names or "
        "expressions (expr:x*tanh(x))",
    )
    p.add_argument(
        "--train-top", type=int, help=f"candidates predicted best that are trained (default {d['train_top']})"
    )
    p.add_argument(
        "--train-random",
        type=int,
        help=f"candidates drawn at random that are trained, to check the ranking (default {d['train_random']})",
    )
    p.add_argument(
        "--per-round",
        type=int,
        help=f"top candidates trained between two fits of the surrogate (default {d['per_round']})",
    )
    p.add_argument("--seeds", type=int, help=f"trainings per function (default {d['seeds']})")
    p.add_argument(
        "--regressor",
        choices=REGRESSORS,
        help=f"the surrogate's regressor: trees (extremely randomised trees), forest (random forest), gp "
        f"(Gaussian process), knn (3 nearest neighbours, as AQuaSurF), ridge (Bayesian ridge) "
        f"(default {d['regressor']}: it ranked best in actlab's measurements)",
    )
    p.add_argument("--seed", type=int, help=f"seed of the random picks (default {d['seed']})")
    p.add_argument("--out", default="screen-out", help="output folder (default screen-out)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, help=f"maximum epochs (default {d['epochs']})")
    g.add_argument(
        "--patience",
        type=int,
        help=f"early-stopping patience in epochs, 0 = never stop early (default {d['patience']})",
    )
    g.add_argument("--batch-size", type=int, help=f"batch size (default {d['batch_size']})")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"optimizer (default {d['optimizer']})")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's own)")
    g.add_argument("--threads", type=int, default=1, help="torch threads per training (default 1; 0 = torch's choice)")
    g = p.add_argument_group("where runs train")
    g.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local worker processes, --threads torch threads each (default 1: this process)",
    )
    g.add_argument(
        "--pack",
        type=int,
        default=DEFAULT_PACK,
        help=f"MLP trainings of one round and seed trained together, each as if alone (default {DEFAULT_PACK})",
    )
    g = p.add_argument_group("model and data")
    g.add_argument("--width", type=int, help="mlp width (default 64)")
    g.add_argument("--layers", "--depth", dest="layers", type=int, help="mlp layers (default 3; --depth is the same)")
    g.add_argument("--limit", type=int, help=limit_help())
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument(
        "--data-dir",
        help="where dataset files are looked for and downloaded to (default: $ACTLAB_DATA, else ~/.cache/actlab)",
    )
    g.add_argument("--data-seed", type=int, help="seed of the train/validation/test split (default 0)")
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_screen)


def _config(args):
    from actlab.studies.screen import ScreenConfig, candidates

    typed = given(args, NAMES)
    never = typed.get("patience") == 0  # 0 on the command line: never stop early
    if never:
        del typed["patience"]
    if args.model not in (None, "mlp") and ("width" in typed or "layers" in typed):
        raise ActlabError(f"--width and --layers apply to the mlp model only, not {args.model!r}")
    d = layered(ScreenConfig(candidates=["relu"]).to_dict(), NAMES, typed)
    if never:
        d["train"]["patience"] = None
    d["candidates"] = candidates(args.candidates)
    d["train"] = TrainConfig.from_dict({**d["train"], "threads": args.threads or None})
    return ScreenConfig(**d)


def cmd_screen(args) -> int:
    from actlab.execution import Runner
    from actlab.report.screen import write_screen_report
    from actlab.studies.screen import format_table, run_screen

    config = _config(args)  # every spec and number checked before any file is made or data loaded
    out = check_out(args.out)
    location = {"data_dir": args.data_dir} if args.data_dir else {}
    with Runner(workers=args.workers, pack=args.pack, threads=args.threads or None) as runner:
        if runner.name != "this process":
            print(f"training on {runner.name}")
        results = run_screen(
            config, out, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    write_screen_report(results, out)
    print(format_table(results))
    print(f"results: {Path(out) / 'results.json'}\nreport:  {Path(out) / 'report.html'}")
    return 0
