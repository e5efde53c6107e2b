"""What a comparison is: the activations, seeds, baseline, model, data and training settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab.catalogue import REGISTRY
from actlab.training import TrainConfig


@dataclass
class CompareConfig:
    dataset: str = "mnist1d"
    model: str = "mlp"
    activations: list[str] = field(default_factory=lambda: ["relu", "selu", "tanh", "sigmoid", "swish", "mish"])
    seeds: int = 3
    baseline: str | None = None  # default: relu where it is compared, else the first activation
    # one torch thread per run: small models train fastest so, and timings stay steady on a busy machine
    train: TrainConfig = field(default_factory=lambda: TrainConfig(threads=1))
    model_options: dict[str, Any] = field(default_factory=dict)  # e.g. width, depth
    data_options: dict[str, Any] = field(default_factory=dict)  # passed to actlab.data.load
    data_seed: int = 0

    def __post_init__(self):
        if not self.activations:
            raise ActlabError("no activations to compare; give at least one, e.g. --activations relu,tanh")
        if len(set(self.activations)) != len(self.activations):
            dup = next(a for a in self.activations if self.activations.count(a) > 1)
            raise ActlabError(f"activation {dup!r} is listed twice; list each once")
        for spec in self.activations:  # unknown names, bad arguments, constant expressions: one line, before data loads
            if not isinstance(spec, str):
                raise ActlabError(
                    f"an activation to compare is a spec string such as 'relu', got {type(spec).__name__}"
                )
            REGISTRY.resolve(spec)
        self.seeds = V.integer("--seeds", self.seeds, 1, V.MAX_SEEDS)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        self.train.require_final_scores("compare")
        if self.baseline is None:
            self.baseline = default_baseline(self.activations)
        elif self.baseline not in self.activations:
            raise ActlabError(
                f"baseline {self.baseline!r} is not among the activations compared: {', '.join(self.activations)}"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d


def default_baseline(activations: list[str]) -> str:
    """The activation the others are tested against when none is named: ReLU (plain, under any
    of its spellings) where it is among ``activations``, the usual reference; else the first."""
    for spec in activations:
        entry, kwargs = REGISTRY.resolve(spec)
        if entry.name == "relu" and not kwargs:
            return spec
    return activations[0]
