"""``actlab compare``: train every (activation, seed) pair and compare them properly."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import check_out, write_json_atomic
from actlab.catalogue import split_specs
from actlab.cli._catalogue import HelpFormatter
from actlab.cli._data_help import dataset_help, limit_help
from actlab.cli._settings import defaults, given, merge, show
from actlab.execution import DEFAULT_PACK
from actlab.studies.compare import CompareConfig
from actlab.training import OPTIMIZERS, TrainConfig

# --activations articles: the functions of the source articles (the course notes, the Keras overview, the
# blog posts "Activation tuning in Keras", "SELU vs ReLU on CIFAR-10" and "FReLU in Keras"), FReLU aside:
# it needs images. "seeds" is the name the list had first, still understood.
ARTICLES = "step,sigmoid,hard_sigmoid,tanh,softsign,softplus,relu,linear,softmax,leaky_relu,prelu,elu,selu,swish,mish"
OLD_NAMES = {"seeds": "articles"}

# Presets reproduce the experiments of the source articles; explicit options given on the command line win.
PRESETS: dict[str, dict[str, Any]] = {
    "keras-activations": {
        "help": "the article 'Activation tuning in Keras': an MLP on a MNIST-family set, time and accuracy",
        "dataset": ("mnist", "fashion-mnist", "kmnist", "mnist1d"),
        "model": "mlp",
        "width": 128,
        "depth": 3,
        "activations": "linear,sigmoid,hard_sigmoid,tanh,softsign,softplus,relu,elu,selu,swish",
        "baseline": "relu",
        "epochs": 10,
        "batch_size": 128,
        "limit": 12000,
        "seeds": 3,
    },
    "selu-vs-relu": {
        "help": "the article 'SELU vs ReLU on CIFAR-10': its CNN (model seed-cnn) on CIFAR-10 where present, else "
        "Fashion-MNIST padded to 32x32x3",
        "dataset": ("cifar10", "fashion-mnist"),
        "model": "seed-cnn",
        "shape": "image32x3",
        "activations": "relu,selu",
        "baseline": "relu",
        "epochs": 50,
        "batch_size": 100,
        "seeds": 3,
        "patience": 10,
    },
    "frelu": {
        "help": "the article 'FReLU in Keras': FReLU vs ReLU in a small residual CNN (CIFAR-10 where present, "
        "else Fashion-MNIST)",
        "dataset": ("cifar10", "fashion-mnist"),
        "model": "resnet",
        "activations": "relu,frelu",
        "baseline": "relu",
        "epochs": 10,
        "batch_size": 128,
        "limit": 10000,
        "seeds": 3,
    },
}
# Option name -> path in CompareConfig's dict: the defaults are CompareConfig's own.
NAMES = {
    "dataset": "dataset",
    "model": "model",
    "activations": "activations",
    "seeds": "seeds",
    "epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "optimizer": "train.optimizer",
    "loss": "train.loss",
    "patience": "train.patience",
}
DEFAULTS = {**defaults(CompareConfig(), NAMES), "shape": "auto", "out": "compare-out"}  # + what only the command has
DEFAULTS["activations"] = show(DEFAULTS["activations"])


def add(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare activation functions on a dataset and model, over several seeds",
        formatter_class=HelpFormatter,
        description="Train every (activation, seed) pair and compare: test accuracy mean ± std, 95% CI, time per\n"
        "epoch, over-fitting (train - test gap), a permutation test against the baseline. Writes\n"
        "results.json, curves.png, time_accuracy.png, diagnostics.png and report.html to --out.\n"
        "Rerunning the same command on the same --out skips the runs already finished; several\n"
        "processes on one --out split the runs between them.\n\n"
        "Examples:\n"
        "  actlab compare --dataset mnist1d --model mlp --activations relu,selu,tanh,sigmoid,swish,mish --seeds 5\n"
        "  actlab compare --preset selu-vs-relu --epochs 10\n"
        "  actlab compare --dataset csv:my.csv --target label --activations relu,gelu\n"
        "  actlab compare --preset selu-vs-relu --workers 2\n\n"
        "Presets (experiments of the articles actlab started from):\n"
        + "\n".join(
            textwrap.fill(
                v["help"], 78, initial_indent=f"  {k:<18} ", subsequent_indent=" " * 21, break_on_hyphens=False
            )
            for k, v in PRESETS.items()
        ),
    )
    p.add_argument(
        "--preset", choices=list(PRESETS), help="start from an experiment of the source articles (see above)"
    )
    p.add_argument("--dataset", help=dataset_help(DEFAULTS["dataset"]))
    p.add_argument(
        "--model",
        help=f"mlp, seed-cnn (the CNN of 'SELU vs ReLU on CIFAR-10'), resnet, cnn1d or "
        f"transformer (default {DEFAULTS['model']})",
    )
    p.add_argument(
        "--activations",
        help=f"activation specs separated by commas (default {DEFAULTS['activations'].replace(',', ', ')}), "
        f"or 'articles': the {len(split_specs(ARTICLES))} functions of the source "
        f"articles ({ARTICLES.replace(',', ', ')})",
    )
    p.add_argument(
        "--baseline",
        help="activation the others are tested against (default: relu where it is compared, else the first)",
    )
    p.add_argument("--seeds", type=int, help=f"runs per activation (default {DEFAULTS['seeds']})")
    p.add_argument("--out", help=f"output folder (default {DEFAULTS['out']})")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, help=f"maximum epochs (default {DEFAULTS['epochs']})")
    g.add_argument("--batch-size", type=int, help=f"batch size (default {DEFAULTS['batch_size']})")
    g.add_argument("--optimizer", choices=list(OPTIMIZERS), help=f"optimizer (default {DEFAULTS['optimizer']})")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's own)")
    g.add_argument(
        "--loss",
        help="cross_entropy (default), binary_crossentropy, hinge, squared_hinge, mse, mae, kl_divergence, poisson, cosine",
    )
    g.add_argument(
        "--patience",
        type=int,
        help=f"early-stopping patience in epochs, 0 = never stop early (default {DEFAULTS['patience']})",
    )
    g.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per run (default 1: small models run fastest, and timings stay stable "
        "on a busy machine; 0 = torch's choice)",
    )
    g.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
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
        help=f"MLP runs of one seed trained together in one packed model, each as if alone (default "
        f"{DEFAULT_PACK}; 1 = one by one)",
    )
    g.add_argument("--dask", metavar="ADDRESS", help="train on a Dask cluster, e.g. tcp://scheduler:8786")
    g = p.add_argument_group("model and data")
    g.add_argument("--width", type=int, help="mlp width (default 64)")
    g.add_argument("--layers", "--depth", dest="depth", type=int, help="mlp layers (default 3; --depth is the same)")
    g.add_argument("--limit", type=int, help=limit_help())
    g.add_argument(
        "--shape", help=f"{DEFAULTS['shape']} (default: the dataset's own shape), flat, image28 or image32x3"
    )
    g.add_argument("--target", help="target column of a csv: dataset")
    g.add_argument(
        "--data-dir",
        help="where dataset files are looked for and downloaded to (default: $ACTLAB_DATA, else ~/.cache/actlab)",
    )
    g.add_argument("--no-download", action="store_true", help="never download; fail if files are missing")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the train/validation/test split (default 0)")
    p.add_argument("--force", action="store_true", help="write into an --out that holds another command's results")
    p.add_argument(
        "--map",
        action="store_true",
        help="add to the report where each function sits in the features "
        "of actlab's surrogate (a 2-D map coloured by accuracy)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_compare)


OPTIONS = (
    "dataset",
    "model",
    "activations",
    "baseline",
    "seeds",
    "out",
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "loss",
    "patience",
    "width",
    "depth",
    "limit",
    "shape",
    "target",
)


def _settings(args) -> dict[str, Any]:
    """Defaults, then the preset, then what the user typed."""
    preset = {k: v for k, v in PRESETS[args.preset].items() if k != "help"} if args.preset else None
    return merge(DEFAULTS, preset, given(args, OPTIONS))


def _named_list(text: str) -> str:
    """``--activations``: a named list (``articles``), or the specs as given."""
    key = text.strip().lower()
    if key in OLD_NAMES:
        print(f"actlab: note: --activations {key} is now called {OLD_NAMES[key]!r}; both work", file=sys.stderr)
        key = OLD_NAMES[key]
    return ARTICLES if key == "articles" else text


def _choose_dataset(choice, data_dir) -> str:
    from actlab.data import available

    if isinstance(choice, str):
        return choice
    for name in choice:
        if available(name, data_dir=data_dir):
            return name
    return choice[-1]


def cmd_compare(args) -> int:
    from actlab.data import load
    from actlab.execution import Runner
    from actlab.report.compare import write_report
    from actlab.studies.compare import CompareConfig, format_table, run_compare

    s = _settings(args)
    acts = split_specs(_named_list(s["activations"]))
    if s["seeds"] < 1:
        raise ActlabError(f"--seeds must be at least 1, got {s['seeds']}")
    patience = s["patience"] if s["patience"] else None
    train_cfg = TrainConfig(
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        optimizer=s["optimizer"],
        lr=s.get("lr"),
        loss=s["loss"],
        patience=patience,
        threads=args.threads or None,
        device=args.device,
    )
    model_options = {k: s[k] for k in ("width", "depth") if s.get(k) is not None}
    if model_options and s["model"] != "mlp":
        raise ActlabError(f"--width and --depth apply to the mlp model only, not {s['model']!r}")
    dataset = _choose_dataset(s["dataset"], args.data_dir)
    data_options = {
        k: v
        for k, v in {
            "limit": s.get("limit"),
            "shape": s["shape"],
            "target": s.get("target"),
            "data_dir": args.data_dir,
            "download": not args.no_download,
        }.items()
        if v is not None
    }
    config = CompareConfig(
        dataset=dataset,
        model=s["model"],
        activations=acts,
        seeds=s["seeds"],
        baseline=s.get("baseline"),
        train=train_cfg,
        model_options=model_options,
        data_options={k: v for k, v in data_options.items() if k not in ("data_dir", "download")},
        data_seed=args.data_seed,
    )
    location = {k: v for k, v in data_options.items() if k in ("data_dir", "download")}
    out = check_out(s["out"])  # before loading: an unusable --out fails at once (run_compare creates it)
    data = load(dataset, seed=args.data_seed, **data_options)
    print(
        f"compare: {len(acts)} activations x {config.seeds} seeds on {data.name} "
        f"({len(data.train)} train / {len(data.val)} val / {len(data.test)} test), model {config.model}"
    )
    print(f"baseline: {config.baseline}" + ("" if s.get("baseline") else " (the default; --baseline NAME to change)"))
    with Runner(workers=args.workers, dask=args.dask, pack=args.pack, threads=args.threads or None) as runner:
        if runner.name != "this process":
            print(f"training on {runner.name}")
        results = run_compare(
            config, out, data=data, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    if args.map:
        from actlab.surrogate.features import Task, feature_points

        results["feature_map"] = feature_points(
            Task(
                dataset=config.dataset,
                model=config.model,
                data_seed=config.data_seed,
                model_options=config.model_options,
                data_options=config.data_options,
                loss=config.train.loss,
                seed=config.train.seed,
            ),
            [(r["activation"], r["activation"], r["mean"]) for r in results["summary"]],
            data,
        )
        write_json_atomic(Path(out) / "results.json", results)
    write_report(results, out)
    print(format_table(results))
    print(f"results: {Path(out) / 'results.json'}\nreport:  {Path(out) / 'report.html'}")
    return 0
