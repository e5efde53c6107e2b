"""A data set too big for memory (a loader's torch Datasets over
:data:`~actlab.data._user.MAX_MATERIALISED_BYTES`): split like any other, its examples read batch
by batch through a ``torch.utils.data.DataLoader``.

What applies as in memory: the seeded stratified split (test, validation carved from train,
``limit``, ``train_fraction``), made from the labels alone; uint8 images scaled to [0, 1]; the
shapes ``flat``, ``image32x3`` and ``image28`` (per batch); standardisation with statistics of the
train split only, per feature (or per channel for examples ``(C, ...)``), accumulated in float64
in one streaming pass over the train split (:class:`Moments`) and applied to every batch as it is
read. What differs: examples become float32 before they are standardised (in memory, float64 data
is standardised in float64), and every item is checked as it is read (shape, numbers, finite),
so a malformed item far into the set stops training there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from actlab.data._dataset import Dataset, StreamedSplit
from actlab.data._prepare import IMAGE_SHAPES, assemble, check_image, split_plan, standardisation_record, to_image
from actlab.data._sources import Raw
from actlab.data._user import Lazy

#: Examples the statistics pass reads at once.
STATS_BATCH = 256


class _Items(TorchDataset):
    """The examples of one split: item ``j`` is example ``indices[j]`` of ``part`` as a float32
    tensor, and its label ``labels[j]`` (0..k-1)."""

    def __init__(self, part: Lazy, indices: np.ndarray, labels: np.ndarray):
        self.part, self.indices, self.labels = part, indices, labels

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> tuple[torch.Tensor, int]:
        x = np.asarray(self.part.read(int(self.indices[j])), np.float32)
        return torch.from_numpy(x if x.flags.writeable else x.copy()), int(self.labels[j])


@dataclass
class _Transform:
    """A batch as the model takes it: pixels scaled to [0, 1], resized to an image ``shape``,
    standardised with ``mean`` and ``std`` (when known), flattened for ``shape="flat"``."""

    pixel_range: tuple[float, float] | None
    shape: str
    mean: torch.Tensor | None = None
    std: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.pixel_range is not None:
            lo, hi = self.pixel_range
            x = (x - lo) / (hi - lo)
        if self.shape in IMAGE_SHAPES:
            x = to_image(x, self.shape)
        if self.mean is not None and self.std is not None:
            x = (x - self.mean) / self.std
        return x.reshape(len(x), -1) if self.shape == "flat" else x


class Moments:
    """Mean and standard deviation (population, as numpy's) of the columns of batches of rows,
    accumulated in float64 batch by batch: Chan, Golub and LeVeque's pairwise update of Welford's
    running moments."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = self.m2 = torch.zeros(0, dtype=torch.float64)

    def add(self, rows: torch.Tensor) -> None:
        """Add a batch ``(m, columns)``."""
        m = rows.shape[0]
        if m == 0:
            return
        rows = rows.double()
        mean = rows.mean(0)
        m2 = ((rows - mean) ** 2).sum(0)
        if self.n == 0:
            self.n, self.mean, self.m2 = m, mean, m2
            return
        n = self.n + m
        delta = mean - self.mean
        self.mean = self.mean + delta * (m / n)
        self.m2 = self.m2 + m2 + delta**2 * (self.n * m / n)
        self.n = n

    @property
    def std(self) -> torch.Tensor:
        return (self.m2 / max(self.n, 1)).sqrt()


def _rows(x: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """A batch as rows of the units standardised together: channels of ``(N, C, ...)``, or features."""
    return x.transpose(0, 1).reshape(x.shape[1], -1).T if per_channel else x.reshape(len(x), -1)


def _statistics(train: StreamedSplit, per_channel: bool) -> Moments:
    moments = Moments()
    for x, _ in train.batches(STATS_BATCH):
        moments.add(_rows(x, per_channel))
    return moments


def prepare_streamed(
    name: str, raw: Raw, *, seed: int, val_fraction: float, test_fraction: float, limit: int | None, shape: str
) -> Dataset:
    """:func:`~actlab.data._prepare.prepare` for :class:`Lazy` examples: :class:`StreamedSplit`\\ s."""
    pools, info = split_plan(name, raw, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, limit=limit)
    natural = tuple(int(s) for s in raw.x.shape[1:])
    check_image(name, natural, shape)
    shaper = _Transform(raw.pixel_range, "auto" if shape == "flat" else shape)
    items = {k: _Items(x, i, np.asarray(y[i], np.int64)) for k, (x, y, i) in pools.items()}
    shaped = tuple(shaper(torch.zeros(1, *natural)).shape[1:])
    per_channel = len(shaped) >= 2
    moments = _statistics(StreamedSplit(items["train"], torch.from_numpy(items["train"].labels), shaper), per_channel)
    std = torch.where(moments.std > 1e-8, moments.std, 1.0)  # constant channel / feature: centre only
    view = (-1, *[1] * (len(shaped) - 1)) if per_channel else shaped
    transform = replace(
        shaper,
        shape=shape,
        mean=moments.mean.reshape(view).float(),
        std=std.reshape(view).float(),
    )
    splits = {k: StreamedSplit(it, torch.from_numpy(it.labels), transform) for k, it in items.items()}
    stats = standardisation_record(per_channel, moments.mean.tolist(), std.tolist())
    stats["scaled_from"] = list(raw.pixel_range) if raw.pixel_range is not None else None
    info.update({"shape": shape, "natural_shape": natural, "standardisation": stats, "streamed": True})
    return assemble(name, raw, splits, transform(torch.zeros(1, *natural)).shape[1:], info)


__all__ = ["STATS_BATCH", "Moments", "prepare_streamed"]
