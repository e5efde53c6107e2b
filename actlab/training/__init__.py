"""The one trainer used by compare, search and evolve (:mod:`actlab.training.trainer`), the packed
trainer (:mod:`actlab.training.population`) and what a run produced (:mod:`actlab.training.result`)."""

from actlab.training.losses import LOSSES, get_loss
from actlab.training.metrics import METRICS, batched_classification_metrics, classification_metrics
from actlab.training.result import RunResult, best_val_accuracy, run_score, score_line
from actlab.training.trainer import (
    OPTIMIZERS,
    TrainConfig,
    evaluate,
    few_steps,
    learned_parameters,
    predict,
    seed_everything,
    train,
)

__all__ = [
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "RunResult",
    "TrainConfig",
    "batched_classification_metrics",
    "best_val_accuracy",
    "classification_metrics",
    "evaluate",
    "few_steps",
    "get_loss",
    "learned_parameters",
    "predict",
    "run_score",
    "score_line",
    "seed_everything",
    "train",
]
