"""What a search is: its candidates (:func:`candidates`) and its settings (:class:`SearchConfig`),
and the search space a study records (:meth:`SearchConfig.space`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab.catalogue import SIPPER48, entries, get, split_specs
from actlab.execution import WHERE_ONLY, parse_tasks, task_name
from actlab.models import slot_names
from actlab.training import TrainConfig

SAMPLERS = ("tpe", "cmaes", "random", "grid")
PRUNERS = ("hyperband", "median", "none")
BASELINE = "relu"


def candidates(spec: str | list[str]) -> list[str]:
    """``sipper48``, ``all`` (every deterministic element-wise catalogue entry) or a comma list."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key == "sipper48":
            return list(SIPPER48)
        if key == "all":
            return [e.name for e in entries() if e.elementwise and not e.stochastic and e.kind != "user"]
        spec = split_specs(spec) if spec.strip() else []
    names = [s.strip() for s in spec]
    if not names:
        raise ActlabError("the candidate list is empty; give sipper48, all, or names such as relu,tanh,elu")
    for n in names:
        get(n)  # unknown names or bad arguments: one line from the catalogue
    if len(set(names)) != len(names):
        raise ActlabError(f"candidate {next(n for n in names if names.count(n) > 1)!r} is listed twice")
    return names


@dataclass
class SearchConfig:
    dataset: str = "iris"
    model: str = "mlp"
    layers: int = 5  # mlp depth
    width: int = 64
    model_args: dict[str, Any] = field(default_factory=dict)  # a user's model: its builder's arguments, slots
    candidates: list[str] = field(default_factory=lambda: list(SIPPER48))
    search_output: bool = False
    trials: int = 50
    sampler: str = "tpe"
    pruner: str = "hyperband"
    seed: int = 0
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=30, patience=5, monitor="val_accuracy"))
    data_options: dict[str, Any] = field(default_factory=dict)
    data_seed: int = 0
    top_k: int = 3
    final_seeds: int = 5
    heartbeat: float = 10.0  # seconds between stamps; a trial is stale after 6 missed ones
    pack: int = 1  # trials asked together and trained in one packed model (MLP only)
    surrogate: int = 0  # keep the N candidates a surrogate predicts best (actlab.surrogate.prune); 0: all
    transfer_to: list[str] | None = None  # tasks the top configuration and the baseline also train on; None: none

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ActlabError(f"unknown sampler {self.sampler!r}; choose one of: {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise ActlabError(f"unknown pruner {self.pruner!r}; choose one of: {', '.join(PRUNERS)}")
        self.trials = V.integer("--trials", self.trials, 1, V.MAX_COUNT)
        self.top_k = V.integer("--top-k", self.top_k, 0, V.MAX_COUNT)
        self.final_seeds = V.integer("--final-seeds", self.final_seeds, 0, V.MAX_SEEDS)
        self.pack = V.integer("--pack", self.pack, 1, V.MAX_PACK)
        self.surrogate = V.integer("--surrogate", self.surrogate, 0, V.MAX_COUNT)
        self.transfer_to = (
            [task_name(t) for t in parse_tasks(self.transfer_to, self.model)] if self.transfer_to else None
        )
        self.seed = V.integer("--seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        # a trial is stale after 6 missed stamps: below a second, a busy machine fails healthy trials
        self.heartbeat = V.number("--heartbeat", self.heartbeat, 1, 3600)
        if self.model == "mlp":  # checked here too, before a study is created for a model that cannot be built
            self.layers = V.integer("--layers", self.layers, 2, V.MAX_DEPTH)
            self.width = V.integer("--width", self.width, 1, V.MAX_WIDTH)
        if isinstance(self.train, dict):
            self.train = TrainConfig.from_dict(self.train)
        if self.train.monitor != "val_accuracy":
            self.train = TrainConfig.from_dict({**self.train.to_dict(), "monitor": "val_accuracy"})
        self.train.require_final_scores("search")

    @property
    def model_options(self) -> dict[str, Any]:
        return {"width": self.width, "depth": self.layers} if self.model == "mlp" else dict(self.model_args)

    def space(self, input_shape, n_classes) -> dict[str, Any]:
        """Everything that defines what a trial means; stored in the study and checked on reuse."""
        slots = list(slot_names(self.model, input_shape, n_classes, **self.model_options))
        searched = [s for s in slots if s != "output" or self.search_output]
        t = {k: v for k, v in self.train.to_dict().items() if k not in ("seed", *WHERE_ONLY["train"])}
        return {
            "dataset": self.dataset,
            "model": self.model,
            "model_options": self.model_options,
            "slots": searched,
            "candidates": list(self.candidates),
            "encoding": "index" if self.sampler == "cmaes" else "name",
            "train": t,
            "data_options": {k: v for k, v in self.data_options.items() if k not in WHERE_ONLY["data_options"]},
            "data_seed": self.data_seed,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d
