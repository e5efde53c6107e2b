"""``actlab screen``: rank activation functions without training them, train the promising ones."""

from __future__ import annotations

from pathlib import Path

from actlab._io import check_out
from actlab.api._options import SHARED, Option, Study, add_options, build, check_where, settle
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
)
STUDY = Study(
    "screen",
    ScreenConfig,
    ((None, OWN), *SHARED),
    without=("shape", "no_download", "loss", "device", "dask", "dask_timeout"),
    moved={"data_dir": None},  # where the data is, not what it is
)

DESCRIPTION = """\
Rank every candidate by a surrogate model in seconds: features of the function at the
model's initialisation (its curve, the Fisher information's spectrum on one batch, effective
ranks, gradient norms) and a regressor fit on functions already trained. Trains the 8 usual
functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh), then the candidates
predicted best (the surrogate fit again after each round) and a few random ones, and says how
well prediction and training agree (Spearman's rank correlation). Writes results.json,
predicted.png, map.png and report.html to --out. Rerunning the same command on the same --out
trains nothing twice.

Examples:
  actlab screen --dataset mnist1d --model mlp --candidates all --out screen-out
  actlab screen --dataset digits --candidates all --train-top 12 --train-random 6 --seeds 3
  actlab screen --candidates 'relu,gelu,mish,expr:x*tanh(x),expr:max(x, sin(x))' --train-top 2"""


def add(p) -> None:
    p.description = DESCRIPTION
    add_options(p, STUDY)
    p.set_defaults(func=cmd_screen)


def _config(args) -> ScreenConfig:
    """The screen's config: ScreenConfig's defaults, then what the user typed."""
    d = settle(STUDY, args)
    if isinstance(d["candidates"], str):
        d["candidates"] = candidates(d["candidates"])
    return build(ScreenConfig, d)


def cmd_screen(args) -> int:
    from actlab.execution import Runner
    from actlab.report.screen import write_screen_report
    from actlab.studies.screen import format_table, run_screen

    config = _config(args)  # every spec and number checked before any file is made or data loaded
    check_where(args)
    out = check_out(args.out)
    location = {"data_dir": args.data_dir} if args.data_dir else {}
    with Runner(workers=args.workers, pack=args.pack, threads=config.train.threads) as runner:
        if runner.name != "this process":
            print(f"training on {runner.name}")
        results = run_screen(
            config, out, progress=not args.quiet, runner=runner, data_location=location, force=args.force
        )
    write_screen_report(results, out)
    print(format_table(results))
    print(f"results: {Path(out) / 'results.json'}\nreport:  {Path(out) / 'report.html'}")
    return 0
