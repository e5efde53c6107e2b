"""Run a screen (see :mod:`actlab.studies.screen`): the features of every candidate, the usual
functions trained, then the top predicted and the random picks, round by round."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actlab._errors import ActlabError
from actlab._io import own_out, prepare_out, write_json_atomic
from actlab._progress import Progress
from actlab.execution import Runner, Task, load_data, provide_data
from actlab.execution.transfer import transfer_to
from actlab.models import model_summary
from actlab.stats import final_seeds
from actlab.studies.screen.config import ScreenConfig, usual
from actlab.studies.screen.results import summarise
from actlab.studies.screen.trainings import Trainings
from actlab.surrogate import USUAL, Surrogate, function_key

Picks = dict[str, dict[str, Any]]  # function -> how it was picked: role, round, prediction before training


def run_screen(
    config: ScreenConfig,
    out: str | Path,
    data=None,
    progress: bool = True,
    runner: Runner | None = None,
    data_location: dict[str, Any] | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Rank, train and rank again (see :mod:`actlab.studies.screen`). Returns the ``results.json``
    content (also written to ``out``); the caller writes the report. ``say`` prints the steps."""
    location = dict(data_location or {})
    if data is None:
        data = load_data(
            {
                "dataset": config.dataset,
                "data_seed": config.data_seed,
                "data_options": {**config.data_options, **location},
            }
        )
    # a model that cannot be built for this data says so in one line, before any file is made
    model = model_summary(config.model, data.input_shape, data.n_classes, **config.model_options)
    out = prepare_out(out, "units", "features")
    own_out(out, "screen", force)
    if progress:
        print(model, file=sys.stderr, flush=True)
    sur = Surrogate(config.task(), data, folder=out / "features", regressor=config.regressor)
    runnable, base, feature_seconds = _features(config, sur, say)
    pool = [c for c in runnable if c not in base]
    top_n = min(config.train_top, len(pool))
    random_n = min(config.train_random, len(pool) - top_n)
    bar = Progress((len(base) + top_n + random_n) * config.seeds, "runs", enabled=progress)
    own = runner is None
    runner = runner or Runner()
    trainer = Trainings(config, runner, out / "units", bar, location)
    provide_data(trainer.unit(base[0], 0), data)
    picks: Picks = {b: {"role": "usual", "round": 0} for b in base}
    try:
        trainer.train(base)
        rounds = _Rounds(sur, trainer, runnable, pool, picks)
        last = rounds.top(top_n, config.per_round)
        rounds.random(random_n, config.seed, round_=last + 1)
        results = summarise(config, data, sur, trainer, picks, config.candidates, feature_seconds)
        if config.transfer_to:
            results["transfer"] = _transfer(config, results, runner, out / "transfer", location, progress)
    finally:
        if own:
            runner.close()
    write_json_atomic(out / "results.json", results)
    return results


def _transfer(
    config: ScreenConfig,
    results: dict[str, Any],
    runner: Runner,
    folder: Path,
    location: dict[str, Any],
    progress: bool,
) -> dict[str, Any] | None:
    """The best trained function other than ReLU, and ReLU, on ``config.transfer_to``: the screen's
    training (epochs, early stopping) with the weights of the best validation epoch,
    ``config.final_seeds`` fresh seeds; nothing screened again. None where no other function trained."""
    relu = usual(config.candidates)[USUAL.index("relu")]
    key = function_key(relu)
    others = [r for r in results["candidates"] if r["val_accuracy"] is not None and function_key(r["spec"]) != key]
    if not others:
        return None
    best = max(others, key=lambda r: r["val_accuracy"])["spec"]
    train = {"restore_best": True}
    seeds = final_seeds(config.seed, config.final_seeds)
    base = Task.of(config, location)
    to = config.transfer_to or []
    return transfer_to({best: best, relu: relu}, base, to, seeds, runner, folder, relu, progress, **train)


def _features(
    config: ScreenConfig, sur: Surrogate, say: Callable[[str], None]
) -> tuple[list[str], list[str], list[float]]:
    """Every candidate's features: those that run in the model, the usual functions (each must
    run, the surrogate learns from them) and the seconds of each function's features."""
    cands = config.candidates
    for c in cands:
        sur.features(c)
    runnable = [c for c in cands if sur.ok(c)]
    base = usual(cands)
    bad = [b for b in base if not sur.ok(b)]
    if bad:
        raise ActlabError(
            f"the usual function {bad[0]!r} does not run in model {config.model!r} "
            f"({sur.features(bad[0])['note']}); the surrogate needs them to learn from"
        )
    feature_seconds = [sur.features(c)["seconds"] for c in dict.fromkeys([*cands, *base])]
    say(
        f"screen: features of {len(cands)} candidates in {sum(feature_seconds):.1f} s "
        f"({len(cands) - len(runnable)} cannot run in model {config.model})"
    )
    return runnable, base, feature_seconds


@dataclass
class _Rounds:
    """The picks after the usual functions: the surrogate, the trainings, the candidates that run
    in the model, those that may be picked (``pool``) and the picks so far."""

    sur: Surrogate
    trainer: Trainings
    runnable: list[str]
    pool: list[str]
    picks: Picks

    def rest(self) -> list[str]:
        return [c for c in self.pool if c not in self.picks]

    def predict(self, specs: list[str]):
        """Predictions for ``specs`` by the surrogate fit on every pick trained so far."""
        return self.trainer.fit(self.sur, list(self.picks), self.runnable).predict(specs)

    def top(self, n: int, per_round: int) -> int:
        """Train the ``n`` functions predicted best, ``per_round`` at a time, the surrogate fit
        again before each round; each prediction kept before its training. Returns the rounds."""
        rounds = 0
        while (done := sum(p["role"] == "top" for p in self.picks.values())) < n:
            rounds += 1
            rest = self.rest()
            mean, std = self.predict(rest)
            chosen = sorted(range(len(rest)), key=lambda i: (-mean[i], i))[: min(per_round, n - done)]
            for i in chosen:
                self.picks[rest[i]] = {
                    "role": "top",
                    "round": rounds,
                    "predicted": float(mean[i]),
                    "predicted_std": float(std[i]),
                }
            self.trainer.train([rest[i] for i in chosen])
        return rounds

    def random(self, n: int, seed: int, round_: int) -> None:
        """Predict, then train, ``n`` functions drawn at random (``seed``) among those not picked."""
        rest = self.rest()
        drawn = [rest[i] for i in np.random.default_rng(seed).permutation(len(rest))[:n]]
        if not drawn:
            return
        mean, std = self.predict(drawn)
        for s, m, sd in zip(drawn, mean, std, strict=True):
            self.picks[s] = {"role": "random", "round": round_, "predicted": float(m), "predicted_std": float(sd)}
        self.trainer.train(drawn)
