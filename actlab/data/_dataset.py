"""The containers every loader returns: :class:`Split` (in memory) or :class:`StreamedSplit` (read
batch by batch), and :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from actlab._errors import ActlabError

XY = tuple[torch.Tensor, torch.Tensor]


@dataclass(repr=False)
class Split:
    """One split in memory: ``x`` float32 features ``(N, *input_shape)``, ``y`` int64 labels 0..k-1."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return f"Split(n={len(self)}, x={tuple(self.x.shape)} {self.x.dtype}, y={self.y.dtype})"

    def head(self, n: int) -> torch.Tensor:
        """The inputs of the first ``n`` examples."""
        return self.x[:n]

    def take(self, idx: torch.Tensor) -> XY:
        """Inputs and labels of the examples at ``idx``."""
        return self.x[idx], self.y[idx]

    def subset(self, idx: torch.Tensor) -> Split:
        """The split of the examples at ``idx`` (in that order)."""
        return Split(self.x.index_select(0, idx).contiguous(), self.y.index_select(0, idx).contiguous())


@dataclass(repr=False)
class StreamedSplit:
    """One split of a data set too big for memory: ``items`` yields ``(x, label)`` one example at a
    time (``x`` a float32 tensor as the loader gave it), ``transform`` makes a batch of them model
    inputs (scaled, reshaped, standardised); ``y``, the int64 labels 0..k-1, are in memory.

    :meth:`batches` reads it through a ``torch.utils.data.DataLoader``; there is no ``x``.
    """

    items: TorchDataset
    y: torch.Tensor
    transform: Callable[[torch.Tensor], torch.Tensor]

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return f"StreamedSplit(n={len(self)}, y={self.y.dtype})"

    @property
    def x(self) -> torch.Tensor:
        raise ActlabError(
            "this split is streamed from a torch Dataset too big for memory: it has no x tensor; "
            "read it batch by batch with split.batches(batch_size)"
        )

    def batches(self, batch_size: int, generator: torch.Generator | None = None) -> Iterator[XY]:
        """``(x, y)`` batches in order, or shuffled by ``generator`` (the same generator state,
        the same order); ``x`` transformed, read in this process."""
        loader = DataLoader(
            self.items, batch_size=batch_size, shuffle=generator is not None, generator=generator, num_workers=0
        )
        for x, y in loader:
            yield self.transform(x), y

    def head(self, n: int) -> torch.Tensor:
        """The inputs of the first ``n`` examples."""
        return self.take(range(min(n, len(self))))[0]

    def take(self, idx: Sequence[int] | torch.Tensor) -> XY:
        """Inputs and labels of the examples at ``idx`` (read now, all together: keep it small)."""
        picked = [int(i) for i in idx]
        if not picked:
            return self.transform(torch.zeros(0, *self.items[0][0].shape)), self.y[:0]
        return self.transform(torch.stack([self.items[i][0] for i in picked])), self.y[picked]

    def subset(self, idx: torch.Tensor) -> StreamedSplit:
        """The split of the examples at ``idx`` (in that order)."""
        return StreamedSplit(torch.utils.data.Subset(self.items, idx.tolist()), self.y[idx], self.transform)


@dataclass(repr=False)
class Dataset:
    """A classification data set split into train / val / test, standardised with train statistics.

    ``input_shape`` is the shape of one example (``x.shape[1:]``); ``classes[i]`` names label ``i``;
    ``info`` records provenance: source files or generator arguments, how it was split, the seed,
    split sizes and the standardisation statistics. The splits of a set too big for memory are
    :class:`StreamedSplit`\\ s (:attr:`streamed`).
    """

    name: str
    train: Split | StreamedSplit
    val: Split | StreamedSplit
    test: Split | StreamedSplit
    n_classes: int
    input_shape: tuple[int, ...]
    classes: list[str]
    info: dict = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        """Whether the splits are read batch by batch (:class:`StreamedSplit`) instead of held in memory."""
        return isinstance(self.train, StreamedSplit)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.train)}, val={len(self.val)}, test={len(self.test)}, "
            f"n_classes={self.n_classes}, input_shape={self.input_shape}"
            f"{', streamed' if self.streamed else ''})"
        )
