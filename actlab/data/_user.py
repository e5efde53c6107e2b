"""A user's data loader, ``path/to/file.py:function`` or ``package.module:function``: called with
its ``data_args``, what it returns becomes a :class:`Raw` that is split and standardised like
every built-in set.

It returns arrays (numpy, torch tensors, nested lists) or ``torch.utils.data.Dataset``\\ s of
``(x, y)`` pairs, in one of these forms:

* ``(x, y)``, a dict ``{"x": x, "y": y}`` or one Dataset: split stratified like a csv file;
* ``(train, test)`` or ``{"train": ..., "test": ...}``: the test set kept, validation carved
  from train like mnist's;
* ``(train, val, test)`` or a dict with all three: every part kept as given;

where each part is a tuple ``(x, y)`` or a Dataset (so a ``(train, test)`` pair is told from an
``(x, y)`` pair by its parts being tuples or Datasets). A Dataset is read item by item into
arrays, unless the Datasets' examples would take more than :data:`MAX_MATERIALISED_BYTES` as
tensors: then every part stays where it is, a :class:`Lazy` part read an item at a time (the
labels are read in one pass, or taken from the Dataset's ``targets`` or ``labels`` attribute when
it has one of the right length, as torchvision's data sets do), and the data set is streamed
(:mod:`actlab.data._stream`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from actlab._errors import ActlabError
from actlab._refs import call_user, defined_at, load_ref, qualified_name
from actlab.data._sources import Raw, check_examples, encode_parts

#: The most a loader's Datasets may take as float32 tensors to be read into memory; bigger, they stream.
MAX_MATERIALISED_BYTES = 2 * 2**30

_FORMS = (
    "return (x, y), (train, test) or (train, val, test), each part a tuple (x, y) or a torch Dataset of "
    "(x, y) pairs, or a dict with keys x, y or train, test (and val)"
)


def loader_raw(spec: str, data_args: Mapping[str, Any]) -> Raw:
    """Call the loader ``spec`` names with ``data_args`` and check what it returns."""
    fn = load_ref(spec, "data loader")
    returned = call_user(fn, what="data loader", **data_args)
    who = f"the data loader {qualified_name(fn)} ({defined_at(fn)})"
    parts, form = _parts(returned, who)
    arrays = _read(parts, who)
    first = next(iter(arrays.values()))[0]
    for name, (x, _) in arrays.items():
        if x.shape[1:] != first.shape[1:]:
            raise ActlabError(f"{who}: train examples are {first.shape[1:]} but {name} examples {x.shape[1:]}")
    codes, classes = encode_parts([y for _, y in arrays.values()], who)
    x = {name: xy[0] for name, xy in arrays.items()}
    y = dict(zip(arrays, codes, strict=True))
    return Raw(
        x=x.get("train", first),
        y=y.get("train", codes[0]),
        x_test=x.get("test"),
        y_test=y.get("test"),
        x_val=x.get("val"),
        y_val=y.get("val"),
        classes=classes,
        pixel_range=(0.0, 255.0) if first.dtype == np.uint8 and first.ndim >= 3 else None,
        info={"source": spec, "loader": qualified_name(fn), "data_args": dict(data_args), "returned": form},
    )


class Lazy:
    """One part's examples left where the loader keeps them (a torch Dataset, or an array) and
    read one at a time by :meth:`read`; ``shape``, ``ndim`` and ``dtype`` are those of the array
    they would make, so the split reads them like one."""

    def __init__(self, source: TorchDataset | np.ndarray, n: int, example: np.ndarray, who: str):
        """``n`` examples in ``source``, of the shape and dtype of ``example``."""
        self.source, self.who = source, who
        self.shape = (n, *example.shape)
        self.ndim, self.dtype = len(self.shape), example.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, i: int) -> np.ndarray:
        """Example ``i``, checked like the first: same shape, numbers, finite."""
        x = self.source[i] if isinstance(self.source, np.ndarray) else _item(self.source, i, self.who)[0]
        _same_shape(x, self.shape[1:], i, self.who)
        if x.dtype.kind not in "biuf":
            raise ActlabError(f"{self.who}: item {i}'s x is {x.dtype}, not numbers")
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ActlabError(f"{self.who}: item {i}'s x has nan/inf values; fill them in or drop that example")
        return x


def _read(parts: dict[str, Any], who: str) -> dict[str, tuple[Any, np.ndarray]]:
    """Each part's examples and labels: arrays, or :class:`Lazy` examples (every part) when the
    Datasets among them would take more than :data:`MAX_MATERIALISED_BYTES` as tensors."""
    whos = {name: f"{who}, {name}" if len(parts) > 1 else who for name in parts}
    probes = {name: _probe(p, whos[name]) for name, p in parts.items() if isinstance(p, TorchDataset)}
    stream = sum(n * first[0].size * 4 for n, first in probes.values()) > MAX_MATERIALISED_BYTES
    out: dict[str, tuple[Any, np.ndarray]] = {}
    for name, part in parts.items():
        w = whos[name]
        if name in probes:
            out[name] = (_lazy if stream else _materialise)(part, *probes[name], w)
            continue
        x, y = _array(part[0], w, "x"), _array(part[1], w, "y")
        check_examples(x, y, w)
        out[name] = (Lazy(x, len(x), np.empty(x.shape[1:], x.dtype), w), y) if stream else (x, y)
    return out


def _is_part(value: Any) -> bool:
    return isinstance(value, TorchDataset) or (isinstance(value, tuple) and len(value) == 2)


def _parts(returned: Any, who: str) -> tuple[dict[str, Any], str]:
    """The parts of what the loader returned (``{"all": ...}`` or train, val, test) and its form."""
    if isinstance(returned, Mapping):
        keys = set(returned)
        if keys == {"x", "y"}:
            return {"all": (returned["x"], returned["y"])}, "dict x, y"
        if keys in ({"train", "test"}, {"train", "val", "test"}):
            parts = {k: returned[k] for k in ("train", "val", "test") if k in keys}
            if all(_is_part(p) for p in parts.values()):
                return parts, f"dict {', '.join(parts)}"
        raise ActlabError(f"{who} returned a dict with keys {', '.join(map(str, keys)) or 'none'}; {_FORMS}")
    if isinstance(returned, TorchDataset):
        return {"all": returned}, "Dataset"
    if isinstance(returned, (tuple, list)):
        if len(returned) == 2 and not all(_is_part(p) for p in returned):
            return {"all": tuple(returned)}, "(x, y)"
        names = {2: ("train", "test"), 3: ("train", "val", "test")}.get(len(returned))
        if names and all(_is_part(p) for p in returned):
            return dict(zip(names, returned, strict=True)), f"({', '.join(names)})"
        raise ActlabError(f"{who} returned a {type(returned).__name__} of {len(returned)}; {_FORMS}")
    raise ActlabError(f"{who} returned a {type(returned).__name__}; {_FORMS}")


def _array(value: Any, who: str, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:
        raise ActlabError(f"{who}: {what} is not an array ({e}); give numbers of one shape per example") from None


def _probe(ds: TorchDataset, who: str) -> tuple[int, tuple[np.ndarray, Any]]:
    """A map-style Dataset's length and first item."""
    if not hasattr(ds, "__len__"):
        raise ActlabError(
            f"{who}: the {type(ds).__name__} has no length; give a map-style Dataset (__len__ and __getitem__)"
        )
    n = call_user(type(ds).__len__, ds, what="data set")
    if n < 1:
        raise ActlabError(f"{who}: the {type(ds).__name__} has no examples")
    return n, _item(ds, 0, who)


def _materialise(ds: TorchDataset, n: int, first: tuple[np.ndarray, Any], who: str) -> tuple[np.ndarray, np.ndarray]:
    """A map-style Dataset's items as two arrays, checked."""
    items = [first] + [_item(ds, i, who) for i in range(1, n)]
    for i, (x, _) in enumerate(items):
        _same_shape(x, first[0].shape, i, who)
    x, y = np.stack([x for x, _ in items]), np.asarray([y for _, y in items])
    check_examples(x, y, who)
    return x, y


def _lazy(ds: TorchDataset, n: int, first: tuple[np.ndarray, Any], who: str) -> tuple[Lazy, np.ndarray]:
    """A map-style Dataset left in place, its first item checked, and its labels."""
    check_examples(first[0][None], np.zeros(1), who)
    return Lazy(ds, n, first[0], who), _labels(ds, n, who)


def _labels(ds: TorchDataset, n: int, who: str) -> np.ndarray:
    """The labels of a Dataset's items: its ``targets`` or ``labels`` (one per item), else read in
    one pass over the items (each item's x dropped as soon as it is read)."""
    for attr in ("targets", "labels"):
        given = getattr(ds, attr, None)
        if given is not None and not callable(given):
            labels = _array(given, who, f"the {type(ds).__name__}'s {attr}")
            if labels.ndim == 1 and len(labels) == n:
                return labels
    return np.asarray([_item(ds, i, who)[1] for i in range(n)])


def _same_shape(x: np.ndarray, shape: tuple[int, ...], i: int, who: str) -> None:
    if x.shape != shape:
        raise ActlabError(f"{who}: item {i} has x of shape {x.shape} but item 0 of shape {shape}")


def _item(ds: TorchDataset, i: int, who: str) -> tuple[np.ndarray, Any]:
    item = call_user(type(ds).__getitem__, ds, i, what="data set")
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ActlabError(f"{who}: item {i} of the {type(ds).__name__} is a {type(item).__name__}, not a pair (x, y)")
    y = _array(item[1], who, f"item {i}'s y")
    if y.ndim:
        raise ActlabError(f"{who}: item {i}'s y has shape {y.shape}; give one label (a number or a string) per item")
    return _array(item[0], who, f"item {i}'s x"), y.item()


__all__ = ["MAX_MATERIALISED_BYTES", "Lazy", "loader_raw"]
