"""From the search space to Optuna and back: the sampler and the pruner of a study, a trial's
activation plan (:func:`suggest`, :func:`plan_of`) and the baseline's (:func:`baseline_plan`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import optuna

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab.studies.search.config import BASELINE, SearchConfig


def make_sampler(config: SearchConfig, space: dict, offset: int = 0) -> optuna.samplers.BaseSampler:
    seed = (config.seed + offset) % (V.MAX_SEED + 1)  # numpy's seeds are 32-bit
    if config.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":  # CMA-ES has no categorical: each slot is an integer index into the candidates
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
