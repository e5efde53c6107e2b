"""Screen activation functions: rank every candidate without training it, train only the
promising ones (AQuaSurF's loop, Bingham & Miikkulainen 2023, on actlab's surrogate).

``run_screen(config, out)``:

1. the features of every candidate on the task (:mod:`actlab.surrogate.features`; a second or so for the
   whole catalogue), kept in ``out/features``; a candidate that cannot run in the model is set
   aside with the reason;
2. the eight usual functions (elu, relu, selu, sigmoid, softplus, softsign, swish, tanh) are
   trained, ``seeds`` seeds each, and the surrogate is fit on their validation accuracy;
3. ``train_top`` times, ``per_round`` at a time, the untrained candidates predicted best are
   trained and the surrogate fit again; each prediction is recorded before its training;
4. ``train_random`` candidates drawn at random (seeded) among the rest are predicted, then
   trained: the top picks are predicted high by construction, so the random ones are the fair
   sample for the rank correlation of predicted and real accuracy;
5. the surrogate fit on everything trained ranks every candidate (real accuracy where trained,
   prediction elsewhere); its leave-one-out rank correlation over the trained functions is given
   too.

A function's score is its validation accuracy: the best epoch's, averaged over the seeds (0 for a
run that diverged before its first validation), as search scores a trial. Every training is a
runner unit (:mod:`actlab.execution.runner`), written to ``out/units/<function>__seed<k>.json``; since every
choice depends only on finished trainings, a killed screen resumes with nothing lost and makes
the same choices again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._io import own_out, prepare_out, write_json_atomic
from actlab._progress import Progress
from actlab.catalogue import REGISTRY, entries, expr, split_specs
from actlab.execution import Runner, Unit, load_data, provide_data, slug
from actlab.models import build
from actlab.stats import rank_correlation
from actlab.surrogate.features import DEFAULT_REGRESSOR, REGRESSORS, USUAL, Surrogate, Task, function_key
from actlab.training import TrainConfig, best_val_accuracy

FORMAT_RESULTS = "actlab-screen-results"
ROLES = ("usual", "top", "random")


def catalogue_names() -> list[str]:
    """Every function of the catalogue (those that cannot run in a model are set aside later)."""
    return [e.name for e in entries() if e.kind != "user"]


def candidates(spec: str | list[str]) -> list[str]:
    """``all`` (the whole catalogue) or a comma list of specs (names, ``expr:`` expressions),
    each checked; one line for an unknown name, a bad expression or a repeat."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return catalogue_names()
        spec = split_specs(spec) if spec.strip() else []
    names = [s.strip() for s in spec]
    if not names:
        raise ActlabError("the candidate list is empty; give all, or specs such as relu,gelu,expr:x*tanh(x)")
    for n in names:
        if n.startswith(expr.PREFIX):  # parsed and checked here, without building its catalogue entry
            if not expr.depends_on_x(expr.parse(n[len(expr.PREFIX) :])):
                raise ActlabError(f"candidate {n!r} is a constant: an activation function must depend on x")
        else:
            REGISTRY.resolve(n)  # unknown names, bad arguments: one line from the catalogue
    seen: dict[Any, str] = {}
    for n in names:
        first = seen.setdefault(function_key(n), n)
        if first != n or names.count(n) > 1:
            same = "is listed twice" if first == n else f"is the same function as {first!r}"
            raise ActlabError(f"candidate {n!r} {same}; list each once")
    return names


@dataclass
class ScreenConfig:
    """Everything that decides a screen (saved with its results): the task, the candidates, how
    many to train and how (``train``; one run per seed ``0 .. seeds-1``), the regressor."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    candidates: list[str] = field(default_factory=catalogue_names)
    seeds: int = 2  # trainings per function
    train_top: int = 8
    train_random: int = 4
    per_round: int = 1  # top picks trained between two fits of the surrogate
    regressor: str = DEFAULT_REGRESSOR
    seed: int = 0  # the random picks
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=20, patience=5, monitor="val_accuracy", diagnostics=False)
    )
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainConfig.from_dict(self.train)
        self.candidates = candidates(list(self.candidates))
        self.seeds = V.integer("--seeds", self.seeds, 1, V.MAX_SEEDS)
        self.train_top = V.integer("--train-top", self.train_top, 0, V.MAX_COUNT)
        self.train_random = V.integer("--train-random", self.train_random, 0, V.MAX_COUNT)
        self.per_round = V.integer("--per-round", self.per_round, 1, V.MAX_COUNT)
        self.seed = V.integer("--seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        if self.regressor not in REGRESSORS:
            raise ActlabError(f"unknown regressor {self.regressor!r}; choose one of: {', '.join(REGRESSORS)}")

    def task(self) -> Task:
        """The surrogate's task: this dataset and model, the first training seed's initial weights."""
        return Task(
            dataset=self.dataset,
            model=self.model,
            data_seed=self.data_seed,
            model_options=self.model_options,
            data_options=self.data_options,
            loss=self.train.loss,
            seed=0,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def usual(cands: list[str]) -> list[str]:
    """The eight usual functions, each spelt as in ``cands`` where it is there (``silu`` for swish)."""
    mine = {function_key(c): c for c in cands}
    return [mine.get(function_key(u), u) for u in USUAL]


class Trainings:
    """Trains functions on the runner (``config.seeds`` units each, files in ``folder``) and
    scores them (:meth:`score`)."""

    def __init__(self, config: ScreenConfig, runner: Runner, folder: Path, bar: Progress, location: dict[str, Any]):
        self.config, self.runner, self.folder, self.bar, self.location = config, runner, folder, bar, location
        self.records: dict[str, list[dict[str, Any]]] = {}

    def unit(self, spec: str, seed: int) -> Unit:
        c = self.config
        return Unit(
            name=f"{slug(spec)}__seed{seed}",
            plan=spec,
            dataset=c.dataset,
            model=c.model,
            train={**c.train.to_dict(), "seed": seed},
            data_seed=c.data_seed,
            data_options={**c.data_options, **self.location},
            model_options=c.model_options,
        )

    def train(self, specs: list[str]) -> None:
        todo = [self.unit(s, k) for k in range(self.config.seeds) for s in specs]

        def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
            self.bar.begin(f"{u.plan} seed {u.train['seed']}")
            if "error" in rec:
                self.bar.finish(f"failed: {rec['error'][:80]}", skipped=cached)
            else:
                self.bar.finish(
                    "already done, skipped"
                    if cached
                    else f"{rec['result']['status']}, val acc {best_val_accuracy(rec['result']):.3f}",
                    skipped=cached,
                )

        recs = self.runner.run(todo, self.folder, on_done=done)
        for u in todo:  # seed by seed, however many were found finished: a resumed screen sums alike
            self.records.setdefault(u.plan, []).append(recs[u.name])

    def score(self, spec: str) -> float | None:
        """Mean best validation accuracy over the seeds; None if a training failed."""
        recs = self.records[spec]
        if any("error" in r for r in recs):
            return None
        return float(np.mean([best_val_accuracy(r["result"]) for r in recs]))


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
    """Rank, train and rank again (see the module docstring). Returns the ``results.json``
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
    build(config.model, data.input_shape, data.n_classes, "relu", **config.model_options)
    out = prepare_out(out, "units", "features")
    own_out(out, "screen", force)
    sur = Surrogate(config.task(), data, folder=out / "features", regressor=config.regressor)
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
    pool = [c for c in runnable if c not in base]
    top_n = min(config.train_top, len(pool))
    random_n = min(config.train_random, len(pool) - top_n)
    bar = Progress((len(base) + top_n + random_n) * config.seeds, "runs", enabled=progress)
    own = runner is None
    runner = runner or Runner()
    trainer = Trainings(config, runner, out / "units", bar, location)
    provide_data(trainer.unit(base[0], 0), data)
    picks: dict[str, dict[str, Any]] = {b: {"role": "usual", "round": 0} for b in base}
    try:
        trainer.train(base)
        rounds = 0
        while sum(p["role"] == "top" for p in picks.values()) < top_n:
            rounds += 1
            rest = [c for c in pool if c not in picks]
            mean, std = _fit(sur, trainer, picks, runnable).predict(rest)
            n = min(config.per_round, top_n - sum(p["role"] == "top" for p in picks.values()))
            chosen = sorted(range(len(rest)), key=lambda i: (-mean[i], i))[:n]
            for i in chosen:
                picks[rest[i]] = {
                    "role": "top",
                    "round": rounds,
                    "predicted": float(mean[i]),
                    "predicted_std": float(std[i]),
                }
            trainer.train([rest[i] for i in chosen])
        rest = [c for c in pool if c not in picks]
        drawn = [rest[i] for i in np.random.default_rng(config.seed).permutation(len(rest))[:random_n]]
        if drawn:
            mean, std = _fit(sur, trainer, picks, runnable).predict(drawn)
            for s, m, sd in zip(drawn, mean, std):
                picks[s] = {"role": "random", "round": rounds + 1, "predicted": float(m), "predicted_std": float(sd)}
            trainer.train(drawn)
    finally:
        if own:
            runner.close()
    results = summarise(config, data, sur, trainer, picks, cands, feature_seconds)
    write_json_atomic(out / "results.json", results)
    return results


def _fit(sur: Surrogate, trainer: Trainings, picks: dict[str, dict[str, Any]], runnable: list[str]) -> Surrogate:
    scored = [(s, trainer.score(s)) for s in picks]
    scored = [(s, v) for s, v in scored if v is not None]
    return sur.fit([s for s, _ in scored], [v for _, v in scored], pool=runnable)


def summarise(
    config: ScreenConfig,
    data,
    sur: Surrogate,
    trainer: Trainings,
    picks: dict[str, dict[str, Any]],
    cands: list[str],
    feature_seconds: list[float],
) -> dict[str, Any]:
    """The final ranking, the picks' predictions against their real scores, and the surrogate's
    leave-one-out rank correlation."""
    runnable = [c for c in cands if sur.ok(c)]
    _fit(sur, trainer, picks, runnable)
    listed = list(dict.fromkeys([*cands, *picks]))
    mean, std = sur.predict(listed)
    xy = sur.embedding(listed)
    trained = [s for s in picks if trainer.score(s) is not None]
    loo_mean, loo_std = sur.leave_one_out(trained, [trainer.score(s) for s in trained])
    loo = dict(zip(trained, zip(loo_mean, loo_std)))
    rows = []
    for i, s in enumerate(listed):
        f = sur.features(s)
        p = picks.get(s, {})
        recs = trainer.records.get(s, [])
        val = [best_val_accuracy(r["result"]) for r in recs if "error" not in r]
        test = [r["result"]["test"]["accuracy"] for r in recs if "error" not in r]
        score = trainer.score(s) if recs else None
        rows.append(
            {
                "spec": s,
                "candidate": s in cands,
                "runs_in_model": bool(f["ok"]),
                "note": f["note"],
                "role": p.get("role"),
                "round": p.get("round"),
                "predicted_before": p.get("predicted"),
                "predicted_before_std": p.get("predicted_std"),
                "predicted": float(mean[i]) if f["ok"] else None,
                "predicted_std": float(std[i]) if f["ok"] else None,
                "leave_one_out": float(loo[s][0]) if s in loo else None,
                "val_accuracy": score,
                "val_accuracy_seeds": val,
                "test_accuracy": float(np.mean(test)) if test else None,
                "error": next((r["error"] for r in recs if "error" in r), None),
                "map": [float(v) for v in xy[i]] if f["ok"] else None,
            }
        )
    # the ranking: real score where trained, prediction elsewhere; those that cannot run last
    key = [
        r["val_accuracy"] if r["val_accuracy"] is not None else (r["predicted"] if r["predicted"] is not None else -1.0)
        for r in rows
    ]
    order = sorted(range(len(rows)), key=lambda i: (-key[i], i))
    for rank, i in enumerate(order, 1):
        rows[i]["rank"] = rank
    rows = [rows[i] for i in order]
    by_role = {role: [r for r in rows if r["role"] == role and r["val_accuracy"] is not None] for role in ROLES}
    picked = by_role["top"] + by_role["random"]
    units = [r["result"]["seconds"] for recs in trainer.records.values() for r in recs if "error" not in r]
    return {
        "format": FORMAT_RESULTS,
        "config": config.to_dict(),
        "task": config.task().to_dict(),
        "regressor": config.regressor,
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        },
        "score": "validation accuracy of the best epoch, mean over seeds (0 for a run that diverged before validation)",
        "correlation": {
            "picked": rank_correlation([r["predicted_before"] for r in picked], [r["val_accuracy"] for r in picked]),
            "random": rank_correlation(
                [r["predicted_before"] for r in by_role["random"]], [r["val_accuracy"] for r in by_role["random"]]
            ),
            "leave_one_out": rank_correlation(
                [r["leave_one_out"] for r in rows if r["leave_one_out"] is not None],
                [r["val_accuracy"] for r in rows if r["leave_one_out"] is not None],
            ),
        },
        "timing": {
            "features_seconds": float(np.sum(feature_seconds)),
            "features_seconds_median": float(np.median(feature_seconds)),
            "training_seconds_median": float(np.median(units)) if units else None,
            "note": "features: computed once per function (cached in features/); training: seconds of one "
            "training, or of its pack where runs trained packed",
        },
        "candidates": rows,
    }


def format_table(results: dict[str, Any], top: int = 15) -> str:
    """The ranking's head and the correlations as plain text (printed by ``actlab screen``)."""
    head = f"{'rank':>4}  {'function':<28} {'predicted ± std':>16} {'val acc':>8}  trained"
    lines = [head, "-" * len(head)]
    for r in results["candidates"][:top]:
        # a trained function shows the prediction made before its training; the usual ones had none
        mean, std = (
            (r["predicted_before"], r["predicted_before_std"]) if r["role"] else (r["predicted"], r["predicted_std"])
        )
        pred = f"{mean:.3f} ± {std:.3f}" if mean is not None else ""
        val = f"{r['val_accuracy']:.3f}" if r["val_accuracy"] is not None else ""
        lines.append(f"{r['rank']:>4}  {r['spec'][:28]:<28} {pred:>16} {val:>8}  {r['role'] or ''}")
    left = len(results["candidates"]) - top
    if left > 0:
        lines.append(f"... {left} more in results.json")
    lines.append("predicted: validation accuracy; for a trained function the prediction made before its training")
    c = results["correlation"]
    for key, what in (
        ("picked", "top and random picks, predicted before training"),
        ("random", "random picks only"),
        ("leave_one_out", "leave-one-out over every trained function"),
    ):
        rho = c[key]
        lines.append(
            f"Spearman {what}: "
            + (
                f"{rho['spearman']:+.2f} (n = {rho['n']}, p = {rho['p_value']:.3f})"
                if rho["spearman"] is not None
                else f"n/a ({rho['note']})"
            )
        )
    return "\n".join(lines)


__all__ = [
    "FORMAT_RESULTS",
    "ScreenConfig",
    "Trainings",
    "candidates",
    "catalogue_names",
    "format_table",
    "run_screen",
    "summarise",
    "usual",
]
