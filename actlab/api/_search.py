"""``actlab.search``: the per-layer activation search with Optuna, from Python."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import finite
from actlab.api._keywords import arguments
from actlab.api._options import SHARED, Option, Study, build, check_where, settle, transfer_option
from actlab.api.results import Result
from actlab.execution.transfer import transfer_section
from actlab.report.search import score_text, write_search_report
from actlab.stats import NOT_CONVERGED, format_p
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
    transfer_option(
        "the top configuration and the baseline (a per-slot plan: on models with the same slots)", "the baseline"
    ),
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


def config_from_args(args, dataset: str | None = None, limit: int | None = None) -> SearchConfig:
    """The search's config (for ``dataset`` in a suite, with ``limit`` where --limit is not given)."""
    d = settle(STUDY, args, {"limit": limit} if limit else None)
    if dataset:
        d["dataset"] = dataset
    if isinstance(d["candidates"], str):
        d["candidates"] = candidates(d["candidates"])
    return build(SearchConfig, d)


def run(args, config: SearchConfig, out: Path, study: str | None) -> dict:
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
    train = (results.get("config") or {}).get("train") or {}
    sign, label = (-1, train["fit_metric"]) if train.get("fit_direction") == "min" else (1, "val")  # as returned
    for cfg in final.get("configs", []):
        plan = ", ".join(f"{k}={v}" for k, v in cfg["plan"].items())
        p = "" if cfg["name"] == "baseline" else f"  p={format_p(cfg['p_holm'])} {cfg['outcome']}"
        val = _num(sign * cfg["val_accuracy"] if finite(cfg["val_accuracy"]) else None)
        lines.append(f"{cfg['name']:<9} test {score_text(cfg)}  {label} {val}  [{plan}]{p}")
    if len(final.get("budgets") or ()) > 1:
        lines.append(
            f"final runs: {final['epochs']} epochs each (the budget doubled from {final['budgets'][0]} for "
            "every contender: a comparison had not converged)"
        )
    if any(c["outcome"] == NOT_CONVERGED for c in final.get("configs", [])):
        lines.append(final["convergence"])
    if final.get("transfer"):
        lines.append(transfer_section(final["transfer"]))
    return "\n".join(lines)


class SearchResult(Result):
    """The result of :func:`search`; ``to_pandas()``: one row per trial, one column per slot."""

    COLUMNS = (
        "number",  # the trial's number in the study
        "state",  # COMPLETE, PRUNED, FAIL, RUNNING
        "value",  # its score: the best validation accuracy
        "best_epoch",
        "status",  # the training's: finished, stopped, diverged, pruned
        "seconds",
    )

    def table(self) -> str:
        return format_final(self.results)

    def columns(self) -> list[str]:
        return [*self.COLUMNS, *self.results["space"]["slots"]]

    def rows(self) -> list[dict[str, Any]]:
        return [{**{k: t.get(k) for k in self.COLUMNS}, **(t.get("plan") or {})} for t in self.results["trials"]]

    @property
    def best(self) -> dict[str, Any] | None:
        """The winner: the top-1 configuration of the final evaluation (``plan``, test ``mean``
        and ``std``, ``val_accuracy``, ``outcome`` against the baseline), else the best trial
        (``plan``, ``val_accuracy``); None before any trial finished."""
        final = self.results.get("final") or {}
        top = next((c for c in final.get("configs", []) if c["name"] == "top-1"), None)
        if top is not None:
            return {k: top[k] for k in ("plan", "mean", "std", "val_accuracy", "outcome")}
        done = [t for t in self.results["trials"] if t["state"] == "COMPLETE"]
        if not done:
            return None
        t = max(done, key=lambda t: t["value"])
        return {"plan": t["plan"], "val_accuracy": t["value"]}

    def write_report(self, folder: Path) -> Path:
        return write_search_report(self.results, folder)

    def figure(self):
        from actlab.report.search import winners_figure

        return winners_figure(self.results)


def search(**options: Any) -> SearchResult:
    """Search the best activation for every layer with Optuna, as ``actlab search`` does: the
    keywords are its long options with ``_`` (``top_k=3``), with its defaults; ``out`` (default
    ``search-out``) resumes the study kept there. Returns a :class:`SearchResult`; writes
    results.json and report.html to ``out``. (``--suite`` is the command line's: call search()
    once per dataset.)

    Example (a few seconds: iris, 2 trials of 1 epoch, one final seed):

    >>> import actlab
    >>> result = actlab.search(dataset="iris", candidates="relu,tanh", trials=2, epochs=1, top_k=1,
    ...                        final_seeds=1, out="iris-search", quiet=True)
    >>> result.best["plan"]["input"] in ("relu", "tanh")  # the winner's activation of the first layer
    True
    >>> len(result.to_pandas())  # one row per trial
    2
    """
    args = arguments(STUDY, "search", options)
    if args.suite:
        raise ActlabError("suite= is the command line's 'actlab search --suite'; call search() once per dataset")
    if not str(args.out).strip():
        raise ActlabError("out is empty; give the folder for the results, e.g. out='results'")
    check_where(args)
    out = Path(args.out)
    return SearchResult(run(args, config_from_args(args), out, args.study), out)


__all__ = [
    "OFFLINE_SUITE",
    "STUDY",
    "SUITE_LIMITS",
    "SearchResult",
    "config_from_args",
    "format_final",
    "run",
    "search",
]
