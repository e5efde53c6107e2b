"""What decides an evolution: :class:`EvolveConfig`, its checks and its run key.

Every default of ``actlab evolve`` is here (the command line shows and layers over these). The
fitness training has one home too: ``train`` (its epochs are ``--epochs``) and ``fidelities``;
:meth:`EvolveConfig.fidelity_levels` turns them into the ``(epochs, share of the training split)``
levels that the generation loop, the fitness tasks and the final evaluation all read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab.catalogue import expr as E
from actlab.catalogue import get
from actlab.execution import WHERE_ONLY, parse_tasks, task_name
from actlab.execution.tasks import retarget
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.modes import MODES, SLOTS, check_groups
from actlab.surrogate.features import Task
from actlab.training import TrainConfig

CATALOGUE = ("leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "softplus")
# may change on --resume
NOT_IN_KEY = ("generations", "budget", "final_seeds", "final_epochs", "catalogue", "transfer_to")
MAX_POPULATION = 100_000
MAX_FIDELITIES = 8
MAX_REFERENCE_SEEDS = 20
TASK_FITNESS = ("mean", "worst")  # a candidate's standings on several tasks: their mean, or the lowest
# Settings added after the first checkpoints were written, at the value that ran before them: left
# out of the run key at these values, so that those checkpoints keep their key, and read into a
# saved config that lacks them (:meth:`EvolveConfig.saved`), so that they resume as they ran.
LATER = {"tasks": None, "reference_seeds": 3, "stagnation": None, "task_fitness": "mean", "overlap": False}
# The tallest tree whose every shape fits the expression language's node limit (a full binary tree
# of height h has 2^(h+1) - 1 nodes): checkpoints and best.json store individuals as text.
MAX_HEIGHT = (E.MAX_NODES + 1).bit_length() - 2


def _fitness_training() -> TrainConfig:
    """The fitness training: short, no early stopping, best validation accuracy, one thread."""
    return TrainConfig(
        epochs=4, batch_size=32, lr=3e-3, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
    )


@dataclass
class EvolveConfig:
    """Everything that decides an evolution (saved in the checkpoint and in results.json)."""

    mode: str = "single"
    dataset: str = "mnist1d"
    model: str = "mlp"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=lambda: {"limit": 2000})
    data_seed: int = 0
    population: int = 16
    generations: int = 5  # generation 0 (random) included
    tournament: int = 3
    elite: int = 1
    cxpb: float = 0.6
    mutpb: float = 0.3
    init_min: int = 1
    init_max: int = 3
    max_height: int = 6
    hall_of_fame: int = 5
    unary: list[str] = field(default_factory=lambda: list(E.DEFAULT_UNARY))
    binary: list[str] = field(default_factory=lambda: list(E.DEFAULT_BINARY))
    constants: bool = True
    mutations: list[str] = field(default_factory=lambda: list(G.MUTATIONS))
    seed: int = 0
    # The fitness training; a table (a saved config) is read over these defaults.
    train: TrainConfig = field(default_factory=_fitness_training)
    final_seeds: int = 5
    final_epochs: int = 15
    catalogue: list[str] = field(default_factory=lambda: list(CATALOGUE))
    transfer_to: list[str] | None = None  # tasks the final contenders also train on, "dataset/model"; None: none
    pack: int = 32  # candidates trained together in one packed model (MLP only; 1 = one by one)
    budget: float | None = None  # wall-clock seconds for the generations, all sessions together; None: no limit
    # Successive halving: [[epochs, share of the training split], ...], rising; None: one fidelity,
    # train.epochs on the whole split. Every new candidate trains at the first; the best
    # 1 / reduction_factor of those trained at one fidelity are promoted to the next.
    fidelities: list[list[float]] | None = None
    reduction_factor: int = 3
    # With several fidelities: the last one of a generation trains while the next generation is bred
    # (from the fitness below it) and trains its lower fidelities (see actlab.studies.evolve.loop).
    overlap: bool = True
    learn_constants: bool = False  # the constants of a candidate are trained per layer with the weights
    # With a surrogate (single mode): every generation varies ``surrogate`` times the population, and
    # trains the offspring predicted best (a quarter of them at random, so the surrogate keeps learning).
    surrogate: int = 0
    # Several tasks ("digits,mnist1d/cnn1d,fashion-mnist:10000", see actlab.execution.parse_tasks): each
    # candidate trains on every one and its fitness is its mean standing against ReLU there
    # (actlab.studies.evolve.tasks); dataset and model are then the first task's. None: one task.
    tasks: list[dict[str, Any]] | None = None
    reference_seeds: int = 3  # ReLU's trainings per task and fidelity that give its mean and spread
    task_fitness: str = "mean"  # how the standings on the tasks combine: their mean, or the worst of them
    # Restart when the hall of fame's best has not changed for this many generations: the
    # population is drawn at random again around the hall of fame's best (None: never).
    stagnation: int | None = None
    # Triple and coevolution on a model of the user's: its slot groups, a function each (found from
    # the model when the run starts; see modes). None: input, hidden and output.
    groups: list[str] | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ActlabError(f"unknown mode {self.mode!r}; choose one of: {', '.join(MODES)}")
        if self.groups is not None:
            self.groups = list(check_groups(self.groups, "the evolution"))
        self._check_population()
        self._check_trees()
        self._check_training()
        self._check_primitives()
        self._check_tasks()

    def _check_tasks(self) -> None:
        self.reference_seeds = V.integer("--reference-seeds", self.reference_seeds, 2, MAX_REFERENCE_SEEDS)
        self.stagnation = V.integer("--stagnation", self.stagnation, 1, V.MAX_COUNT, none_ok=True)
        if not isinstance(self.overlap, bool):
            raise ActlabError(f"overlap is true or false, not {self.overlap!r}")
        if self.task_fitness not in TASK_FITNESS:
            raise ActlabError(f"unknown --task-fitness {self.task_fitness!r}; choose one of: {', '.join(TASK_FITNESS)}")
        if self.tasks is not None:
            self.tasks = parse_tasks(self.tasks, self.model)
            self.dataset, self.model = self.tasks[0]["dataset"], self.tasks[0]["model"]

    def task_configs(self) -> list[EvolveConfig]:
        """One config per task, each without tasks (its dataset, model and limit, the model's
        options where it is --model: :func:`actlab.execution.tasks.retarget`); without tasks, this
        config alone."""
        if self.tasks is None:
            return [self]
        return [retarget(replace(self, tasks=None), t) for t in self.tasks]

    def task_names(self) -> list[str]:
        """The names of the tasks (``DATASET[:LIMIT]/MODEL``); without tasks, the one of this config."""
        tasks = self.tasks or [{"dataset": self.dataset, "model": self.model, "limit": None}]
        return [task_name(t) for t in tasks]

    def _check_population(self) -> None:
        self.population = V.integer("population", self.population, 2, MAX_POPULATION)
        if self.budget is not None:
            self.budget = V.number("--budget", self.budget, 0, 10**7, lo_open=True)
        self.tournament = V.integer("tournament size", self.tournament, 1, V.MAX_COUNT)
        if self.population < self.tournament:
            raise ActlabError(
                f"population {self.population} is smaller than the tournament size {self.tournament}; "
                "raise --population or lower --tournament"
            )
        self.elite = V.integer("elite", self.elite, 0, V.MAX_COUNT)
        if self.elite >= self.population:
            raise ActlabError(f"elite must be from 0 to population - 1 ({self.population - 1}), got {self.elite}")
        self.generations = V.integer("generations", self.generations, 1, V.MAX_COUNT)
        V.number("cxpb", self.cxpb, 0, 1)  # kept as given (0 and 0.0 must give one run key)
        V.number("mutpb", self.mutpb, 0, 1)

    def _check_trees(self) -> None:
        self.init_min = V.integer("init-min", self.init_min, 0, MAX_HEIGHT)
        self.init_max = V.integer("init-max", self.init_max, 0, MAX_HEIGHT)
        self.max_height = V.integer("max height", self.max_height, 0, MAX_HEIGHT)
        if not self.init_min <= self.init_max <= self.max_height:
            raise ActlabError(
                f"tree heights need init-min <= init-max <= max height, got {self.init_min}, "
                f"{self.init_max}, {self.max_height}"
            )
        self.hall_of_fame = V.integer("hall of fame size", self.hall_of_fame, 1, 10_000)

    def _check_training(self) -> None:
        self.pack = V.integer("--pack", self.pack, 1, V.MAX_PACK)
        self.reduction_factor = V.integer("--reduction-factor", self.reduction_factor, 2, 1000)
        self.surrogate = V.integer("--surrogate", self.surrogate, 0, 100)
        if self.surrogate and self.mode != "single":
            raise ActlabError("--surrogate ranks one function per candidate: use it with --mode single")
        if self.fidelities is not None:
            self.fidelities = check_fidelities(self.fidelities)
        self.final_seeds = V.integer("final seeds", self.final_seeds, 0, V.MAX_SEEDS)
        self.final_epochs = V.integer("final epochs", self.final_epochs, 1, V.MAX_EPOCHS)
        self.transfer_to = (
            [task_name(t) for t in parse_tasks(self.transfer_to, self.model)] if self.transfer_to else None
        )
        self.seed = V.integer("seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        if isinstance(self.train, Mapping):
            self.train = TrainConfig.from_dict({**_fitness_training().to_dict(), **self.train})
        if self.train.fit is not None and self.train.fit_direction != "max":
            raise ActlabError(
                "evolve maximises a fitness of at least 0 (a failed candidate scores 0): select on a metric "
                "to maximise from 0 up, e.g. --fit-metric val_accuracy --fit-direction max"
            )

    def _check_primitives(self) -> None:
        self.unary = [E.primitive_name(n, what="unary primitive") for n in self.unary]
        self.binary = [E.primitive_name(n, what="binary primitive") for n in self.binary]
        G.make_pset(self.unary, self.binary, self.constants)  # arity mistakes, empty set: one line now
        bad = [m for m in self.mutations if m not in G.MUTATIONS]
        if bad or not self.mutations:
            raise ActlabError(f"unknown mutation {(bad or [''])[0]!r}; choose from: {', '.join(G.MUTATIONS)}")
        for c in self.catalogue:
            get(c)

    def fidelity_levels(self) -> list[tuple[int, float]]:
        """The fidelities a candidate trains at, ``(epochs, share of the training split)``, lowest
        first: ``fidelities``, or one, ``train.epochs`` on the whole split."""
        if not self.fidelities:
            return [(int(self.train.epochs), 1.0)]
        return [(int(e), float(f)) for e, f in self.fidelities]

    def surrogate_task(self) -> Task:
        """What the surrogate ranks functions for: this run's data, model, loss and seed."""
        return Task.of(self.task_configs()[0], self.seed)

    @property
    def slots(self) -> tuple[str, ...]:
        """The slots an individual fills: ``all``; input, hidden and output; or a user's model's groups."""
        if self.mode == "single":
            return ("all",)
        return tuple(self.groups) if self.groups else SLOTS

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data; ``groups`` only where a user's model has them (so that every
        other run keeps the key and the files it always had)."""
        d = asdict(self)
        d["train"] = self.train.to_dict()
        if self.groups is None:
            del d["groups"]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvolveConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    @staticmethod
    def saved(d: Mapping[str, Any]) -> dict[str, Any]:
        """A config as a checkpoint saved it, with the settings added since at the value it ran with
        (:data:`LATER`)."""
        return {**LATER, **d}

    def run_key(self) -> str:
        """What a resumed run must share with the checkpoint (all but how long it runs and the final
        evaluation)."""
        d = {k: v for k, v in self.to_dict().items() if k not in NOT_IN_KEY and not (k in LATER and v == LATER[k])}
        d.pop("groups", None)  # read from the model, whose reference, options and file are in the key
        for part, names in WHERE_ONLY.items():  # where the data is and where it runs: not what it is
            d[part] = {k: v for k, v in d[part].items() if k not in names}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def changed(self, other: EvolveConfig) -> list[str]:
        """The settings of the run key in which ``other`` differs from this config."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [k for k, v in mine.items() if theirs.get(k) != v and k not in NOT_IN_KEY]


def check_fidelities(value: Any) -> list[list[float]]:
    """``[[epochs, share], ...]`` checked: 1 to 8 fidelities, epochs a whole number of at least 1,
    the share of the training split in (0, 1], each fidelity at least as long and on at least as
    much data as the one before, and more of one of them."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_FIDELITIES:
        raise ActlabError(f"--fidelities takes 1 to {MAX_FIDELITIES} fidelities, e.g. 2:0.25,6:0.5,15")
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ActlabError("each fidelity is EPOCHS or EPOCHS:SHARE, e.g. 2:0.25,6:0.5,15")
        e = V.integer("fidelity epochs", item[0], 1, V.MAX_EPOCHS)
        f = V.number("fidelity share of the training split", item[1], 0, 1, lo_open=True)
        out.append([e, float(f)])
    for (e0, f0), (e1, f1) in zip(out, out[1:], strict=False):
        if e1 < e0 or f1 < f0 or (e1, f1) == (e0, f0):
            raise ActlabError(
                f"fidelities must rise: {e1}:{f1:g} after {e0}:{f0:g}; give each longer or on more data "
                "than the one before, e.g. 2:0.25,6:0.5,15"
            )
    return out


__all__ = ["CATALOGUE", "LATER", "MAX_FIDELITIES", "MAX_HEIGHT", "NOT_IN_KEY", "EvolveConfig", "check_fidelities"]
