"""``actlab compare``: train every (activation, seed) pair and compare them properly."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

from actlab._io import check_out, write_json_atomic
from actlab.catalogue import split_specs
from actlab.cli._options import SHARED, Option, Study, add_options, build, check_where, settle, signature_default
from actlab.data import available, load
from actlab.studies.compare import CompareConfig

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
        "layers": 3,
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
OWN = (
    Option(
        ("--preset",),
        "start from an experiment of the source articles (see above)",
        type=str,
        choices=lambda: list(PRESETS),
        path=None,
    ),
    Option(
        ("--activations",),
        "activation specs separated by commas ({default}), or 'articles': the {articles} functions of the source "
        "articles ({listed})",
        type=str,
        words=lambda: {"articles": len(split_specs(ARTICLES)), "listed": ARTICLES.replace(",", ", ")},
    ),
    Option(
        ("--baseline",),
        "activation the others are tested against (default: relu where it is compared, else the first)",
        type=str,
    ),
    Option(("--seeds",), "runs per activation ({default})"),
    Option(
        ("--map",),
        "add to the report where each function sits in the features of actlab's surrogate (a 2-D map coloured "
        "by accuracy)",
        flag=True,
        path=None,
    ),
)
STUDY = Study("compare", CompareConfig, ((None, OWN), *SHARED), moved={"data_dir": None})  # where, not what

DESCRIPTION = """\
Train every (activation, seed) pair and compare: test accuracy mean ± std, 95% CI, time per
epoch, over-fitting (train - test gap), a permutation test against the baseline. Writes
results.json, curves.png, time_accuracy.png, diagnostics.png and report.html to --out.
Rerunning the same command on the same --out skips the runs already finished; several
processes on one --out split the runs between them.

Examples:
  actlab compare --dataset mnist1d --model mlp --activations relu,selu,tanh,sigmoid,swish,mish --seeds 5
  actlab compare --preset selu-vs-relu --epochs 10
  actlab compare --dataset csv:my.csv --target label --activations relu,gelu
  actlab compare --preset selu-vs-relu --workers 2

Presets (experiments of the articles actlab started from):
"""


def add(p) -> None:
    p.description = DESCRIPTION + "\n".join(
        textwrap.fill(v["help"], 78, initial_indent=f"  {k:<18} ", subsequent_indent=" " * 21, break_on_hyphens=False)
        for k, v in PRESETS.items()
    )
    add_options(p, STUDY)
    p.set_defaults(func=cmd_compare)


def _named_list(text: str) -> str:
    """``--activations``: a named list (``articles``), or the specs as given."""
    key = text.strip().lower()
    if key in OLD_NAMES:
        print(f"actlab: note: --activations {key} is now called {OLD_NAMES[key]!r}; both work", file=sys.stderr)
        key = OLD_NAMES[key]
    return ARTICLES if key == "articles" else text


def _choose_dataset(choice, data_dir) -> str:
    if isinstance(choice, str):
        return choice
    for name in choice:
        if available(name, data_dir=data_dir):
            return name
    return choice[-1]


def config_from_args(args) -> CompareConfig:
    """The comparison's config: CompareConfig's defaults, then the preset, then what the user typed."""
    preset = {k: v for k, v in PRESETS[args.preset].items() if k != "help"} if args.preset else None
    d = settle(STUDY, args, preset)
    if isinstance(d["activations"], str):
        d["activations"] = split_specs(_named_list(d["activations"]))
    d["dataset"] = _choose_dataset(d["dataset"], args.data_dir)
    # the shape asked for is part of every run's key: recorded even where it is the loader's default
    d["data_options"].setdefault("shape", signature_default(load, "shape"))
    return build(CompareConfig, d)


def cmd_compare(args) -> int:
    from actlab.execution import Runner
    from actlab.report.compare import write_report
    from actlab.studies.compare import format_table, run_compare

    config = config_from_args(args)
    check_where(args)
    location = {"download": not args.no_download, **({"data_dir": args.data_dir} if args.data_dir else {})}
    out = check_out(args.out)  # before loading: an unusable --out fails at once (run_compare creates it)
    data = load(config.dataset, seed=config.data_seed, **config.data_options, **location)
    print(
        f"compare: {len(config.activations)} activations x {config.seeds} seeds on {data.name} "
        f"({len(data.train)} train / {len(data.val)} val / {len(data.test)} test), model {config.model}"
    )
    named = args.baseline or PRESETS.get(args.preset, {}).get("baseline")
    print(f"baseline: {config.baseline}" + ("" if named else " (the default; --baseline NAME to change)"))
    where = {"workers": args.workers, "dask": args.dask, "pack": args.pack, "dask_timeout": args.dask_timeout}
    with Runner(**where, threads=config.train.threads) as runner:
        if runner.name != "this process":
            print(f"training on {runner.name}")
        results = run_compare(
            config, out, data=data, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    if args.map:
        results["feature_map"] = _map(config, results, data)
        write_json_atomic(Path(out) / "results.json", results)
    write_report(results, out)
    print(format_table(results))
    print(f"results: {Path(out) / 'results.json'}\nreport:  {Path(out) / 'report.html'}")
    return 0


def _map(config: CompareConfig, results: dict[str, Any], data) -> dict[str, Any]:
    """The compared functions in the surrogate's features, coloured by their mean test accuracy."""
    from actlab.surrogate import Task, feature_points

    return feature_points(
        Task.of(config, config.train.seed),
        [(r["activation"], r["activation"], r["mean"]) for r in results["summary"]],
        data,
    )
