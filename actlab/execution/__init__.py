"""Where and how trainings run: units of training work, packs, executors (this process, worker
processes, Dask), claims and resumable run files. Studies hand their trainings to the
:class:`Runner`; see :mod:`actlab.execution.runner`."""

from actlab.execution.runner import (
    BAD_UNIT,
    DEFAULT_PACK,
    FORMAT_UNIT,
    Runner,
    Unit,
    load_data,
    packs,
    provide_data,
    read_unit,
    train_units,
)

__all__ = [
    "BAD_UNIT",
    "DEFAULT_PACK",
    "FORMAT_UNIT",
    "Runner",
    "Unit",
    "load_data",
    "packs",
    "provide_data",
    "read_unit",
    "train_units",
]
