"""A surrogate that ranks activation functions before training them.

Modules: :mod:`.features` (a function's features at initialisation on a :class:`Task`, and their
files), :mod:`.regressor` (:class:`Surrogate`: the regressor fit on functions already trained),
:mod:`.selection` (:func:`prune`: a search's candidate list cut to those predicted best) and
:mod:`.maps` (maps of functions for reports). This file only re-exports.
"""

from actlab.surrogate.features import BLOCKS, Task, compute_features, function_key
from actlab.surrogate.maps import feature_map, feature_points
from actlab.surrogate.regressor import DEFAULT_REGRESSOR, REGRESSORS, Surrogate
from actlab.surrogate.selection import KEEP, USUAL, prune

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
