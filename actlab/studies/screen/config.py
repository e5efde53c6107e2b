"""What a screen is: its candidates (:func:`candidates`), the usual functions the surrogate
learns from first (:func:`usual`) and its settings (:class:`ScreenConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab.catalogue import REGISTRY, entries, expr, split_specs
from actlab.execution.tasks import parse_tasks, task_name
from actlab.surrogate import DEFAULT_REGRESSOR, REGRESSORS, USUAL, Task, function_key
from actlab.training import TrainConfig


def catalogue_names() -> list[str]:
    """Every function of the catalogue (those that cannot run in a model are set aside later)."""
    return [e.name for e in entries() if e.kind != "user"]


def candidates(spec: str | list[str]) -> list[str]:
    """``all`` (the whole catalogue) or a comma list of specs (names, ``expr:`` expressions),
    each checked; one line for an unknown name, a bad expression or a repeat."""
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return catalogue_names()
        spec = split_specs(spec) if spec.strip() else []
    names = [s.strip() for s in spec]
    if not names:
        raise ActlabError("the candidate list is empty; give all, or specs such as relu,gelu,expr:x*tanh(x)")
    for n in names:
        if n.startswith(expr.PREFIX):  # parsed and checked here, without building its catalogue entry
            if not expr.depends_on_x(expr.parse(n[len(expr.PREFIX) :])):
                raise ActlabError(f"candidate {n!r} is a constant: an activation function must depend on x")
        else:
            REGISTRY.resolve(n)  # unknown names, bad arguments: one line from the catalogue
    seen: dict[Any, str] = {}
    for n in names:
        first = seen.setdefault(function_key(n), n)
        if first != n or names.count(n) > 1:
            same = "is listed twice" if first == n else f"is the same function as {first!r}"
            raise ActlabError(f"candidate {n!r} {same}; list each once")
    return names


@dataclass
class ScreenConfig:
    """Everything that decides a screen (saved with its results): the task, the candidates, how
    many to train and how (``train``; one run per seed ``0 .. seeds-1``), the regressor."""

    dataset: str = "mnist1d"
    model: str = "mlp"
    candidates: list[str] = field(default_factory=catalogue_names)
    seeds: int = 2  # trainings per function
    train_top: int = 8
    train_random: int = 4
    per_round: int = 1  # top picks trained between two fits of the surrogate
    regressor: str = DEFAULT_REGRESSOR
    seed: int = 0  # the random picks
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(epochs=20, patience=5, monitor="val_accuracy", diagnostics=False, threads=1)
    )
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0
    transfer_to: list[str] | None = None  # tasks the best trained function and ReLU also train on; None: none
    final_seeds: int = 5  # seeds of each function on each of those tasks

    def __post_init__(self):
        if isinstance(self.train, dict):
            self.train = TrainConfig.from_dict(self.train)
        self.train.require_final_scores("screen")
        self.candidates = candidates(list(self.candidates))
        self.final_seeds = V.integer("--final-seeds", self.final_seeds, 1, V.MAX_SEEDS)
        self.transfer_to = (
            [task_name(t) for t in parse_tasks(self.transfer_to, self.model)] if self.transfer_to else None
        )
        self.seeds = V.integer("--seeds", self.seeds, 1, V.MAX_SEEDS)
        self.train_top = V.integer("--train-top", self.train_top, 0, V.MAX_COUNT)
        self.train_random = V.integer("--train-random", self.train_random, 0, V.MAX_COUNT)
        self.per_round = V.integer("--per-round", self.per_round, 1, V.MAX_COUNT)
        self.seed = V.integer("--seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        if self.regressor not in REGRESSORS:
            raise ActlabError(f"unknown regressor {self.regressor!r}; choose one of: {', '.join(REGRESSORS)}")

    def task(self) -> Task:
        """The surrogate's task: this dataset and model, the first training seed's initial weights."""
        return Task.of(self, seed=0)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def usual(cands: list[str]) -> list[str]:
    """The eight usual functions, each spelt as in ``cands`` where it is there (``silu`` for swish)."""
    mine = {function_key(c): c for c in cands}
    return [mine.get(function_key(u), u) for u in USUAL]
