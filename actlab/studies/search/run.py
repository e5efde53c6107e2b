"""Run a whole search: workers (this process, or N worker processes with one thread each),
then the final evaluation, ``results.json`` and ``report.html``."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

import actlab.studies.search.study as S
from actlab import _validate as V
from actlab._errors import ActlabError, first_line
from actlab._io import own_out, prepare_out, read_json, strict_json
from actlab._io import write_json_atomic as _write_json
from actlab._processes import adopt_environ, worker_context
from actlab._progress import Progress
from actlab.data import load
from actlab.execution import Runner, Task
from actlab.execution.transfer import transfer_to
from actlab.models import build, model_summary
from actlab.studies.search.config import SearchConfig
from actlab.studies.search.final import final_evaluation
from actlab.studies.search.space import baseline_plan, make_sampler
from actlab.studies.search.trials import best_so_far, describe, work
from actlab.surrogate import prune
from actlab.training import TrainConfig, few_steps, train
from actlab.training.fit import LOCAL_ONLY, local_only

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _worker_main(
    config: dict[str, Any], storage_url: str | None, study_name: str, out: str, worker: int, environ: dict[str, str]
) -> None:
    adopt_environ(environ)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = _config_from_dict(config)
    data = load(cfg.dataset, seed=cfg.data_seed, **cfg.data_options)
    storage = S.make_storage(storage_url, Path(out))
    work(cfg, storage, study_name, data, worker=worker, progress=False)


def _config_from_dict(d: dict[str, Any]) -> SearchConfig:
    return SearchConfig(**{**d, "train": TrainConfig.from_dict(d["train"])})


def run_search(
    config: SearchConfig,
    out: str | Path,
    storage_url: str | None = None,
    study_name: str | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    final: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Search, then the final evaluation and ``results.json`` in ``out`` (a folder holding another
    command's results is refused unless ``force``). Returns the results; the report is written by
    the caller (``actlab.report.search.write_search_report``)."""
    n_jobs = V.integer("--n-jobs", n_jobs, 1, V.MAX_WORKERS)
    if n_jobs > 1 and local_only(config.train.fit):
        raise ActlabError(LOCAL_ONLY.format(ref=config.train.fit))
    out = prepare_out(out)
    own_out(out, "search", force)
    study_name = study_name or f"actlab-{config.dataset}-{config.model}"
    data = load(config.dataset, seed=config.data_seed, **config.data_options)
    given, surrogate = config, None
    if config.surrogate:  # search only the candidates a surrogate predicts best (the same list on every rerun)
        with Runner(workers=n_jobs, threads=config.train.threads) as runner:
            kept, surrogate = prune(
                config.candidates,
                config.surrogate,
                Task.of(config),
                config.seed,
                runner,
                out / "surrogate",
                data,
                progress,
            )
        config = replace(config, candidates=kept)
    storage = S.make_storage(storage_url, out)
    space = config.space(data.input_shape, data.n_classes)
    S.open_study(storage, study_name, space, optuna.samplers.RandomSampler())  # create it, or check its space
    make_sampler(config, space)  # one that cannot be made (a grid too large): one line here, not in each worker
    if progress:
        print(model_summary(config.model, data.input_shape, data.n_classes, **config.model_options), file=sys.stderr)
    if few := few_steps(len(data.train), config.train):  # after the last check: bad input is one line
        print(few, file=sys.stderr, flush=True)
    if n_jobs > 1:
        ctx = worker_context()
        procs = [
            ctx.Process(
                target=_worker_main,
                args=(config.to_dict(), storage_url, study_name, str(out), i, dict(os.environ)),
                daemon=False,
            )
            for i in range(n_jobs)
        ]
        for p in procs:
            p.start()
        _watch(procs, storage, study_name, config.trials, progress)
    else:
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        work(config, storage, study_name, data, progress=progress)
    study = optuna.load_study(study_name=study_name, storage=storage)
    results = collect(config, study, space)
    if surrogate is not None:  # the config as given (the space holds the candidates searched)
        results["config"], results["surrogate"] = given.to_dict(), surrogate
    if final and results["counts"]["complete"] and config.final_seeds and config.top_k:
        with Runner(workers=n_jobs, threads=config.train.threads) as runner:
            results["final"] = final_evaluation(
                config, study, data, progress=progress, runner=runner, folder=out / "final"
            )
            if config.transfer_to:
                results["final"]["transfer"] = _transfer(config, results["final"], runner, out / "transfer", progress)
    _write_json(out / "results.json", results)
    return results


def _transfer(config: SearchConfig, final: dict[str, Any], runner: Runner, folder: Path, progress: bool) -> dict:
    """The top configuration and the baseline on ``config.transfer_to``, trained as in the final
    evaluation (its seeds and epochs, the weights of the best validation-loss epoch); nothing
    searched again (a per-slot plan transfers to models with the same slots)."""
    plans = {c["name"]: c["plan"] for c in final["configs"] if c["name"] in ("top-1", "baseline")}
    train = {"epochs": final["epochs"], "patience": None, "restore_best": True, "monitor": "val_loss"}
    base = Task.of(config)
    to = config.transfer_to or []
    return transfer_to(plans, base, to, final["seeds"], runner, folder, "baseline", progress, **train)


def _watch(procs, storage, study_name, budget, progress: bool) -> None:
    """Wait for the worker processes; a progress line for every trial they finish."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    seen = {t.number for t in study.get_trials(deepcopy=False, states=S.DONE)}
    bar = Progress(budget, "trials", enabled=progress, done=len(seen))

    def report() -> None:
        new = sorted(
            (t for t in study.get_trials(deepcopy=False, states=S.DONE) if t.number not in seen),
            key=lambda t: t.number,
        )
        best = best_so_far(study) if new else ""
        for t in new:
            seen.add(t.number)
            bar.begin(f"trial {t.number}")
            bar.finish(f"{describe(t)}; {best}")

    while any(p.is_alive() for p in procs):
        time.sleep(1.0)
        if progress:
            report()
    if progress:
        report()
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise ActlabError(f"{len(bad)} worker process(es) failed (exit codes {bad}); rerun the same command to resume")


def collect(config: SearchConfig, study: optuna.Study, space: dict) -> dict[str, Any]:
    trials = []
    for t in study.get_trials(deepcopy=False):
        trials.append(
            {
                "number": t.number,
                "state": t.state.name,
                "value": t.value,
                "params": t.params,
                "plan": t.user_attrs.get("plan") or ({} if not t.params else None),
                "best_epoch": t.user_attrs.get("best_epoch"),
                "status": t.user_attrs.get("status"),
                "seconds": t.user_attrs.get("seconds"),
                "retry_of": t.user_attrs.get(S.RETRY_OF),
                "surplus": bool(t.system_attrs.get(S.SURPLUS)),
            }
        )
    counts = {
        "complete": sum(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)),
        "pruned": sum(t.state == TrialState.PRUNED for t in study.get_trials(deepcopy=False)),
        **S.counts(study),
    }
    results: dict[str, Any] = {
        "study": study.study_name,
        "config": config.to_dict(),
        "space": space,
        "counts": counts,
        "trials": trials,
    }
    try:
        imp = optuna.importance.get_param_importances(study) if counts["complete"] >= 4 else {}
        results["importances"] = {k: float(v) for k, v in imp.items()}
    except Exception as e:  # e.g. every trial chose the same value for a slot
        results["importances"] = {}
        results["importance_note"] = f"importances not available: {first_line(e)}"
    return results


def finished_results(config: SearchConfig, out: str | Path, study_name: str) -> dict[str, Any] | None:
    """The ``results.json`` in ``out`` of this very search (same settings and study), finished: its
    budget of trials done and, where one was due, its final evaluation made; else None."""
    path = Path(out) / "results.json"
    if not path.is_file():
        return None
    try:
        d = read_json(path, "search results", "the search runs again")
    except ActlabError:  # damaged: the search runs again and rewrites it
        return None
    if not isinstance(d, dict) or d.get("study") != study_name or d.get("config") != strict_json(config.to_dict())[0]:
        return None
    counts = d.get("counts") if isinstance(d.get("counts"), dict) else {}
    if not counts.get("done", 0) >= config.trials:
        return None
    if counts.get("complete") and config.final_seeds and config.top_k and not d.get("final"):
        return None
    return d


def epoch_seconds(config: SearchConfig, data) -> float:
    """Seconds of one training epoch (training pass and validation) of the baseline on ``data``,
    timed here: the second of two epochs, the first being a warm-up."""
    space = config.space(data.input_shape, data.n_classes)
    timing = {"epochs": 2, "patience": None, "diagnostics": False, "final_scores": False}
    cfg = TrainConfig.from_dict({**config.train.to_dict(), **timing})
    plan = baseline_plan(space)
    result = train(
        lambda: build(config.model, data.input_shape, data.n_classes, plan, **config.model_options), data, cfg
    )
    last = result.epochs[-1]
    return last["seconds"] + last.get("eval_seconds", 0.0)


def longest(config: SearchConfig, data, n_jobs: int = 1) -> float:
    """Seconds a search of ``config`` takes at most on this machine, about: every trial and every
    final run trained for all its epochs (pruning and the plateau stop only shorten trials) at the
    speed of a baseline epoch timed here, on ``n_jobs`` workers."""
    trials = config.trials * config.train.epochs
    final = (config.top_k + 1) * config.final_seeds * config.train.epochs
    return epoch_seconds(config, data) * (trials + final) / max(n_jobs, 1)
