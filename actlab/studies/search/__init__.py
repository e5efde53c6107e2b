"""Per-layer "à la carte" activation search with Optuna (Sipper 2021, done right).

Every activation slot of the model is a categorical hyper-parameter ``act_<slot>``. A trial
trains the model with actlab's one trainer and returns the best **validation** accuracy; the
test split is never looked at during the search. The output slot is identity (logits into the
loss, which applies softmax once) unless ``search_output`` adds it to the space.

After the search, the top-k configurations and the baseline (ReLU in every hidden slot, logits
into cross-entropy) are trained alike with ``final_seeds`` fresh seeds on the training split for
the search's full epoch budget, the weights of the best validation-loss epoch are scored on test,
and each configuration is tested against the baseline; where a side had not converged, all of
them train again with the budget doubled, up to ``actlab.stats.EXTEND`` times (:mod:`actlab.studies.search.final`).

Many workers, processes or machines, can run :func:`work` on one study; see
:mod:`actlab.studies.search._study` for the heartbeat, stale-trial retry and exact-budget rules.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._progress import Progress
from actlab.catalogue import SIPPER48, entries, get, split_specs
from actlab.execution import WHERE_ONLY
from actlab.models import build, slot_names
from actlab.studies.search import _study
from actlab.training import TrainConfig, train
from actlab.training.population import packable, train_population

SAMPLERS = ("tpe", "cmaes", "random", "grid")
PRUNERS = ("hyperband", "median", "none")
BASELINE = "relu"


def candidates(spec: str | list[str]) -> list[str]:
    """``sipper48``, ``all`` (every deterministic element-wise catalogue entry) or a comma list."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "sipper48":
            return list(SIPPER48)
        if key == "all":
            return [e.name for e in entries() if e.elementwise and not e.stochastic and e.kind != "user"]
        spec = split_specs(spec) if spec.strip() else []
    names = [s.strip() for s in spec]
    if not names:
        raise ActlabError("the candidate list is empty; give sipper48, all, or names such as relu,tanh,elu")
    for n in names:
        get(n)  # unknown names or bad arguments: one line from the catalogue
    if len(set(names)) != len(names):
        raise ActlabError(f"candidate {next(n for n in names if names.count(n) > 1)!r} is listed twice")
    return names


@dataclass
class SearchConfig:
    dataset: str = "iris"
    model: str = "mlp"
    layers: int = 5  # mlp depth
    width: int = 64
    candidates: list[str] = field(default_factory=lambda: list(SIPPER48))
    search_output: bool = False
    trials: int = 50
    sampler: str = "tpe"
    pruner: str = "hyperband"
    seed: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30, patience=5, monitor="val_accuracy"))
    data_options: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0
    top_k: int = 3
    final_seeds: int = 5
    heartbeat: float = 10.0  # seconds between stamps; a trial is stale after 6 missed ones
    pack: int = 1  # trials asked together and trained in one packed model (MLP only)
    surrogate: int = 0  # keep the N candidates a surrogate predicts best (actlab.surrogate.features.prune); 0: all

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ActlabError(f"unknown sampler {self.sampler!r}; choose one of: {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ActlabError(f"unknown pruner {self.pruner!r}; choose one of: {', '.join(PRUNERS)}")
        self.trials = V.integer("--trials", self.trials, 1, V.MAX_COUNT)
        self.top_k = V.integer("--top-k", self.top_k, 0, V.MAX_COUNT)
        self.final_seeds = V.integer("--final-seeds", self.final_seeds, 0, V.MAX_SEEDS)
        self.pack = V.integer("--pack", self.pack, 1, V.MAX_PACK)
        self.surrogate = V.integer("--surrogate", self.surrogate, 0, V.MAX_COUNT)
        self.seed = V.integer("--seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        # a trial is stale after 6 missed stamps: below a second, a busy machine fails healthy trials
        self.heartbeat = V.number("--heartbeat", self.heartbeat, 1, 3600)
        if self.model == "mlp":  # checked here too, before a study is created for a model that cannot be built
            self.layers = V.integer("--layers", self.layers, 2, V.MAX_DEPTH)
            self.width = V.integer("--width", self.width, 1, V.MAX_WIDTH)
        if isinstance(self.train, dict):
            self.train = TrainConfig.from_dict(self.train)
        if self.train.monitor != "val_accuracy":
            self.train = TrainConfig.from_dict({**self.train.to_dict(), "monitor": "val_accuracy"})

    @property
    def model_options(self) -> dict[str, Any]:
        return {"width": self.width, "depth": self.layers} if self.model == "mlp" else {}

    def space(self, input_shape, n_classes) -> dict[str, Any]:
        """Everything that defines what a trial means; stored in the study and checked on reuse."""
        slots = list(slot_names(self.model, input_shape, n_classes, **self.model_options))
        searched = [s for s in slots if s != "output" or self.search_output]
        t = {k: v for k, v in self.train.to_dict().items() if k not in ("seed", *WHERE_ONLY["train"])}
        return {
            "dataset": self.dataset,
            "model": self.model,
            "model_options": self.model_options,
            "slots": searched,
            "candidates": list(self.candidates),
            "encoding": "index" if self.sampler == "cmaes" else "name",
            "train": t,
            "data_options": {k: v for k, v in self.data_options.items() if k not in WHERE_ONLY["data_options"]},
            "data_seed": self.data_seed,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def make_sampler(config: SearchConfig, space: dict, offset: int = 0) -> optuna.samplers.BaseSampler:
    seed = (config.seed + offset) % (V.MAX_SEED + 1)  # numpy's seeds are 32-bit
    if config.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":  # CMA-ES has no categorical: each slot is an integer index into the candidates
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.CmaEsSampler(seed=seed, with_margin=True, warn_independent_sampling=False)
    grid = {f"act_{s}": list(space["candidates"]) for s in space["slots"]}
    size = math.prod(len(v) for v in grid.values())
    if size > 10_000:
        raise ActlabError(f"the grid has {size} points; grid search is for tiny spaces (use tpe, cmaes or random)")
    return _AskTellGrid(grid, seed=seed)


class _AskTellGrid(optuna.samplers.GridSampler):
    """GridSampler whose ``after_trial`` does not call ``study.stop()``, which only works inside
    ``optimize``; our worker loop stops itself when the grid is exhausted."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
    return optuna.pruners.NopPruner()


def suggest(trial: optuna.Trial, space: dict) -> dict[str, str]:
    """The trial's activation plan: slot -> candidate name (``output`` identity unless searched)."""
    cands = space["candidates"]
    plan = {}
    for s in space["slots"]:
        if space["encoding"] == "index":
            plan[s] = cands[trial.suggest_int(f"act_{s}", 0, len(cands) - 1)]
        else:
            plan[s] = trial.suggest_categorical(f"act_{s}", cands)
    return plan


def plan_of(params: dict[str, Any], space: dict) -> dict[str, str]:
    cands = space["candidates"]
    return {
        s: (cands[params[f"act_{s}"]] if space["encoding"] == "index" else params[f"act_{s}"]) for s in space["slots"]
    }


def baseline_plan(space: dict) -> dict[str, str]:
    return {s: (None if s == "output" else BASELINE) for s in space["slots"]}


def work(
    config: SearchConfig, storage, study_name: str, data, worker: int = 0, progress: bool = True
) -> dict[str, int]:
    """One worker: run trials until the study holds ``config.trials`` finished ones."""
    space = config.space(data.input_shape, data.n_classes)
    probe = _study.open_study(storage, study_name, space, optuna.samplers.RandomSampler())
    offset = 1000 * worker + len(probe.get_trials(deepcopy=False))  # workers must not draw the same numbers
    study = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=make_sampler(config, space, offset),
        pruner=make_pruner(config.pruner, config.train.epochs),
    )
    grace = 6 * config.heartbeat
    bar = Progress(config.trials, "trials", enabled=progress, done=_study.counts(study)["done"])
    mine = 0
    while True:
        _study.fail_stale_trials(study, grace)
        c = _study.counts(study)
        bar.done = c["done"]
        if c["done"] >= config.trials:
            break
        if config.sampler == "grid" and study.sampler.is_exhausted(study) and not c["waiting"]:
            break
        if c["done"] + c["running"] >= config.trials and not c["waiting"]:
            time.sleep(min(config.heartbeat, 2.0))  # the rest is running elsewhere; watch for dead workers
            continue
        n = min(config.pack, config.trials - c["done"] - c["running"]) if packable(config.model) else 1
        batch = []
        for _ in range(max(n, 1)):
            trial = study.ask()
            if _study.is_surplus(study, trial.number, config.trials):
                study._storage.set_trial_system_attr(trial._trial_id, _study.SURPLUS, True)
                study.tell(trial, state=TrialState.FAIL)
                break
            batch.append((trial, _study.Heartbeat(study, trial._trial_id, config.heartbeat)))
        if not batch:
            continue
        try:
            plans = [suggest(trial, space) for trial, _ in batch]
            names = ", ".join(str(t.number) for t, _ in batch)
            bar.begin(f"trial{'s' if len(batch) > 1 else ''} {names} (worker {worker})")
            outcomes = _run_trials([t for t, _ in batch], plans, config, data, bar)
        finally:
            for _, beat in batch:
                beat.stop()
        for (trial, _), (state, value) in zip(batch, outcomes):
            study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
            mine += 1
        best = best_so_far(study)
        for trial, _ in batch:
            bar.begin(f"trial {trial.number}")
            bar.finish(f"{describe(study._storage.get_trial(trial._trial_id))}; {best}")
    return {"trials_run_here": mine, **_study.counts(study)}


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """How a finished trial ended, as progress lines say it."""
    epochs = trial.user_attrs.get("epochs_run")
    if trial.state == TrialState.PRUNED:
        last = trial.intermediate_values.get(trial.last_step) if trial.last_step is not None else None
        return f"pruned after epoch {trial.last_step}" + (f" (val_acc {last:.3f})" if last is not None else "")
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
    return f"best {best.value:.3f} (trial {best.number})"


def _run_trials(trials, plans, config: SearchConfig, data, bar) -> list[tuple[TrialState, float | None]]:
    """Train the trials' plans, one model or several packed into one (population trainer); report
    each trial's validation accuracy per epoch to Optuna, which may prune it."""
    cfg = TrainConfig.from_dict({**config.train.to_dict(), "seed": config.seed, "diagnostics": False})

    def report(trial, epoch, record) -> bool:
        acc = record.get("val_accuracy", math.nan)
        trial.report(acc if math.isfinite(acc) else 0.0, epoch)
        return trial.should_prune()

    together = [i for i, p in enumerate(plans) if packable(config.model, p)] if len(trials) > 1 else []
    results: dict[int, Any] = {}
    if len(together) > 1:

        def on_member_epoch(k, epoch, record):
            if k == 0:
                bar.update(f"epoch {epoch}/{cfg.epochs}, {len(together)} packed")
            return report(trials[together[k]], epoch, record)

        packed = train_population(
            [plans[i] for i in together], data, cfg, config.model_options, on_epoch=on_member_epoch
        )
        results.update(zip(together, packed))
    for i, (trial, plan) in enumerate(zip(trials, plans)):  # alone: one trial, or a plan a pack cannot hold
        if i in results:
            continue

        def on_epoch(epoch, record, trial=trial):
            bar.update(f"epoch {epoch}/{cfg.epochs} val_acc {record.get('val_accuracy', math.nan):.3f}")
            return report(trial, epoch, record)

        results[i] = train(
            lambda: build(config.model, data.input_shape, data.n_classes, plan, **config.model_options),
            data,
            cfg,
            on_epoch=on_epoch,
        )
    return [_finish(trial, plan, results[i]) for i, (trial, plan) in enumerate(zip(trials, plans))]


def _finish(trial, plan, result) -> tuple[TrialState, float | None]:
    accs = [e.get("val_accuracy", math.nan) for e in result.epochs]
    finite = [a for a in accs if math.isfinite(a)]
    best = result.best_val_accuracy  # a run that diverged before any validation scores 0
    trial.set_user_attr("status", result.status)
    trial.set_user_attr("best_epoch", (accs.index(best) + 1) if finite else 1)
    trial.set_user_attr("epochs_run", len(result.epochs))
    trial.set_user_attr("seconds", result.seconds)
    trial.set_user_attr("packed", result.epochs[0].get("packed", 1) if result.epochs else 1)
    trial.set_user_attr("plan", {k: (v or "linear") for k, v in plan.items()})
    if result.status == "pruned":
        return TrialState.PRUNED, None
    return TrialState.COMPLETE, best


__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "SearchConfig",
    "baseline_plan",
    "best_so_far",
    "candidates",
    "describe",
    "make_pruner",
    "make_sampler",
    "plan_of",
    "suggest",
    "work",
]
