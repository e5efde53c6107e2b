"""The two containers every loader returns: :class:`Split` and :class:`Dataset`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(repr=False)
class Split:
    """One split in memory: ``x`` float32 features ``(N, *input_shape)``, ``y`` int64 labels 0..k-1."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, x={tuple(self.x.shape)} {self.x.dtype}, y={self.y.dtype})"


@dataclass(repr=False)
class Dataset:
    """A classification data set split into train / val / test, standardised with train statistics.

    ``input_shape`` is the shape of one example (``x.shape[1:]``); ``classes[i]`` names label ``i``;
    ``info`` records provenance: source files or generator arguments, how it was split, the seed,
    split sizes and the standardisation statistics.
    """

    name: str
    train: Split
    val: Split
    test: Split
    n_classes: int
    input_shape: tuple[int, ...]
    classes: list[str]
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"n_classes={self.n_classes}, input_shape={self.input_shape})"
        )
