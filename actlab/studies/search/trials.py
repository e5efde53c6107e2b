"""A worker of a search: it asks the study for trials, trains them (one model, or several packed
into one) and tells the study how they ended, until the study holds its budget of trials.

Many workers, processes or machines, can run :func:`work` on one study; see
:mod:`actlab.studies.search.study` for the heartbeat, stale-trial retry and exact-budget rules.
"""

from __future__ import annotations

import math
import time
from typing import Any

import optuna
from optuna.trial import TrialState

import actlab.studies.search.study as S
from actlab._progress import Progress
from actlab.models import build
from actlab.studies.search.config import SearchConfig
from actlab.studies.search.space import make_pruner, make_sampler, suggest
from actlab.training import TrainConfig, score_line, train
from actlab.training.population import packable, train_population


def work(
    config: SearchConfig,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    data,
    worker: int = 0,
    progress: bool = True,
) -> dict[str, int]:
    """One worker: run trials until the study holds ``config.trials`` finished ones. ``storage``
    is the study's storage (:func:`actlab.studies.search.study.make_storage`)."""
    space = config.space(data.input_shape, data.n_classes)
    probe = S.open_study(storage, study_name, space, optuna.samplers.RandomSampler())
    offset = 1000 * worker + len(probe.get_trials(deepcopy=False))  # workers must not draw the same numbers
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=make_sampler(config, space, offset),
        pruner=make_pruner(config.pruner, config.train.epochs),
    )
    study_id = storage.get_study_id_from_name(study_name)  # the storage's trial methods take its ids
    bar = Progress(config.trials, "trials", enabled=progress, done=S.counts(study)["done"])
    mine = 0
    while (n := _room(config, storage, study, bar)) is not None:
        if not n:
            time.sleep(min(config.heartbeat, 2.0))  # the rest is running elsewhere; watch for dead workers
            continue
        batch = _ask(config, storage, study, study_id, n)
        if batch:
            _train_batch(config, study, space, data, batch, bar, worker)
            mine += len(batch)
    return {"trials_run_here": mine, **S.counts(study)}


def _room(config: SearchConfig, storage, study: optuna.Study, bar: Progress) -> int | None:
    """How many trials to ask for next: None when the study is done, 0 while the rest of the
    budget runs elsewhere (after failing the trials of dead workers)."""
    S.fail_stale_trials(storage, study, 6 * config.heartbeat)
    c = S.counts(study)
    bar.done = c["done"]
    if c["done"] >= config.trials:
        return None
    if config.sampler == "grid" and study.sampler.is_exhausted(study) and not c["waiting"]:
        return None
    if c["done"] + c["running"] >= config.trials and not c["waiting"]:
        return 0
    return (
        max(min(config.pack, config.trials - c["done"] - c["running"]), 1)
        if packable(config.model, fit=config.train.fit)
        else 1
    )


def _ask(
    config: SearchConfig, storage, study: optuna.Study, study_id: int, n: int
) -> list[tuple[optuna.Trial, S.Heartbeat]]:
    """Up to ``n`` new trials, each with its heartbeat running; a trial beyond the budget is marked
    surplus and failed before any training, and ends the batch."""
    batch = []
    for _ in range(n):
        trial = study.ask()
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        if S.is_surplus(study, trial.number, config.trials):
            storage.set_trial_system_attr(trial_id, S.SURPLUS, True)
            study.tell(trial, state=TrialState.FAIL)
            break
        batch.append((trial, S.Heartbeat(storage, trial_id, config.heartbeat)))
    return batch


def _train_batch(config: SearchConfig, study: optuna.Study, space: dict, data, batch, bar: Progress, worker: int):
    """Train the batch's trials, stop their heartbeats, tell the study how each ended and say so."""
    trials = [t for t, _ in batch]
    try:
        plans = [suggest(t, space) for t in trials]
        names = ", ".join(str(t.number) for t in trials)
        bar.begin(f"trial{'s' if len(trials) > 1 else ''} {names} (worker {worker})")
        outcomes = _run_trials(trials, plans, config, data, bar)
    finally:
        for _, beat in batch:
            beat.stop()
    told = [
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
        for trial, (state, value) in zip(trials, outcomes, strict=True)
    ]
    best = best_so_far(study)
    for frozen in told:
        bar.begin(f"trial {frozen.number}")
        bar.finish(f"{describe(frozen)}; {best}")


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """How a finished trial ended, as progress lines say it."""
    epochs = trial.user_attrs.get("epochs_run")
    if trial.state == TrialState.PRUNED:
        last = trial.intermediate_values.get(trial.last_step) if trial.last_step is not None else None
        return f"pruned after epoch {trial.last_step}" + (f" (val_acc {last:.3f})" if last is not None else "")
    if trial.state == TrialState.COMPLETE and "score" in trial.user_attrs:  # a training loop of the user's
        return f"{trial.user_attrs.get('status')}, {trial.user_attrs['score']}"
    if trial.state == TrialState.COMPLETE and trial.user_attrs.get("status") == "diverged":
        before = f"{trial.value:.3f}, its best val_acc before" if trial.value else "0"
        return f"diverged in epoch {epochs}, scored {before}"
    if trial.state == TrialState.COMPLETE:
        return f"val_acc {trial.value:.3f}"
    return trial.state.name.lower()


def best_so_far(study: optuna.Study) -> str:
    """The study's best trial, as progress lines say it."""
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return "no complete trial yet"
    return f"best {best.user_attrs.get('score') or format(best.value, '.3f')} (trial {best.number})"


def _run_trials(trials, plans, config: SearchConfig, data, bar) -> list[tuple[TrialState, float | None]]:
    """Train the trials' plans, one model or several packed into one (population trainer); report
    each trial's validation accuracy per epoch to Optuna, which may prune it. A trial is selected on
    validation alone: its test and train splits are never scored (the final evaluation scores test)."""
    settings = {"seed": config.seed, "diagnostics": False, "final_scores": False}
    cfg = TrainConfig.from_dict({**config.train.to_dict(), **settings})

    def report(trial, epoch, record) -> bool:
        acc = record.get("val_accuracy", math.nan)
        trial.report(acc if math.isfinite(acc) else 0.0, epoch)
        return trial.should_prune()

    together = (
        [i for i, p in enumerate(plans) if packable(config.model, p, cfg.fit)]
        if len(trials) > 1 and not data.streamed  # the packed trainer holds the data in memory
        else []
    )
    results: dict[int, Any] = {}
    if len(together) > 1:

        def on_member_epoch(k, epoch, record):
            if k == 0:
                bar.update(f"epoch {epoch}/{cfg.epochs}, {len(together)} packed")
            return report(trials[together[k]], epoch, record)

        packed = train_population(
            [plans[i] for i in together], data, cfg, config.model_options, on_epoch=on_member_epoch
        )
        results.update(zip(together, packed, strict=True))
    for i, (trial, plan) in enumerate(
        zip(trials, plans, strict=True)
    ):  # alone: one trial, or a plan a pack cannot hold
        if i in results:
            continue

        def on_epoch(epoch, record, trial=trial):
            bar.update(f"epoch {epoch}/{cfg.epochs} val_acc {record.get('val_accuracy', math.nan):.3f}")
            return report(trial, epoch, record)

        results[i] = train(
            lambda plan=plan: build(config.model, data.input_shape, data.n_classes, plan, **config.model_options),
            data,
            cfg,
            on_epoch=on_epoch,
        )
    return [_finish(trial, plan, results[i]) for i, (trial, plan) in enumerate(zip(trials, plans, strict=True))]


def _finish(trial, plan, result) -> tuple[TrialState, float | None]:
    accs = [e.get("val_accuracy", math.nan) for e in result.epochs]
    finite = [a for a in accs if math.isfinite(a)]
    best = result.score  # RunResult's rule: 0 for a run that diverged before any validation
    trial.set_user_attr("status", result.status)
    trial.set_user_attr("best_epoch", (accs.index(best) + 1) if finite else 1)
    trial.set_user_attr("epochs_run", len(result.epochs))
    trial.set_user_attr("seconds", result.seconds)
    trial.set_user_attr("packed", result.epochs[0].get("packed", 1) if result.epochs else 1)
    trial.set_user_attr("plan", {k: (v or "linear") for k, v in plan.items()})
    if result.fit is not None:  # the value told is signed (studies maximise): say the metric as returned
        trial.set_user_attr("score", score_line(result.to_dict()))
    if result.status == "pruned":
        return TrialState.PRUNED, None
    return TrialState.COMPLETE, best
