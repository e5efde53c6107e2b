"""Split, subsample, reshape and standardise a :class:`Raw` into a :class:`Dataset`."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from actlab._errors import ActlabError
from actlab.data._dataset import Dataset, Split
from actlab.data._sources import Raw
from actlab.data._split import stratified_pick

SHAPES = ("auto", "flat", "image32x3", "image28")
IMAGE_SHAPES = ("image32x3", "image28")


def _split_indices(raw: Raw, rng: np.random.Generator, val_fraction: float, test_fraction: float, limit: int | None):
    """Indices into the training pool (train, val) and the test pool (test), and a description."""
    n = len(raw.y)
    if raw.x_val is not None and raw.y_val is not None:
        train, val, test = np.arange(n), np.arange(len(raw.y_val)), np.arange(len(raw.y_test))
        rule = "train, validation and test kept as the loader gave them"
    elif raw.x_test is not None:
        val, train = stratified_pick(raw.y, round(val_fraction * n), rng, keep_one=True)
        test = np.arange(len(raw.y_test))
        rule = (
            f"official test set kept as test; validation = stratified {val_fraction:g} of the official "
            f"training set (seeded)"
        )
    else:
        if val_fraction + test_fraction >= 1:
            raise ActlabError(
                f"val_fraction + test_fraction must be below 1 to leave training data, got "
                f"{val_fraction:g} + {test_fraction:g}"
            )
        test, rest = stratified_pick(raw.y, round(test_fraction * n), rng, keep_one=True)
        v, t = stratified_pick(raw.y[rest], round(val_fraction * n), rng, keep_one=True)
        val, train = rest[v], rest[t]
        rule = (
            f"stratified seeded split of all {n} examples: test {test_fraction:g}, "
            f"validation {val_fraction:g}, train the rest"
        )
    before = {"train": len(train), "val": len(val), "test": len(test)}
    if limit is not None and limit < len(train):
        ratio = limit / len(train)
        pick, _ = stratified_pick(raw.y[train], limit, rng)
        train = train[pick]
        cap = lambda idx, y: idx[stratified_pick(y[idx], max(1, round(len(idx) * ratio)), rng)[0]] if len(idx) else idx
        val = cap(val, raw.y_val if raw.y_val is not None else raw.y)
        test = cap(test, raw.y_test if raw.x_test is not None else raw.y)
        rule += (
            f"; limit={limit}: train subsampled (stratified, seeded) from {before['train']}, "
            f"val and test capped to the same fraction {ratio:.4g}"
        )
    return train, val, test, rule, before


def _to_image32x3(x: torch.Tensor) -> torch.Tensor:
    c, h, w = x.shape[1:]
    if c not in (1, 3):
        raise ActlabError(f"shape 'image32x3' needs 1 or 3 channels, the data has {c}; use shape='auto'")
    if (h, w) == (28, 28):
        x = F.pad(x, (2, 2, 2, 2))  # zero (black) border, the LeNet convention
    elif (h, w) != (32, 32):
        x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False, antialias=h > 32 or w > 32)
    return x.expand(-1, 3, -1, -1).contiguous() if c == 1 else x


def _to_image28(x: torch.Tensor) -> torch.Tensor:
    c, h, w = x.shape[1:]
    if c != 1:
        raise ActlabError(
            f"shape 'image28' is for grayscale images, the data has {c} channels; use 'image32x3' or 'auto'"
        )
    if (h, w) != (28, 28):
        x = F.interpolate(x, size=(28, 28), mode="bilinear", align_corners=False, antialias=h > 28 or w > 28)
    return x


def _standardise(xs: dict[str, np.ndarray], per_channel: bool) -> dict:
    train = xs["train"]
    axes = (0, *range(2, train.ndim)) if per_channel else 0
    mean = train.mean(axis=axes, dtype=np.float64)
    std = train.std(axis=axes, dtype=np.float64)
    std = np.where(std > 1e-8, std, 1.0)  # constant channel / feature: centre only
    shape = (1, -1, *([1] * (train.ndim - 2))) if per_channel else (1, *train.shape[1:])
    for k in xs:
        dt = xs[k].dtype
        xs[k] = ((xs[k] - mean.reshape(shape).astype(dt)) / std.reshape(shape).astype(dt)).astype(
            np.float32, copy=False
        )
    return standardisation_record(per_channel, mean.ravel().tolist(), std.ravel().tolist())


def standardisation_record(per_channel: bool, mean: list[float], std: list[float]) -> dict:
    """How a data set was standardised, for its ``info``."""
    return {
        "method": "per-channel" if per_channel else "per-feature",
        "statistics_from": "train",
        "mean": mean,
        "std": std,
    }


def _check_not_empty(name: str, raw: Raw, val, test, val_fraction: float, test_fraction: float) -> None:
    """Refuse a split that leaves nothing to select epochs on, or to score."""
    for part, idx, wanted in (
        ("validation", val, val_fraction > 0 or raw.x_val is not None),
        ("test", test, raw.x_test is not None or test_fraction > 0),
    ):
        if wanted and not len(idx):
            given = raw.x_test if part == "test" else raw.x_val
            if given is not None:
                raise ActlabError(f"{name}: its {part} set has no examples; give a {part} set with examples")
            raise ActlabError(
                f"{name}: its {len(raw.y)} examples leave no {part} examples once every class keeps one "
                f"for training; give more examples"
            )


def check_image(name: str, natural: tuple[int, ...], shape: str) -> None:
    """Refuse an image ``shape`` for examples that are not images ``(C, H, W)``."""
    if shape in IMAGE_SHAPES and len(natural) != 3:
        raise ActlabError(
            f"shape {shape!r} needs an image data set (examples (C, H, W)); {name} has examples of "
            f"shape {tuple(natural)}; use shape='auto' or 'flat'"
        )


def to_image(x: torch.Tensor, shape: str) -> torch.Tensor:
    """A batch of images ``(N, C, H, W)`` as ``shape`` (one of :data:`IMAGE_SHAPES`) asks."""
    return _to_image32x3(x) if shape == "image32x3" else _to_image28(x)


def _shaped(name: str, raw: Raw, xs: dict[str, np.ndarray], shape: str) -> tuple[dict[str, np.ndarray], Any]:
    """The splits' examples as float arrays of ``shape``, pixels scaled to [0, 1]; and the pixel
    range they were scaled from (None for other data)."""
    natural = raw.x.shape[1:]
    pixel_range = raw.pixel_range
    if shape in IMAGE_SHAPES:
        if len(natural) != 3 and raw.image_view is not None:
            view, pixel_range = raw.image_view
            xs = {k: v.reshape(-1, *view) for k, v in xs.items()}
        else:
            check_image(name, natural, shape)
    if pixel_range is not None:
        lo, hi = pixel_range
        xs = {k: (v.astype(np.float32) - np.float32(lo)) / np.float32(hi - lo) for k, v in xs.items()}
    else:
        xs = {k: v.astype(np.float64 if v.dtype == np.float64 else np.float32) for k, v in xs.items()}
    if shape in IMAGE_SHAPES:
        xs = {k: to_image(torch.from_numpy(np.ascontiguousarray(v, np.float32)), shape).numpy() for k, v in xs.items()}

    return xs, pixel_range


def split_plan(
    name: str, raw: Raw, *, seed: int, val_fraction: float, test_fraction: float, limit: int | None
) -> tuple[dict[str, tuple[Any, np.ndarray, np.ndarray]], dict]:
    """Which examples go where: per split ``(examples, labels, indices into them)``, and the
    ``info`` that records how (without shape and standardisation)."""
    rng = np.random.default_rng(seed)
    train, val, test, rule, before = _split_indices(raw, rng, val_fraction, test_fraction, limit)
    _check_not_empty(name, raw, val, test, val_fraction, test_fraction)
    pools = {
        "train": (raw.x, raw.y, train),
        "val": (raw.x_val, raw.y_val, val) if raw.x_val is not None else (raw.x, raw.y, val),
        "test": (raw.x_test, raw.y_test, test) if raw.x_test is not None else (raw.x, raw.y, test),
    }
    fingerprint = hashlib.sha1(
        b"".join(np.asarray(i, np.int64).tobytes() + b"|" for i in (train, val, test))
    ).hexdigest()[:16]
    info = {
        "name": name,
        **raw.info,
        "seed": seed,
        "split": rule,
        "official_test": raw.x_test is not None,
        "val_fraction": None if raw.x_val is not None else val_fraction,
        "test_fraction": None if raw.x_test is not None else test_fraction,
        "limit": limit,
        "sizes": {k: len(i) for k, (_, _, i) in pools.items()},
        "sizes_before_limit": before,
        "split_fingerprint": fingerprint,
    }
    return pools, info


def prepare(
    name: str, raw: Raw, *, seed: int, val_fraction: float, test_fraction: float, limit: int | None, shape: str
) -> Dataset:
    pools, info = split_plan(name, raw, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, limit=limit)
    xs = {k: np.asarray(x[i]) for k, (x, _, i) in pools.items()}
    ys = {k: np.asarray(y[i], np.int64) for k, (_, y, i) in pools.items()}
    natural = raw.x.shape[1:]
    xs, pixel_range = _shaped(name, raw, xs, shape)

    per_channel = xs["train"].ndim >= 3
    stats = _standardise(xs, per_channel)
    stats["scaled_from"] = list(pixel_range) if pixel_range is not None else None
    if shape == "flat":
        xs = {k: v.reshape(len(v), -1) for k, v in xs.items()}

    splits = {k: Split(torch.from_numpy(np.ascontiguousarray(xs[k])), torch.from_numpy(ys[k])) for k in xs}
    info.update({"shape": shape, "natural_shape": tuple(int(s) for s in natural), "standardisation": stats})
    return assemble(name, raw, splits, xs["train"].shape[1:], info)


def assemble(name: str, raw: Raw, splits: dict[str, Any], input_shape: Any, info: dict) -> Dataset:
    """The :class:`Dataset` of ``splits`` (train, val, test) with the classes of ``raw``."""
    return Dataset(
        name=name,
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        n_classes=len(raw.classes),
        input_shape=tuple(int(s) for s in input_shape),
        classes=list(raw.classes),
        info=info,
    )
