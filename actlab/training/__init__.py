"""The one trainer used by compare, search and evolve (see :mod:`actlab.training.trainer`)."""

from actlab.training.losses import LOSSES, get_loss
from actlab.training.metrics import METRICS, batched_classification_metrics, classification_metrics
from actlab.training.trainer import (
    OPTIMIZERS,
    RunResult,
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
    "classification_metrics",
    "evaluate",
    "few_steps",
    "get_loss",
    "learned_parameters",
    "predict",
    "seed_everything",
    "train",
]
