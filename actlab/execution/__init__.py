"""Where and how trainings run. Studies hand their trainings to the :class:`Runner` as
:class:`Unit`\\ s (plain data: a plan, a dataset and a model by name, a training config).

Modules: :mod:`~actlab.execution.units` (a study's task, a unit and its key), :mod:`~actlab.execution.runner`
(the runner and its packs), :mod:`~actlab.execution.executors` (this process, worker processes,
Dask), :mod:`~actlab.execution.worker` (what a worker runs), :mod:`~actlab.execution.records`
(a finished unit's file), :mod:`~actlab.execution.claims` (how processes on one folder split the
work).
"""

from actlab.execution.claims import claim, claim_holder, release
from actlab.execution.executors import init_worker
from actlab.execution.records import finished_text, read_unit, unit_record
from actlab.execution.runner import DEFAULT_PACK, Runner, packs
from actlab.execution.units import FORMAT_UNIT, WHERE_ONLY, Task, Unit, parse_tasks, slug, task_name
from actlab.execution.worker import BAD_UNIT, load_data, plan_templates, provide_data, train_units

__all__ = [
    "BAD_UNIT",
    "DEFAULT_PACK",
    "FORMAT_UNIT",
    "WHERE_ONLY",
    "Runner",
    "Task",
    "Unit",
    "claim",
    "claim_holder",
    "finished_text",
    "init_worker",
    "load_data",
    "packs",
    "parse_tasks",
    "plan_templates",
    "provide_data",
    "read_unit",
    "release",
    "slug",
    "task_name",
    "train_units",
    "unit_record",
]
