"""A screen's trainings: each function trained on the runner (``seeds`` units), scored by its
mean best validation accuracy, and the surrogate fit on the scores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from actlab._progress import Progress
from actlab.execution import Runner, Task, Unit, finished_text, slug
from actlab.studies.screen.config import ScreenConfig
from actlab.surrogate import Surrogate
from actlab.training import run_score


class Trainings:
    """Trains functions on the runner (``config.seeds`` units each, files in ``folder``) and
    scores them (:meth:`score`)."""

    def __init__(self, config: ScreenConfig, runner: Runner, folder: Path, bar: Progress, location: dict[str, Any]):
        self.config, self.runner, self.folder, self.bar, self.location = config, runner, folder, bar, location
        self.records: dict[str, list[dict[str, Any]]] = {}

    def unit(self, spec: str, seed: int) -> Unit:
        return Task.of(self.config, self.location).unit(f"{slug(spec)}__seed{seed}", spec, seed=seed)

    def train(self, specs: list[str]) -> None:
        todo = [self.unit(s, k) for k in range(self.config.seeds) for s in specs]

        def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
            self.bar.begin(f"{u.plan} seed {u.train['seed']}")
            self.bar.finish(finished_text(rec, cached, "val"), skipped=cached)

        recs = self.runner.run(todo, self.folder, on_done=done)
        for u in todo:  # seed by seed, however many were found finished: a resumed screen sums alike
            self.records.setdefault(u.plan, []).append(recs[u.name])

    def score(self, spec: str) -> float | None:
        """Mean score over the seeds (best validation accuracy, or the metric a training loop of the
        user's is selected on: :func:`~actlab.training.run_score`); None if a training failed or
        scored no finite value."""
        recs = self.records[spec]
        if any("error" in r for r in recs):
            return None
        value = float(np.mean([run_score(r["result"]) for r in recs]))
        return value if np.isfinite(value) else None

    def fit(self, sur: Surrogate, specs: list[str], pool: list[str]) -> Surrogate:
        """``sur`` fit on the scores of ``specs`` (those whose trainings all finished), its
        embedding on them and ``pool``."""
        scored = [(s, self.score(s)) for s in specs]
        scored = [(s, v) for s, v in scored if v is not None]
        return sur.fit([s for s, _ in scored], [v for _, v in scored], pool=pool)
