"""Compare activation functions on a dataset and model, over several seeds.

``run_compare(config, out)`` trains every (activation, seed) pair with actlab's one trainer,
writes each finished run to ``out/runs/<activation>__seed<k>.json`` (atomically: a run file
exists only when the run finished), and then the summary: ``results.json``, the plots and
``report.html``. Running it again on the same ``out`` skips the runs already there, so a
killed comparison resumes where it stopped.

Fairness: every activation sees the same data split (``data_seed``), and seed ``k`` gives every
activation the same initial weights (where the model's shapes agree) and the same batch order.
Model selection (early stopping, the restored epoch) uses the validation split only; the test
split is scored once per run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .._errors import ActlabError
from .._io import prepare_out as _prepare_out, write_json_atomic
from .._progress import Progress
from ..catalogue import get
from ..models import build
from ..training import RunResult, TrainConfig, train
from .stats import holm, mean_std_ci, permutation_test

ALPHA = 0.05


@dataclass
class CompareConfig:
    dataset: str = "mnist1d"
    model: str = "mlp"
    activations: list[str] = field(default_factory=lambda: ["relu", "tanh"])
    seeds: int = 3
    baseline: str | None = None  # default: the first activation
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
        if self.seeds < 1:
            raise ActlabError(f"--seeds must be at least 1, got {self.seeds}")
        if self.baseline is None:
            self.baseline = self.activations[0]
        elif self.baseline not in self.activations:
            raise ActlabError(f"baseline {self.baseline!r} is not among the activations compared: {', '.join(self.activations)}")

    def run_key(self) -> str:
        """What must agree for two runs to be comparable (everything but activation and seed)."""
        t = {k: v for k, v in self.train.to_dict().items() if k not in ("seed", "threads", "device")}
        blob = json.dumps({"dataset": self.dataset, "model": self.model, "train": t, "model_options": self.model_options,
                           "data_options": self.data_options, "data_seed": self.data_seed}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def slug(spec: str) -> str:
    """A file-name-safe, collision-free name for an activation spec."""
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", spec).strip("_")[:60] or "act"
    return s if s == spec else f"{s}-{hashlib.sha1(spec.encode()).hexdigest()[:6]}"


_write_json = write_json_atomic  # kept for callers of the old name


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
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ActlabError(f"activation {spec!r} does not work in model {config.model!r} on {config.dataset} "
                              f"({msg}); choose another model or activation") from None


def run_compare(config: CompareConfig, out: str | Path, data=None, progress: bool = True,
                on_run: Callable[[str, int, RunResult], None] | None = None) -> dict[str, Any]:
    """Train what is missing, then summarise. Returns the ``results.json`` content."""
    out = prepare_out(out)
    if data is None:
        from ..data import load

        data = load(config.dataset, seed=config.data_seed, **config.data_options)
    check_activations(config, data)
    key = config.run_key()
    # seed-major order: a machine that slows down during the comparison slows every activation alike
    todo = [(a, s) for s in range(config.seeds) for a in config.activations]
    bar = Progress(len(todo), "runs", enabled=progress)
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    for act, seed in todo:
        path = out / "runs" / f"{slug(act)}__seed{seed}.json"
        bar.begin(f"{act} seed {seed}")
        old = _read_run(path)
        if old is not None:
            if old.get("key") != key:
                raise ActlabError(f"{out} holds runs of a different configuration ({path.name}); "
                                  f"use a new --out, or delete {out / 'runs'} to start over")
            runs[act, seed] = old
            bar.finish("already done, skipped")
            continue
        cfg = TrainConfig.from_dict({**config.train.to_dict(), "seed": seed})
        epochs = cfg.epochs

        def on_epoch(epoch, record, _e=epochs):
            bar.update(f"epoch {epoch}/{_e} val_acc {record.get('val_accuracy', math.nan):.3f}")

        result = train(lambda: build(config.model, data.input_shape, data.n_classes, act, **config.model_options),
                       data, cfg, on_epoch=on_epoch)
        record = {"key": key, "activation": act, "seed": seed, "result": result.to_dict()}
        _write_json(path, record)
        runs[act, seed] = record
        if on_run is not None:
            on_run(act, seed, result)
        bar.finish(f"{result.status}, test acc {result.test['accuracy']:.3f}, {result.epoch_seconds:.2f} s/epoch")
    results = summarise(config, data, runs)
    _write_json(out / "results.json", results)
    from ..report.compare import write_report

    write_report(results, out)
    return results


def _read_run(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # unreadable: train it again (the atomic write makes this a foreign file)


def summarise(config: CompareConfig, data, runs: dict[tuple[str, int], dict[str, Any]]) -> dict[str, Any]:
    """Per-activation statistics over seeds and the test against the baseline."""
    acc = {a: [runs[a, s]["result"]["test"]["accuracy"] for s in range(config.seeds)] for a in config.activations}
    base = acc[config.baseline]
    rows = []
    for a in config.activations:
        rs = [RunResult.from_dict(runs[a, s]["result"]) for s in range(config.seeds)]
        m, sd, lo, hi = mean_std_ci(acc[a])
        gap = [r.final_train["accuracy"] - r.test["accuracy"] for r in rs]
        rows.append({
            "activation": a,
            "test_accuracy": acc[a],
            "mean": m, "std": sd, "ci_low": lo, "ci_high": hi,
            "test_loss": mean_std_ci([r.test["loss"] for r in rs])[0],
            "test_f1": mean_std_ci([r.test["f1"] for r in rs])[0],
            "test_auc": mean_std_ci([r.test.get("auc", math.nan) for r in rs])[0],
            "epoch_seconds": mean_std_ci([r.epoch_seconds for r in rs])[0],
            "epochs_run": mean_std_ci([len(r.epochs) for r in rs])[0],
            "train_test_gap": mean_std_ci(gap)[0],
            "diverged": sum(r.status == "diverged" for r in rs),
            "p_value": math.nan if a == config.baseline else permutation_test(acc[a], base),
        })
    base_mean = mean_std_ci(base)[0]
    for r, p in zip(rows, holm([r["p_value"] for r in rows])):
        r["p_holm"] = p
        r["significant"] = bool(math.isfinite(p) and p < ALPHA)
        r["direction"] = ("better" if r["mean"] > base_mean else "worse") if r["significant"] else ""
    return {
        "config": config.to_dict(),
        "dataset": {"name": data.name, "n_classes": data.n_classes, "input_shape": list(data.input_shape),
                    "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
                    "info": getattr(data, "info", {})},
        "alpha": ALPHA,
        "test": "two-sample permutation test of mean test accuracy vs the baseline, Holm-corrected",
        "summary": rows,
        "runs": [runs[a, s] for a in config.activations for s in range(config.seeds)],
    }


def format_table(results: dict[str, Any]) -> str:
    """The comparison table as plain text (printed by ``actlab compare``, copied into READMEs)."""
    from ..report.compare import _pv

    rows = results["summary"]
    base = results["config"]["baseline"]
    n = results["config"]["seeds"]
    head = f"{'activation':<22} {'test acc mean ± std':>20} {'95% CI':>15} {'s/epoch':>8} {'gap':>7} {'p raw / Holm':>14}  "
    lines = [head, "-" * len(head)]
    for r in rows:
        p = "baseline" if r["activation"] == base else f"{_pv(r['p_value'])} / {_pv(r['p_holm'])}" + (f" * {r['direction']}" if r["significant"] else "")
        ci = f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if math.isfinite(r["ci_low"]) else "n/a"
        div = f"  ({r['diverged']}/{n} diverged)" if r["diverged"] else ""
        lines.append(f"{r['activation'][:22]:<22} {r['mean']:>11.3f} ± {r['std']:.3f} {ci:>15} {r['epoch_seconds']:>8.3f} "
                     f"{r['train_test_gap']:>+7.3f} {p:>14}{div}")
    lines.append(f"{n} seeds each; gap = train - test accuracy; p = two-sample permutation test of test accuracy vs "
                 f"{base}, raw and Holm-corrected over {len(rows) - 1} comparisons; * = Holm p < {results['alpha']}")
    return "\n".join(lines)


__all__ = ["CompareConfig", "check_activations", "format_table", "prepare_out", "run_compare", "summarise"]
