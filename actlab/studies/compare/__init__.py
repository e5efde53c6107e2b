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

Modules: :mod:`.config` (:class:`CompareConfig`), :mod:`.run` (:func:`run_compare`) and
:mod:`.results` (the summary and its table), :mod:`.tasks` (a comparison over several tasks,
:func:`run_tasks`, ranked across them). This file only re-exports.
"""

from actlab.studies.compare.config import CompareConfig, default_baseline
from actlab.studies.compare.results import format_table, summarise
from actlab.studies.compare.run import check_activations, prepare_out, run_compare, time_alone, units
from actlab.studies.compare.tasks import cross_task, format_cross_task, run_tasks, task_config

__all__ = [
    "CompareConfig",
    "check_activations",
    "cross_task",
    "default_baseline",
    "format_cross_task",
    "format_table",
    "prepare_out",
    "run_compare",
    "run_tasks",
    "summarise",
    "task_config",
    "time_alone",
    "units",
]
