"""Loading a data set by name or file: the checks, the split and the training share (see the
package docstring)."""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from actlab._errors import ActlabError
from actlab._refs import DATA_FILES, is_ref
from actlab.data import _fetch
from actlab.data._dataset import Dataset
from actlab.data._prepare import SHAPES, prepare
from actlab.data._sources import BUILTIN, Raw, csv_file, npz_file
from actlab.data._split import stratified_pick
from actlab.data._stream import prepare_streamed
from actlab.data._user import Lazy, loader_raw

_FILE_KINDS = DATA_FILES
_OWN = "csv:PATH, npz:PATH, path/to/file.py:FUNCTION or package.module:FUNCTION (your loader)"


def names() -> list[str]:
    """The built-in data set names (``csv:PATH`` and ``npz:PATH`` load your own files)."""
    return list(BUILTIN)


def describe(name: str) -> str:
    """One line about a built-in data set."""
    return BUILTIN[_builtin_name(name)].summary


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


_BY_NORM = {_norm(n): n for n in BUILTIN}


def _builtin_name(spec: str) -> str:
    hit = _BY_NORM.get(_norm(spec))
    if hit is not None:
        return hit
    close = difflib.get_close_matches(_norm(spec), list(_BY_NORM), n=2, cutoff=0.5)
    hint = f"did you mean {' or '.join(repr(_BY_NORM[c]) for c in close)}? " if close else ""
    raise ActlabError(f"unknown dataset {spec!r}; {hint}choose one of: {', '.join(BUILTIN)}, {_OWN}")


def _file_spec(spec: str) -> tuple[str, Path] | None:
    """``("csv", path)`` for ``csv:PATH`` (or an existing ``*.csv`` path), likewise npz; else None."""
    head, sep, rest = spec.partition(":")
    if sep and head.lower() in _FILE_KINDS:
        if not rest.strip():
            raise ActlabError(f"{head.lower()}: needs a path, e.g. {head.lower()}:data/train.{head.lower()}")
        return head.lower(), Path(rest.strip()).expanduser()
    suffix = Path(spec).suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv", "npz") and Path(spec).expanduser().is_file():
        return ("npz" if suffix == "npz" else "csv"), Path(spec).expanduser()
    return None


def available(name: str, data_dir: str | Path | None = None) -> bool:
    """Whether ``name`` loads without downloading: generated or bundled sets always; file sets
    when their files are in one of the folders searched; ``csv:``/``npz:`` when the file exists; a
    loader in a file when the file exists (one in a package: always, it is imported only to load)."""
    if not isinstance(name, str):
        raise ActlabError(f"a dataset name is a string, got {type(name).__name__}")
    file = _file_spec(name)
    if file is not None:
        return file[1].is_file()
    if is_ref(name):
        target = name.strip().rpartition(":")[0]
        return not target.endswith(".py") or Path(target).expanduser().is_file()
    entry = _builtin_name(name)
    if BUILTIN[entry].local:
        return True
    try:
        _fetch.locate(entry, data_dir, download=False)
        return True
    except ActlabError:
        return False


def _check_args(seed, val_fraction, test_fraction, limit, shape) -> None:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ActlabError(f"seed must be a non-negative integer, got {seed!r}")
    for what, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, numbers.Real) or not 0 <= f < 1:
            raise ActlabError(f"{what} must be a number in [0, 1), got {f!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1):
        raise ActlabError(f"limit must be a positive integer (training examples) or None, got {limit!r}")
    if shape not in SHAPES:
        close = difflib.get_close_matches(str(shape), SHAPES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ActlabError(f"unknown shape {shape!r}; {hint}choose one of: {', '.join(SHAPES)}")


def load(
    spec: str,
    *,
    seed: int = 0,
    data_dir: str | Path | None = None,
    download: bool = True,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    limit: int | None = None,
    shape: str = "auto",
    target: str | None = None,
    train_fraction: float | None = None,
    data_args: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
) -> Dataset:
    """Load a data set by name (see :func:`names`), ``csv:PATH`` / ``npz:PATH`` or a loader of
    yours (``path/to/file.py:function``, ``package.module:function``; see :mod:`._user`), split it
    (seeded, stratified), standardise it with train statistics and return tensors (or, for a
    loader's torch Datasets too big for memory, splits read batch by batch: see :mod:`._stream`).

    Args:
        spec: a built-in name, ``csv:PATH`` (with ``target``), ``npz:PATH`` or a loader reference.
        seed: drives every random choice (validation carve, splits, ``limit``).
        data_dir: a folder to look in first and to download into (``data_dir/<name>``);
            default ``$ACTLAB_DATA`` or ``~/.cache/actlab``.
        download: fetch missing files of image sets; ``False`` never touches the network.
        val_fraction: validation share (of the official training set when there is an official
            test set, else of all examples).
        test_fraction: test share of all examples when there is no official test set.
        limit: keep this many training examples (val and test shrink in proportion).
        shape: ``"auto"``, ``"flat"``, ``"image32x3"`` or ``"image28"`` (see the module docs).
        target: the label column of a csv file.
        train_fraction: train on this share of the training split only (stratified, seeded),
            after standardisation: validation, test and the standardisation stay those of the
            whole split, so scores at several training-set sizes compare on the same examples.
        data_args: keyword arguments of a loader reference (plain values: they are part of the
            run's key).
        source: the loader's file hash and the user's version of it (``{"sha256": ..., "version":
            ...}``): not read here, they are part of the run's key.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ActlabError(f"a dataset is named by a string, got {spec!r}; choose one of: {', '.join(BUILTIN)}, {_OWN}")
    spec = spec.strip()
    _check_args(seed, val_fraction, test_fraction, limit, shape)
    name, raw = _raw(spec, data_dir, download, target, _data_args(spec, data_args))
    if not len(raw.y):
        raise ActlabError(f"{name} has no examples; classification needs examples of at least two classes")
    if len(raw.classes) < 2:
        raise ActlabError(
            f"{name} has only one class ({raw.classes[0] if raw.classes else 'none'}); "
            "classification needs at least two"
        )
    if train_fraction is not None and (
        isinstance(train_fraction, bool) or not isinstance(train_fraction, numbers.Real) or not 0 < train_fraction <= 1
    ):
        raise ActlabError(f"train_fraction must be a number in (0, 1], got {train_fraction!r}")
    data = (prepare_streamed if isinstance(raw.x, Lazy) else prepare)(
        name,
        raw,
        seed=int(seed),
        val_fraction=float(val_fraction),
        test_fraction=float(test_fraction),
        limit=None if limit is None else int(limit),
        shape=shape,
    )
    return (
        data if train_fraction is None or train_fraction == 1 else _train_share(data, float(train_fraction), int(seed))
    )


def _data_args(spec: str, data_args: Any) -> dict[str, Any]:
    if data_args is None:
        return {}
    if _file_spec(spec) is not None or not is_ref(spec):
        raise ActlabError(f"data_args are for a loader of yours (file.py:function); {spec} takes none")
    if not isinstance(data_args, Mapping) or not all(isinstance(k, str) and k.isidentifier() for k in data_args):
        raise ActlabError(f"data_args must map argument names to values, got {data_args!r}")
    return dict(data_args)


def _raw(spec: str, data_dir, download, target: str | None, data_args: dict[str, Any]) -> tuple[str, Raw]:
    """The data set's name and its arrays before splitting."""
    file = _file_spec(spec)
    if file is not None:
        kind, path = file
        if kind == "npz" and target is not None:
            raise ActlabError("target= is for csv files; an npz file's labels are its y array")
        return spec, csv_file(path, target) if kind == "csv" else npz_file(path)
    if is_ref(spec):
        if target is not None:
            raise ActlabError(f"target= is for csv files; the loader {spec} returns its own labels")
        return spec, loader_raw(spec, data_args)
    name = _builtin_name(spec)
    if target is not None:
        raise ActlabError(f"target= is for csv files; {name} has its own labels")
    return name, BUILTIN[name].load(data_dir, bool(download))


def _train_share(data: Dataset, fraction: float, seed: int) -> Dataset:
    """``data`` training on ``fraction`` of its training split (stratified, seeded), the other splits unchanged."""
    y = data.train.y.numpy()
    n = max(int(round(fraction * len(y))), len(np.unique(y)))
    pick, _ = stratified_pick(y, n, np.random.default_rng([seed, 1]))
    train = data.train.subset(torch.from_numpy(np.sort(pick)))
    info = {**data.info, "train_fraction": fraction, "sizes": {**data.info.get("sizes", {}), "train": len(train)}}
    return replace(data, train=train, info=info)


__all__ = ["available", "describe", "load", "names"]
