"""A surrogate that ranks activation functions before training them: features of a function at
initialisation, and a regressor fit on functions already trained (see
:mod:`actlab.surrogate.features`)."""

from actlab.surrogate.features import (
    BLOCKS,
    DEFAULT_REGRESSOR,
    KEEP,
    REGRESSORS,
    USUAL,
    Surrogate,
    Task,
    compute_features,
    feature_map,
    feature_points,
    function_key,
    prune,
)

__all__ = [
    "BLOCKS",
    "DEFAULT_REGRESSOR",
    "KEEP",
    "REGRESSORS",
    "USUAL",
    "Surrogate",
    "Task",
    "compute_features",
    "feature_map",
    "feature_points",
    "function_key",
    "prune",
]
