"""After the search: retrain the best configurations and the baseline, score them on test.

Each configuration is trained for the number of epochs its validation run found best (the
search trial for the top-k; one run with the search's own settings for the baseline), now on
train + validation, with ``final_seeds`` seeds; then scored once on the test split. The top-k
are compared with the baseline by the two-sample permutation test, Holm-corrected.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import optuna
import torch
from optuna.trial import TrialState

from .._progress import Progress
from ..compare.stats import holm, mean_std_ci, permutation_test
from ..data import Split
from ..models import build
from ..training import TrainConfig, train
from . import SearchConfig, baseline_plan, plan_of

ALPHA = 0.05


def top_trials(study: optuna.Study, k: int) -> list[optuna.trial.FrozenTrial]:
    """The best ``k`` complete trials with distinct configurations (a retried or re-sampled
    configuration appears once, with its first trial)."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    seen, out = set(), []
    for t in sorted(done, key=lambda t: (-t.value, t.number)):
        key = tuple(sorted(t.params.items()))
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out[:k]


def _train_plus_val(data):
    merged = Split(torch.cat([data.train.x, data.val.x]), torch.cat([data.train.y, data.val.y]))
    return replace(data, train=merged)


def final_evaluation(config: SearchConfig, study: optuna.Study, data, progress: bool = True) -> dict[str, Any]:
    space = config.space(data.input_shape, data.n_classes)
    model_opts = config.model_options
    base_cfg = TrainConfig.from_dict({**config.train.to_dict(), "seed": config.seed, "diagnostics": False})
    configs: list[dict[str, Any]] = []
    bplan = baseline_plan(space)
    bval = train(lambda: build(config.model, data.input_shape, data.n_classes, bplan, **model_opts), data, base_cfg)
    accs = [e.get("val_accuracy", math.nan) for e in bval.epochs]
    finite = [a for a in accs if math.isfinite(a)]
    configs.append({"name": "baseline", "plan": {k: v or "linear" for k, v in bplan.items()}, "raw_plan": bplan,
                    "val_accuracy": max(finite) if finite else 0.0,
                    "epochs": accs.index(max(finite)) + 1 if finite else 1, "trial": None})
    for rank, t in enumerate(top_trials(study, config.top_k), 1):
        plan = plan_of(t.params, space)
        configs.append({"name": f"top-{rank}", "plan": {k: v or "linear" for k, v in plan.items()}, "raw_plan": plan,
                        "val_accuracy": t.value, "epochs": int(t.user_attrs.get("best_epoch", config.train.epochs)),
                        "trial": t.number})
    full = _train_plus_val(data)
    bar = Progress(len(configs) * config.final_seeds, "final runs", enabled=progress)
    for c in configs:
        cfg = TrainConfig.from_dict({**config.train.to_dict(), "epochs": c["epochs"], "patience": None,
                                     "restore_best": False, "diagnostics": c["name"] in ("baseline", "top-1")})
        c["test_accuracy"], c["diagnostics"] = [], None
        for s in range(config.final_seeds):
            bar.begin(f"{c['name']} seed {s}")
            r = train(lambda: build(config.model, data.input_shape, data.n_classes, c["raw_plan"], **model_opts),
                      full, TrainConfig.from_dict({**cfg.to_dict(), "seed": s}))
            c["test_accuracy"].append(r.test["accuracy"])
            if s == 0 and r.diagnostics:
                c["diagnostics"] = r.diagnostics
            bar.finish(f"{r.status}, test acc {r.test['accuracy']:.3f}")
        c["mean"], c["std"], c["ci_low"], c["ci_high"] = mean_std_ci(c["test_accuracy"])
        del c["raw_plan"]
    base = configs[0]["test_accuracy"]
    ps = [math.nan] + [permutation_test(c["test_accuracy"], base) for c in configs[1:]]
    for c, p, ph in zip(configs, ps, holm(ps)):
        c["p_value"], c["p_holm"] = p, ph
        c["significant"] = bool(math.isfinite(ph) and ph < ALPHA)
        c["outcome"] = "baseline" if c["name"] == "baseline" else (
            ("win" if c["mean"] > configs[0]["mean"] else "loss") if c["significant"] else "tie")
    return {"configs": configs, "alpha": ALPHA,
            "test": "two-sample permutation test of test accuracy vs the baseline, Holm-corrected"}
