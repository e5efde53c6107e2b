"""``actlab search``: per-layer activation search with Optuna."""

from __future__ import annotations

from pathlib import Path

from actlab._errors import ActlabError
from actlab._io import finite
from actlab._progress import duration
from actlab.cli._options import SHARED, Option, Study, add_options, build, check_where, settle
from actlab.report.search import score_text, write_search_report
from actlab.stats import NOT_CONVERGED, OUTCOMES, format_p
from actlab.studies.search import PRUNERS, SAMPLERS, SearchConfig, candidates
from actlab.surrogate import KEEP

OFFLINE_SUITE = ("iris", "wine", "breast_cancer", "digits", "mnist1d", "fashion-mnist")
SUITE_LIMITS = {"fashion-mnist": 2000}  # a subset unless --limit says otherwise: the suite stays an afternoon's work


OWN = (
    Option(
        ("--suite",),
        "search each offline dataset in turn ({datasets}, and {last} where its files are here, {limit} training "
        "examples unless --limit), then print a win/tie/loss table; it says first how long it may take, and a "
        "rerun reads the datasets it finished before",
        type=str,
        choices=lambda: ("offline",),
        words=lambda: {
            "datasets": ", ".join(OFFLINE_SUITE[:-1]),
            "last": OFFLINE_SUITE[-1],
            "limit": SUITE_LIMITS["fashion-mnist"],
        },
        path=None,
    ),
    Option(
        ("--candidates",),
        "the activations each layer chooses from: sipper48 (default: the 48 of Sipper's à-la-carte paper), all "
        "(every element-wise function of the catalogue), or specs separated by commas",
        type=str,
    ),
    Option(("--search-output",), "also search the output layer's activation", flag=True),
    Option(
        ("--surrogate",),
        "search only the N candidates a surrogate predicts best (a bare --surrogate: {keep}), best first: it trains "
        "the 8 usual functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh) once and ranks the rest "
        "by their features at initialisation, as actlab screen ({default}; 0 = all)",
        nargs="?",
        const=KEEP,
        metavar="N",
        words=lambda: {"keep": KEEP},
    ),
    Option(("--trials",), "finished trials wanted in the study, across restarts ({default})"),
    Option(("--sampler",), "{samplers} ({default})", type=str, words=lambda: {"samplers": ", ".join(SAMPLERS)}),
    Option(("--pruner",), "{pruners} ({default})", type=str, words=lambda: {"pruners": ", ".join(PRUNERS)}),
    Option(("--seed",), "sampler and training seed ({default})"),
    Option(
        ("--storage",),
        "where the study is kept: an Optuna storage URL (sqlite:///PATH, postgresql://USER@HOST/DB) or "
        "journal:PATH (default: study.db in --out)",
        type=str,
        path=None,
    ),
    Option(("--study",), "study name (default actlab-DATASET-MODEL)", type=str, path=None),
    Option(("--top-k",), "configurations trained again and scored on test ({default})"),
    Option(("--final-seeds",), "seeds of the final evaluation ({default})"),
    Option(
        ("--heartbeat",),
        "seconds between the marks a running trial leaves in the study, by which other processes tell a trial "
        "whose process died ({default})",
        type=float,
    ),
)
STUDY = Study(
    "search",
    SearchConfig,
    ((None, OWN), *SHARED),
    without=("shape", "no_download", "loss", "device", "dask", "dask_timeout"),
    moved={
        "width": "width",
        "layers": "layers",
        "pack": "pack",
        "model_arg": "model_args",
        "slots": "model_args.slots",
    },
)

DESCRIPTION = """\
Every layer's activation is a categorical hyper-parameter; Optuna maximises validation
accuracy. Then the top-k configurations and the ReLU baseline are trained alike with several
fresh seeds (best validation epoch kept) and scored on test. Kill it at any time and run the same
command again to resume; start it on several machines with one --storage to cooperate.

Examples:
  actlab search --dataset iris --layers 5 --candidates sipper48 --trials 100 --batch-size 8
  actlab search --dataset digits --workers 2 --storage journal:study.log
  actlab search --dataset wine --storage postgresql://me@dbhost/actlab --study wine-10
  actlab search --suite offline --trials 30"""


def add(p) -> None:
    p.description = DESCRIPTION
    add_options(p, STUDY)
    p.set_defaults(func=cmd_search)


def _config(args, dataset: str | None = None, limit: int | None = None) -> SearchConfig:
    """The search's config (for ``dataset`` in a suite, with ``limit`` where --limit is not given)."""
    d = settle(STUDY, args, {"limit": limit} if limit else None)
    if dataset:
        d["dataset"] = dataset
    if isinstance(d["candidates"], str):
        d["candidates"] = candidates(d["candidates"])
    return build(SearchConfig, d)


def cmd_search(args) -> int:
    if not args.out.strip():  # Path("") is the current folder; the suite writes OUT/<dataset>
        raise ActlabError("--out is empty; give the folder for the results, e.g. --out results")
    check_where(args)
    if args.suite:
        return _suite(args)
    results = _search(args, _config(args), Path(args.out), args.study)
    print(format_final(results))
    print(f"results: {Path(args.out) / 'results.json'}\nreport:  {Path(args.out) / 'report.html'}")
    return 0


def _search(args, config: SearchConfig, out: Path, study: str | None) -> dict:
    """Run (or resume) the search of ``config`` in ``out`` and write its report."""
    from actlab.studies.search.run import run_search

    results = run_search(
        config,
        out,
        storage_url=args.storage,
        study_name=study,
        n_jobs=args.workers,
        progress=not args.quiet,
        force=args.force,
    )
    write_search_report(results, out)
    return results


def _num(v) -> str:
    """A mean or spread as the tables print it (``n/a`` for none: one seed has no spread)."""
    return f"{v:.3f}" if finite(v) else "n/a"


def format_final(results) -> str:
    c = results["counts"]
    lines = [f"study {results['study']}: {c['done']} finished trials ({c['pruned']} pruned), {c['failed']} failed"]
    final = results.get("final") or {}
    for cfg in final.get("configs", []):
        plan = ", ".join(f"{k}={v}" for k, v in cfg["plan"].items())
        p = "" if cfg["name"] == "baseline" else f"  p={format_p(cfg['p_holm'])} {cfg['outcome']}"
        lines.append(f"{cfg['name']:<9} test {score_text(cfg)}  val {_num(cfg['val_accuracy'])}  [{plan}]{p}")
    if len(final.get("budgets") or ()) > 1:
        lines.append(
            f"final runs: {final['epochs']} epochs each (the budget doubled from {final['budgets'][0]} for "
            "every contender: a comparison had not converged)"
        )
    if any(c["outcome"] == NOT_CONVERGED for c in final.get("configs", [])):
        lines.append(final["convergence"])
    return "\n".join(lines)


def _suite(args) -> int:
    todo, left = _suite_plan(args)
    before = len(todo) - len(left)
    epochs = todo[0][1].train.epochs if todo else 0
    print(
        f"suite: {len(todo)} dataset{'' if len(todo) == 1 else 's'}"
        + (f", {before} finished before" if before else "")
        + (
            f"; {'what is left' if before else 'the search'} takes at most about {duration(sum(left.values()))} on "
            f"this machine (every trial and final run for all {epochs} epochs at the speed of a ReLU epoch timed "
            "here; pruning and the plateau stop make it shorter)"
            if left
            else ""
        )
    )
    table = []
    for name, config, out, study, results in todo:
        if results is not None:
            print(f"suite: {name} finished before; its results are read from {out / 'results.json'}")
            if not (out / "report.html").exists():
                write_search_report(results, out)
        else:
            print(f"suite: searching {name} -> {out} (at most about {duration(left[name])})")
            results = _search(args, config, out, study)
        final = results.get("final") or {}
        best = next((c for c in final.get("configs", []) if c["name"] == "top-1"), None)
        base = next((c for c in final.get("configs", []) if c["name"] == "baseline"), None)
        table.append((name, base, best, final.get("convergence")))
    print(_suite_table(table))
    print(f"reports: {Path(args.out)}/<dataset>/report.html")
    return 0


def _suite_plan(args) -> tuple[list[tuple], dict[str, float]]:
    """The suite's datasets present here, each ``(name, config, out, study, results of a search
    finished before or None)``, and the longest each unfinished one may take (seconds)."""
    from actlab.data import available, load
    from actlab.studies.search.run import finished_results, longest

    todo = []
    for name in OFFLINE_SUITE:
        if not available(name, data_dir=args.data_dir):
            print(f"suite: {name} not present locally, skipped")
            continue
        config = _config(args, name, SUITE_LIMITS.get(name))
        out, study = Path(args.out) / name, f"{args.study or 'actlab-suite'}-{name}"
        todo.append((name, config, out, study, finished_results(config, out, study)))
    left = {
        name: longest(config, load(name, seed=config.data_seed, **config.data_options), args.workers)
        for name, config, _, _, before in todo
        if before is None
    }
    return todo, left


def _suite_table(table: list[tuple]) -> str:
    """The win/tie/loss table of the suite: ``(dataset, baseline, top-1, convergence note)`` rows."""
    lines = [f"\n{'dataset':<15} {'baseline':>16} {'à la carte (top-1)':>20} {'p (Holm)':>9}  outcome"]
    wins = dict.fromkeys(OUTCOMES, 0)
    notes = []
    for name, base, best, note in table:
        if not best:
            continue
        wins[best["outcome"]] += 1
        notes += [note] if best["outcome"] == NOT_CONVERGED and note else []
        lines.append(
            f"{name:<15} {score_text(base):>16} {score_text(best):>20} {format_p(best['p_holm']):>9}  {best['outcome']}"
        )
    late = f" ({wins[NOT_CONVERGED]} {NOT_CONVERGED})" if wins[NOT_CONVERGED] else ""
    lines.append(f"win / tie / loss against the baseline: {wins['win']} / {wins['tie']} / {wins['loss']}{late}")
    return "\n".join(lines + notes[:1])
