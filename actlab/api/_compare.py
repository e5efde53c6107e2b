"""``actlab.compare``: train every (activation, seed) pair and compare them, from Python."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import check_out, write_json_atomic
from actlab.api._keywords import arguments
from actlab.api._options import SHARED, Option, Study, build, check_where, settle, signature_default
from actlab.api.results import Result
from actlab.catalogue import split_specs
from actlab.data import available, load
from actlab.execution.tasks import TASKS_HELP, parse_tasks, task_name
from actlab.studies.compare import CompareConfig
from actlab.training.result import RunResult

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
        ("--tasks",),
        "compare on several tasks and rank the activations across them (Friedman test, critical-difference "
        "diagram): {tasks}; each task's runs go to its own sub-folder of --out",
        type=str,
        metavar="TASKS",
        words=lambda: {"tasks": TASKS_HELP},
        path=None,
    ),
    Option(
        ("--map",),
        "add to the report where each function sits in the features of actlab's surrogate (a 2-D map coloured "
        "by accuracy)",
        flag=True,
        path=None,
    ),
)
STUDY = Study("compare", CompareConfig, ((None, OWN), *SHARED), moved={"data_dir": None})  # where, not what


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


class CompareResult(Result):
    """The result of :func:`compare`; ``to_pandas()``: one row per (activation, seed) run."""

    COLUMNS = (
        "activation",
        "seed",
        "status",
        "test_accuracy",
        "test_loss",
        "val_accuracy",  # the run's score: its best validation accuracy
        "best_epoch",  # the epoch whose weights were tested
        "epochs",  # epochs run
        "seconds",
    )

    def table(self) -> str:
        from actlab.studies.compare import format_cross_task, format_table

        if "cross_task" in self.results:
            return format_cross_task(self.results)
        return format_table(self.results)

    def columns(self) -> list[str]:
        return (["task"] if "cross_task" in self.results else []) + list(self.COLUMNS)

    def rows(self) -> list[dict[str, Any]]:
        if "cross_task" in self.results:
            return [{"task": t["task"], **_row(run)} for t in self.results["tasks"] for run in t["results"]["runs"]]
        return [_row(run) for run in self.results["runs"]]

    @property
    def best(self) -> dict[str, Any]:
        """The activation of the highest mean test accuracy: ``activation``, ``mean``, ``std``,
        ``outcome`` against the baseline. Over several tasks: the best average rank,
        ``activation``, ``average_rank`` and ``outcome`` of Holm's post-hoc against the baseline."""
        if "cross_task" in self.results:
            cross = self.results["cross_task"]
            j = min(range(len(cross["functions"])), key=lambda i: cross["average_rank"][i])
            name = cross["functions"][j]
            post = {v["function"]: v["outcome"] for v in cross["versus_reference"]}
            outcome = "baseline" if name == cross["reference"] else post.get(name)
            return {"activation": name, "average_rank": cross["average_rank"][j], "outcome": outcome}
        top = max(self.results["summary"], key=lambda r: r["mean"])
        return {k: top[k] for k in ("activation", "mean", "std", "outcome")}

    def write_report(self, folder: Path) -> Path:
        from actlab.report.compare import write_report

        return write_report(self.results, folder)

    def figure(self):
        from actlab.report.compare import curves_figure
        from actlab.report.ranking import cd_figure

        if "cross_task" in self.results:
            return cd_figure(self.results["cross_task"])
        return curves_figure(self.results)


def _row(run: dict[str, Any]) -> dict[str, Any]:
    r = RunResult.from_dict(run["result"])
    return {
        "activation": run["activation"],
        "seed": run["seed"],
        "status": r.status,
        "test_accuracy": r.test["accuracy"],
        "test_loss": r.test["loss"],
        "val_accuracy": r.best_val_accuracy,
        "best_epoch": r.best_epoch,
        "epochs": len(r.epochs),
        "seconds": r.seconds,
    }


def run(args, say: Callable[[str], None] = print) -> CompareResult:
    """Run (or resume) the comparison the command line's ``args`` describe, write its report, and
    say what it trains with ``say``."""
    from actlab.execution import Runner
    from actlab.report.compare import write_report
    from actlab.studies.compare import run_compare

    config = config_from_args(args)
    check_where(args)
    location = {"download": not args.no_download, **({"data_dir": args.data_dir} if args.data_dir else {})}
    out = check_out(args.out)  # before loading: an unusable --out fails at once (run_compare creates it)
    if args.tasks:
        return _run_tasks(args, config, location, out, say)
    data = load(config.dataset, seed=config.data_seed, **config.data_options, **location)
    say(
        f"compare: {len(config.activations)} activations x {config.seeds} seeds on {data.name} "
        f"({len(data.train)} train / {len(data.val)} val / {len(data.test)} test), model {config.model}"
    )
    named = args.baseline or PRESETS.get(args.preset, {}).get("baseline")
    say(f"baseline: {config.baseline}" + ("" if named else " (the default; --baseline NAME to change)"))
    where = {"workers": args.workers, "dask": args.dask, "pack": args.pack, "dask_timeout": args.dask_timeout}
    with Runner(**where, threads=config.train.threads) as runner:
        if runner.name != "this process":
            say(f"training on {runner.name}")
        results = run_compare(
            config, out, data=data, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    if args.map:
        results["feature_map"] = _map(config, results, data)
        write_json_atomic(Path(out) / "results.json", results)
    write_report(results, out)
    return CompareResult(results, Path(out))


def _run_tasks(args, config: CompareConfig, location: dict[str, Any], out, say: Callable[[str], None]) -> CompareResult:
    """Compare on each of ``--tasks`` and rank across them; each task's report in its sub-folder."""
    from actlab.execution import Runner
    from actlab.report.compare import write_report
    from actlab.studies.compare import run_tasks

    if args.map:
        raise ActlabError("--map draws one task's functions; leave it out with --tasks")
    if args.dataset is not None:
        raise ActlabError("--tasks names the datasets: list yours there, not in --dataset")
    tasks = parse_tasks(args.tasks, config.model)
    say(
        f"compare: {len(config.activations)} activations x {config.seeds} seeds on {len(tasks)} tasks "
        f"({', '.join(task_name(t) for t in tasks)}); baseline {config.baseline}"
    )
    where = {"workers": args.workers, "dask": args.dask, "pack": args.pack, "dask_timeout": args.dask_timeout}
    with Runner(**where, threads=config.train.threads) as runner:
        if runner.name != "this process":
            say(f"training on {runner.name}")
        results = run_tasks(
            config, tasks, out, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    for task in results["tasks"]:
        write_report(task["results"], Path(out) / task["folder"])
    write_report(results, out)
    return CompareResult(results, Path(out))


def compare(**options: Any) -> CompareResult:
    """Compare activation functions on a dataset and model over several seeds, as ``actlab
    compare`` does: the keywords are its long options with ``_`` (``batch_size=32``), with its
    defaults; ``out`` (default ``compare-out``) resumes the runs found there. Returns a
    :class:`CompareResult`; writes results.json and report.html to ``out``.

    Example (a second or two: iris, one epoch, one seed):

    >>> import actlab
    >>> result = actlab.compare(dataset="iris", activations="relu,tanh", epochs=1, seeds=1,
    ...                         out="iris-compare", quiet=True)
    >>> result.best["activation"] in ("relu", "tanh")
    True
    >>> len(result.to_pandas())  # one row per run
    2
    """
    args = arguments(STUDY, "compare", options)
    return run(args, say=_say(args))


def _say(args) -> Callable[[str], None]:
    """Lines about the work, unless ``quiet``."""
    return (lambda text: None) if args.quiet else print


def _map(config: CompareConfig, results: dict[str, Any], data) -> dict[str, Any]:
    """The compared functions in the surrogate's features, coloured by their mean test accuracy."""
    from actlab.surrogate import Task, feature_points

    return feature_points(
        Task.of(config, config.train.seed),
        [(r["activation"], r["activation"], r["mean"]) for r in results["summary"]],
        data,
    )


__all__ = ["ARTICLES", "PRESETS", "STUDY", "CompareResult", "compare", "config_from_args", "run"]
