"""``actlab.screen``: rank activation functions without training them, then train the
promising ones, from Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import check_out
from actlab.api._keywords import arguments
from actlab.api._options import SHARED, Option, Study, build, check_where, settle, transfer_option
from actlab.api.results import Result
from actlab.execution.transfer import transfer_section
from actlab.studies.screen import ScreenConfig, candidates
from actlab.surrogate import REGRESSORS

OWN = (
    Option(
        ("--candidates",),
        "all (default: every function of the catalogue), or specs separated by commas, names or expressions "
        "(expr:x*tanh(x))",
        type=str,
    ),
    Option(("--train-top",), "candidates predicted best that are trained ({default})"),
    Option(("--train-random",), "candidates drawn at random that are trained, to check the ranking ({default})"),
    Option(("--per-round",), "top candidates trained between two fits of the surrogate ({default})"),
    Option(("--seeds",), "trainings per function ({default})"),
    Option(
        ("--regressor",),
        "the surrogate's regressor: trees (extremely randomised trees), forest (random forest), gp (Gaussian "
        "process), knn (3 nearest neighbours, as AQuaSurF), ridge (Bayesian ridge) ({default}: it ranked best in "
        "actlab's measurements)",
        type=str,
        choices=lambda: REGRESSORS,
    ),
    Option(("--seed",), "seed of the random picks ({default})"),
    transfer_option("the best trained function other than ReLU, and ReLU", "ReLU"),
    Option(("--final-seeds",), "seeds of each function on each --transfer-to task ({default})"),
)
STUDY = Study(
    "screen",
    ScreenConfig,
    ((None, OWN), *SHARED),
    without=("shape", "no_download", "loss", "device", "dask", "dask_timeout"),
    moved={"data_dir": None},  # where the data is, not what it is
)


def config_from_args(args) -> ScreenConfig:
    """The screen's config: ScreenConfig's defaults, then the options given."""
    d = settle(STUDY, args)
    if getattr(args, "final_seeds", None) is not None and not d.get("transfer_to"):
        raise ActlabError("--final-seeds applies to the --transfer-to tasks: add --transfer-to TASKS, or leave it out")
    if isinstance(d["candidates"], str):
        d["candidates"] = candidates(d["candidates"])
    return build(ScreenConfig, d)


class ScreenResult(Result):
    """The result of :func:`screen`; ``to_pandas()``: one row per function, in rank order."""

    COLUMNS = (
        "rank",
        "spec",
        "role",  # how it came to be trained: usual, top or random; None: not trained
        "predicted",  # the surrogate's prediction of its validation accuracy, fit on every trained function
        "predicted_std",
        "predicted_before",  # a trained pick's prediction, made before its training
        "val_accuracy",  # the real score where trained: the best validation accuracy, mean over the seeds
        "test_accuracy",
        "note",  # why a function cannot run in the model
    )

    def table(self) -> str:
        from actlab.studies.screen import format_table

        text = format_table(self.results)
        moved = self.results.get("transfer")
        if moved:
            text += "\n" + transfer_section(moved)
        elif self.results["config"].get("transfer_to"):
            text += "\nno transfer: no function other than relu was trained"
        return text

    def rows(self) -> list[dict[str, Any]]:
        return [{k: r.get(k) for k in self.COLUMNS} for r in self.results["candidates"]]

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trained function: ``spec``, ``val_accuracy``, ``test_accuracy``, ``rank``."""
        trained = [r for r in self.results["candidates"] if r["val_accuracy"] is not None]
        if not trained:
            return None
        top = max(trained, key=lambda r: r["val_accuracy"])
        return {k: top[k] for k in ("spec", "val_accuracy", "test_accuracy", "rank")}

    def write_report(self, folder: Path) -> Path:
        from actlab.report.screen import write_screen_report

        return write_screen_report(self.results, folder)

    def figure(self):
        from actlab.report.screen import predicted_figure

        return predicted_figure(self.results)


def run(args, say: Callable[[str], None] = print) -> ScreenResult:
    """Run (or resume) the screen the command line's ``args`` describe and write its report."""
    from actlab.execution import Runner
    from actlab.report.screen import write_screen_report
    from actlab.studies.screen import run_screen

    config = config_from_args(args)  # every spec and number checked before any file is made or data loaded
    check_where(args)
    out = check_out(args.out)
    location = {"data_dir": args.data_dir} if args.data_dir else {}
    with Runner(workers=args.workers, pack=args.pack, threads=config.train.threads) as runner:
        if runner.name != "this process":
            say(f"training on {runner.name}")
        results = run_screen(
            config, out, progress=not args.quiet, runner=runner, data_location=location, force=args.force, say=say
        )
    write_screen_report(results, out)
    return ScreenResult(results, Path(out))


def screen(**options: Any) -> ScreenResult:
    """Rank activation functions by a surrogate and train the promising ones, as ``actlab
    screen`` does: the keywords are its long options with ``_`` (``train_top=12``), with its
    defaults; ``out`` (default ``screen-out``) trains nothing twice. Returns a
    :class:`ScreenResult`; writes results.json and report.html to ``out``.

    Example (a few seconds: iris, one epoch, one seed, three candidates):

    >>> import actlab
    >>> result = actlab.screen(dataset="iris", candidates="relu,gelu,expr:x*tanh(x)", train_top=1,
    ...                        train_random=0, seeds=1, epochs=1, out="iris-screen", quiet=True)
    >>> result.best["spec"] in result.to_pandas()["spec"].tolist()
    True
    """
    args = arguments(STUDY, "screen", options)
    return run(args, say=(lambda text: None) if args.quiet else print)


__all__ = ["STUDY", "ScreenResult", "config_from_args", "run", "screen"]
