"""Compare activation functions on a dataset and model, over several seeds.

``run_compare(config, out)`` hands every (activation, seed) pair to the runner
(:mod:`actlab.execution.runner`) as one unit: MLP runs of one seed train packed (each as if alone), other
models one by one, in this process, in worker processes or on Dask. Each finished run is written
atomically to ``out/runs/<activation>__seed<k>.json``; a rerun on the same ``out`` skips the
runs already there, so a killed comparison resumes where it stopped, and several processes on
one ``out`` split the runs between them. Then the summary: ``results.json``, the plots and
``report.html``.

Fairness: every activation sees the same data split (``data_seed``), and seed ``k`` gives every
activation the same initial weights (where the model's shapes agree) and the same batch order.
Model selection (early stopping, the restored epoch) uses the validation split only; the test
split is scored once per run. Time per epoch is each run's own unless runs trained packed (a
pack's epoch is shared): then each activation is timed alone, on a short run in this process.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from actlab import _validate as V
from actlab._errors import ActlabError, first_line
from actlab._io import own_out, write_json_atomic
from actlab._io import prepare_out as _prepare_out
from actlab._progress import Progress
from actlab.catalogue import REGISTRY, get
from actlab.execution import Runner, Unit, load_data, provide_data, slug
from actlab.models import build
from actlab.stats import (
    ACCURACY,
    ALPHA,
    NOT_CONVERGED,
    converged,
    convergence_note,
    format_p,
    mean_std_ci,
    result_converged,
    versus,
)
from actlab.training import RunResult, TrainConfig, few_steps, train


@dataclass
class CompareConfig:
    dataset: str = "mnist1d"
    model: str = "mlp"
    activations: list[str] = field(default_factory=lambda: ["relu", "selu", "tanh", "sigmoid", "swish", "mish"])
    seeds: int = 3
    baseline: str | None = None  # default: relu where it is compared, else the first activation
    train: TrainConfig = field(default_factory=TrainConfig)
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. width, depth
    data_options: dict[str, Any] = field(default_factory=dict)  # passed to actlab.data.load
    data_seed: int = 0

    def __post_init__(self):
        if not self.activations:
            raise ActlabError("no activations to compare; give at least one, e.g. --activations relu,tanh")
        if len(set(self.activations)) != len(self.activations):
            dup = next(a for a in self.activations if self.activations.count(a) > 1)
            raise ActlabError(f"activation {dup!r} is listed twice; list each once")
        for spec in self.activations:  # unknown names, bad arguments, constant expressions: one line, before data loads
            if not isinstance(spec, str):
                raise ActlabError(
                    f"an activation to compare is a spec string such as 'relu', got {type(spec).__name__}"
                )
            REGISTRY.resolve(spec)
        self.seeds = V.integer("--seeds", self.seeds, 1, V.MAX_SEEDS)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        if self.baseline is None:
            self.baseline = default_baseline(self.activations)
        elif self.baseline not in self.activations:
            raise ActlabError(
                f"baseline {self.baseline!r} is not among the activations compared: {', '.join(self.activations)}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def default_baseline(activations: list[str]) -> str:
    """The activation the others are tested against when none is named: ReLU (plain, under any
    of its spellings) where it is among ``activations``, the usual reference; else the first."""
    for spec in activations:
        entry, kwargs = REGISTRY.resolve(spec)
        if entry.name == "relu" and not kwargs:
            return spec
    return activations[0]


def prepare_out(out: str | Path) -> Path:
    """Create ``out`` and ``out/runs`` and prove they are writable, or say so in one line."""
    return _prepare_out(out, "runs")


def check_activations(config: CompareConfig, data) -> None:
    """Resolve every activation and run one forward pass of the model with it, before any training."""
    x = data.train.x[:2]
    for spec in config.activations:
        get(spec)  # unknown names and bad arguments: one line from the catalogue
        model = build(config.model, data.input_shape, data.n_classes, spec, **config.model_options).eval()
        try:
            with torch.no_grad():
                model(x)
        except Exception as e:  # a shape the activation cannot take, e.g. FReLU in an MLP
            msg = first_line(e)
            raise ActlabError(
                f"activation {spec!r} does not work in model {config.model!r} on {config.dataset} "
                f"({msg}); choose another model or activation"
            ) from None


def units(config: CompareConfig, data_location: dict[str, Any] | None = None) -> list[Unit]:
    """The comparison's trainings, seed-major (a machine that slows down meanwhile slows every
    activation alike). ``data_location`` (``data_dir``, ``download``) says where the data is."""
    return [
        Unit(
            name=f"{slug(act)}__seed{seed}",
            plan=act,
            dataset=config.dataset,
            model=config.model,
            train={**config.train.to_dict(), "seed": seed},
            data_seed=config.data_seed,
            data_options={**config.data_options, **(data_location or {})},
            model_options=config.model_options,
        )
        for seed in range(config.seeds)
        for act in config.activations
    ]


def run_compare(
    config: CompareConfig,
    out: str | Path,
    data=None,
    progress: bool = True,
    runner: Runner | None = None,
    data_location: dict[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Train what is missing (on ``runner``, default: this process, packs of 32), then summarise.
    Returns the ``results.json`` content; the caller writes the report. A folder holding another
    command's results is refused unless ``force``."""
    todo = units(config, data_location)
    if data is None:
        data = load_data(todo[0].to_dict())
    check_activations(config, data)  # before any file is made
    out = prepare_out(out)
    own_out(out, "compare", force)
    provide_data(todo[0], data)
    by_name = {u.name: (u.plan, u.train["seed"]) for u in todo}
    bar = Progress(len(todo), "runs", enabled=progress)
    # said once, with the first run trained here (not before: a folder of other runs is refused in one line)
    warning = [w for w in [few_steps(len(data.train), config.train)] if w]

    def done(u: Unit, rec: dict[str, Any], cached: bool) -> None:
        if warning and not cached:
            print(warning.pop(), file=sys.stderr, flush=True)
        if "error" in rec:
            return
        r = rec["result"]
        how = (
            "already done, skipped"
            if cached
            else (
                f"{r['status']}, test acc {r['test']['accuracy']:.3f}"
                + (f", packed {rec.get('packed')}" if rec.get("packed", 1) > 1 else "")
            )
        )
        bar.begin(f"{u.plan} seed {u.train['seed']}")
        bar.finish(how, skipped=cached)

    own = runner is None
    runner = runner or Runner()
    try:
        records = runner.run(todo, out / "runs", on_done=done)
    finally:
        if own:
            runner.close()
    failed = next((n for n, r in records.items() if "error" in r), None)
    if failed is not None:
        raise ActlabError(f"run {failed} failed ({records[failed]['error']}); fix it and rerun to continue")
    runs = {by_name[n]: {"activation": by_name[n][0], "seed": by_name[n][1], **r} for n, r in records.items()}
    timing = None
    if any(r.get("packed", 1) > 1 for r in records.values()):
        timing = time_alone(config, data)
    results = summarise(config, data, runs, timing)
    write_json_atomic(out / "results.json", results)
    return results


def time_alone(config: CompareConfig, data, epochs: int = 3) -> dict[str, float]:
    """Seconds per training epoch of each activation trained alone (seed 0, ``epochs`` epochs, the
    first a warm-up not counted): the time column when the runs trained packed."""
    out = {}
    for act in config.activations:
        cfg = TrainConfig.from_dict(
            {**config.train.to_dict(), "seed": 0, "epochs": epochs, "patience": None, "diagnostics": False}
        )
        r = train(lambda: build(config.model, data.input_shape, data.n_classes, act, **config.model_options), data, cfg)
        t = [e["seconds"] for e in r.epochs[1:]] or [e["seconds"] for e in r.epochs]
        out[act] = float(sorted(t)[len(t) // 2])
    return out


def summarise(
    config: CompareConfig, data, runs: dict[tuple[str, int], dict[str, Any]], timing: dict[str, float] | None = None
) -> dict[str, Any]:
    """Per-activation statistics over seeds and the test against the baseline; ``timing``, when
    given, replaces the runs' own seconds per epoch (see :func:`time_alone`)."""
    acc = {a: [runs[a, s]["result"]["test"]["accuracy"] for s in range(config.seeds)] for a in config.activations}
    rows = []
    for a in config.activations:
        rs = [RunResult.from_dict(runs[a, s]["result"]) for s in range(config.seeds)]
        settled = [result_converged(runs[a, s]["result"]) for s in range(config.seeds)]
        m, sd, lo, hi = mean_std_ci(acc[a], bounds=ACCURACY)
        gap = [r.final_train["accuracy"] - r.test["accuracy"] for r in rs]
        rows.append(
            {
                "activation": a,
                "test_accuracy": acc[a],
                "mean": m,
                "std": sd,
                "ci_low": lo,
                "ci_high": hi,
                "test_loss": mean_std_ci([r.test["loss"] for r in rs])[0],
                "test_f1": mean_std_ci([r.test["f1"] for r in rs])[0],
                "test_auc": mean_std_ci([r.test.get("auc", math.nan) for r in rs])[0],
                "epoch_seconds": timing[a] if timing else mean_std_ci([r.epoch_seconds for r in rs])[0],
                "epochs_run": mean_std_ci([len(r.epochs) for r in rs])[0],
                "train_test_gap": mean_std_ci(gap)[0],
                "diverged": sum(r.status == "diverged" for r in rs),
                "unconverged": settled.count(False),
                "converged": converged(settled),
            }
        )
    pairs = [(a, config.baseline) for a in config.activations if a != config.baseline]
    tests = {
        t["contender"]: t for t in versus(acc, pairs, unconverged=[r["activation"] for r in rows if not r["converged"]])
    }
    for r in rows:
        t = tests.get(r["activation"])
        r.update(
            {"p_value": math.nan, "p_holm": math.nan, "significant": False, "outcome": "baseline"}
            if t is None
            else {k: t[k] for k in ("p_value", "p_holm", "significant", "outcome")}
        )
    return {
        "config": config.to_dict(),
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
            "info": getattr(data, "info", {}),
        },
        "alpha": ALPHA,
        "test": "two-sample permutation test of mean test accuracy vs the baseline, Holm-corrected",
        "convergence": convergence_note(config.train.epochs, "--epochs"),
        "timing": (
            "seconds per epoch of each activation trained alone (seed 0, 2 epochs after a warm-up): the runs "
            "trained packed"
            if timing
            else "seconds per epoch: mean over every run's epochs"
        ),
        "summary": rows,
        "runs": [runs[a, s] for a in config.activations for s in range(config.seeds)],
    }


def _verdict(r: dict[str, Any], base: str) -> str:
    """A row's p-values and outcome as the table prints them."""
    if r["activation"] == base:
        return "baseline"
    p = f"{format_p(r['p_value'])} / {format_p(r['p_holm'])}"
    if r["outcome"] == NOT_CONVERGED:
        return f"{p} {NOT_CONVERGED}"
    return p + (f" * {r['outcome']}" if r["significant"] else "")


def format_table(results: dict[str, Any]) -> str:
    """The comparison table as plain text (printed by ``actlab compare``, copied into READMEs)."""
    rows = results["summary"]
    base = results["config"]["baseline"]
    n = results["config"]["seeds"]
    head = f"{'activation':<22} {'test acc mean ± std':>20} {'95% CI':>15} {'s/epoch':>8} {'gap':>7} {'p raw / Holm':>14}  "
    lines = [head, "-" * len(head)]
    for r in rows:
        ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if math.isfinite(r["ci_low"]) else "n/a"
        notes = [f"{r[k]}/{n} {k}" for k in ("diverged", "unconverged") if r.get(k)]
        lines.append(
            f"{r['activation'][:22]:<22} {r['mean']:>11.3f} ± {r['std']:.3f} {ci:>15} {r['epoch_seconds']:>8.3f} "
            f"{r['train_test_gap']:>+7.3f} {_verdict(r, base):>14}" + (f"  ({', '.join(notes)})" if notes else "")
        )
    lines.append(
        f"{n} seeds each; gap = train - test accuracy; p = two-sample permutation test of test accuracy vs "
        f"{base}, raw and Holm-corrected over {len(rows) - 1} comparison{'' if len(rows) == 2 else 's'}; * = Holm p < {results['alpha']}"
    )
    if any(r.get("unconverged") for r in rows) and results.get("convergence"):
        lines.append(results["convergence"])
    return "\n".join(lines)


__all__ = [
    "CompareConfig",
    "check_activations",
    "default_baseline",
    "format_table",
    "prepare_out",
    "run_compare",
    "summarise",
]
