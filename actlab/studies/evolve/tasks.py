"""Evolution on several tasks (``--tasks mnist1d,digits,fashion-mnist:10000``): each candidate's
fitness at a fidelity is its mean standing against ReLU over the tasks, or (``--task-fitness
worst``) its lowest.

On each task ``t`` and fidelity, ReLU trains ``reference_seeds`` times (seeds ``seed``,
``seed + 1``, ...; units like any other, kept in the run's folder): their mean ``m_t`` and
standard deviation ``s_t``. A candidate that scored ``x_t`` there stands at
``z_t = (x_t - m_t) / max(s_t, FLOOR)``, clipped to ``[WORST, -WORST]``; its fitness is the mean
of ``z_t`` over the tasks: 0 is ReLU's level, +1 one ReLU seed spread better on average. With
``worst`` it is the lowest ``z_t``: a candidate counts only as good as on the task where it does
worst, so a large gain on one task cannot buy a loss on another. A
candidate that fails (diverges, errors) on any task, or is rejected before training, scores
``WORST``.

Why this and not the mean rank of a candidate within its generation on each task: both keep a
task with wide score differences from outweighing the others, but a rank depends on who else is in
the generation, so the same function would score differently from one generation to the next,
the cache of trained behaviours, the hall of fame and successive halving across generations
would compare numbers of different scales, and a resumed or restarted run could not reuse a
fitness. The standing against ReLU is a property of the function alone. Measured with
``benchmarks/discovery.py --quick --only tasks`` (iris, wine, digits:300; 776 candidates at the
first fidelity): the two orders agree (Spearman +0.99), each follows every task about alike
(Spearman with the task's own score +0.87 to +0.96 for the standing, +0.90 to +0.95 for the
rank), and a candidate's mean rank moves with the generation it lands in by 0.09 on average (up
to 0.17) on its 0-1 scale, over 20 random draws of generations of 12.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import catalogue_plan, make_task

FLOOR = 0.01  # the smallest spread a task's standing is measured in (one point of accuracy)
WORST = -100.0  # the standing of a failed candidate, and the lowest (and, negated, highest) of a task
AGGREGATE = {
    how: f"{how} over the tasks of (score - ReLU's mean score) / max(ReLU's seed spread, "
    f"{FLOOR}), at the same fidelity; a failure on any task scores {WORST:g}"
    for how in ("mean", "worst")
}


class Standing:
    """The candidates' standing on several tasks: ReLU's references, trained once per fidelity
    with ``train(tasks) -> records``, and a candidate's per-task records combined into one."""

    def __init__(self, config: EvolveConfig, train: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]):
        self.config, self.train = config, train
        self.configs = config.task_configs()
        self.names = config.task_names()
        self.references: dict[int, list[dict[str, Any]]] = {}  # fidelity -> per task {mean, spread, scores}

    def tasks(self, plan: Mapping[str, str], fidelity: int) -> list[dict[str, Any]]:
        """The fitness tasks of ``plan`` at ``fidelity``, one per task."""
        return [make_task(c, plan, fidelity=fidelity) for c in self.configs]

    def reference(self, fidelity: int) -> list[dict[str, Any]]:
        """ReLU at ``fidelity`` on each task (trained on first use): mean, spread and the scores."""
        if fidelity not in self.references:
            n, seed = self.config.reference_seeds, self.config.seed
            tasks = [
                make_task(c, catalogue_plan("relu"), fidelity=fidelity, seed=seed + i)
                for c in self.configs
                for i in range(n)
            ]
            records = self.train(tasks)
            self.references[fidelity] = [
                _reference([r["fitness"] for r in records[t * n : (t + 1) * n]]) for t in range(len(self.configs))
            ]
        return self.references[fidelity]

    def combine(self, records: Sequence[Mapping[str, Any]], fidelity: int) -> dict[str, Any]:
        """One candidate's fitness record at ``fidelity`` from its ``records``, one per task:
        ``fitness`` its mean standing (``task_fitness`` "worst": its lowest), ``tasks`` each
        task's score (name -> [score])."""
        refs = self.reference(fidelity)
        bad = next(((n, r) for n, r in zip(self.names, records, strict=True) if r["status"] != "ok"), None)
        z = [standing(r["fitness"], ref) for r, ref in zip(records, refs, strict=True)]
        out = {
            "fitness": WORST if bad else min(z) if self.config.task_fitness == "worst" else sum(z) / len(z),
            "status": f"{bad[1]['status']} on {bad[0]}" if bad else "ok",
            "seconds": sum(float(r.get("seconds") or 0.0) for r in records),
            "tasks": {n: [float(r["fitness"])] for n, r in zip(self.names, records, strict=True)},
        }
        return out

    def summary(self) -> dict[str, Any]:
        """What results.json says of the tasks: names, the aggregation, ReLU's references."""
        levels = range(len(self.config.fidelity_levels()))
        return {
            "names": self.names,
            "aggregate": AGGREGATE[self.config.task_fitness],
            "reference_seeds": self.config.reference_seeds,
            "relu": {n: [self.reference(f)[t] for f in levels] for t, n in enumerate(self.names)},
        }


def standing(score: float, reference: Mapping[str, Any]) -> float:
    """``score`` in ReLU's spread above ReLU's mean score (clipped to ``[WORST, -WORST]``)."""
    z = (score - reference["mean"]) / max(reference["spread"], FLOOR)
    return min(max(z, WORST), -WORST)


def _reference(scores: Sequence[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(scores), "spread": statistics.stdev(scores), "scores": list(scores)}


__all__ = ["AGGREGATE", "FLOOR", "WORST", "Standing", "standing"]
