"""One loader per data set: each returns a :class:`Raw` (arrays as published plus provenance);
:mod:`._prepare` then splits, reshapes and standardises every one of them the same way."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from actlab._errors import ActlabError
from actlab.data import _fetch, _formats


@dataclass
class Raw:
    """Arrays before splitting. ``x_test``/``y_test`` are set when the publisher fixed a test set,
    ``x_val``/``y_val`` when a user's loader fixed a validation set as well.

    ``pixel_range`` maps raw image values onto [0, 1]; ``per_channel`` standardises over axis 1
    (images, signals) instead of per feature; ``image_view`` lets a flat set (digits) be read as
    images ``(shape, pixel_range)`` when an image shape is asked for.
    """

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    x_val: np.ndarray | None = None  # a validation set given with the data (only with a test set)
    y_val: np.ndarray | None = None
    pixel_range: tuple[float, float] | None = None
    image_view: tuple[tuple[int, ...], tuple[float, float]] | None = None
    info: dict = field(default_factory=dict)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------------ mnist1d


def _mnist1d_generator() -> str:
    """What makes the data set: the mnist1d package's version and a hash of its source files
    (``get_dataset_args()``'s defaults and ``make_dataset`` are in them), found without importing
    it (its import loads matplotlib, 0.6-0.8 s), so that a cached copy is read without it."""
    spec = importlib.util.find_spec("mnist1d")
    if spec is None or not spec.submodule_search_locations:
        raise ActlabError("mnist1d needs the 'mnist1d' package: pip install mnist1d")
    h = hashlib.sha256(str(_version("mnist1d")).encode())
    for f in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def _mnist1d_arrays(cache: Path) -> tuple[dict[str, np.ndarray], dict, str]:
    """The arrays and generator arguments of the data set, read from ``cache`` or generated (and
    cached), and which of these it was."""
    try:
        with np.load(cache, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x", "y", "x_test", "y_test")}
            spec = json.loads(str(z["generator_args"]))
        if (
            arrays["x"].ndim == 2
            and len(arrays["x"]) == len(arrays["y"])
            and len(arrays["x_test"]) == len(arrays["y_test"])
            and isinstance(spec, dict)
        ):
            return arrays, spec, "cache"
    except (OSError, KeyError, ValueError, EOFError):
        pass
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    spec = {k: v for k, v in sorted(vars(args).items()) if k != "url"}
    # make_dataset seeds numpy's and random's global generators; leave the caller's untouched
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {
        "x": np.asarray(d["x"], np.float32),
        "y": np.asarray(d["y"], np.int64),
        "x_test": np.asarray(d["x_test"], np.float32),
        "y_test": np.asarray(d["y_test"], np.int64),
    }
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".mnist1d-", suffix=".npz", dir=cache.parent)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, generator_args=np.array(json.dumps(spec, sort_keys=True)))
        os.chmod(tmp, 0o644)
        os.replace(tmp, cache)
        return arrays, spec, "generated"
    except OSError:  # a read-only data dir only costs regeneration next time
        return arrays, spec, "generated (not cached)"


def mnist1d(data_dir, download) -> Raw:
    root = Path(data_dir).expanduser() if data_dir is not None else _fetch.default_root()
    cache = root / "mnist1d" / f"mnist1d-{_mnist1d_generator()}.npz"
    arrays, spec, how = _mnist1d_arrays(cache)
    return Raw(
        x=arrays["x"][:, None, :],
        y=arrays["y"],
        x_test=arrays["x_test"][:, None, :],
        y_test=arrays["y_test"],
        classes=[str(i) for i in range(10)],
        info={
            "source": "mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())",
            "generator_args": spec,
            "mnist1d_version": _version("mnist1d"),
            "cache": str(cache),
            "cache_status": how,
        },
    )


# ------------------------------------------------------------------------------ scikit-learn


def _sklearn(which: str) -> Callable[..., Raw]:
    def load(data_dir, download) -> Raw:
        from sklearn import datasets

        b = getattr(datasets, f"load_{which}")()
        return Raw(
            x=np.asarray(b.data, np.float64),
            y=np.asarray(b.target, np.int64),
            classes=[str(c) for c in b.target_names],
            image_view=((1, 8, 8), (0.0, 16.0)) if which == "digits" else None,
            info={
                "source": f"sklearn.datasets.load_{which}()",
                "sklearn_version": _version("scikit-learn"),
                "features": [str(f) for f in getattr(b, "feature_names", [])] or None,
            },
        )

    return load


# ---------------------------------------------------------------------------- image file sets

IDX_CLASSES = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _provenance(name: str, paths: dict[str, Path], where: dict) -> dict:
    return {
        "source": [str(p) for p in paths.values()],
        "folder": where["folder"],
        "downloaded": where["downloaded"],
        "urls": [r.url for r in _fetch.SOURCES[name]],
    }


def _idx_set(name: str) -> Callable[..., Raw]:
    def load(data_dir, download) -> Raw:
        paths, where = _fetch.locate(name, data_dir, download)
        x, y = _formats.read_idx_pair(paths["train-images-idx3-ubyte.gz"], paths["train-labels-idx1-ubyte.gz"], 10)
        xt, yt = _formats.read_idx_pair(paths["t10k-images-idx3-ubyte.gz"], paths["t10k-labels-idx1-ubyte.gz"], 10)
        if x.shape[1:] != xt.shape[1:]:
            raise ActlabError(
                f"{name}: training images are {x.shape[2:]} but test images {xt.shape[2:]}; "
                "the files do not belong together"
            )
        return Raw(
            x=x,
            y=y,
            x_test=xt,
            y_test=yt,
            classes=IDX_CLASSES[name],
            pixel_range=(0.0, 255.0),
            info=_provenance(name, paths, where),
        )

    return load


def usps(data_dir, download) -> Raw:
    paths, where = _fetch.locate("usps", data_dir, download)
    out = []
    for f in ("usps.bz2", "usps.t.bz2"):
        x, labels = _formats.read_libsvm(paths[f], 256)
        if labels.min() < 1 or labels.max() > 10:
            raise ActlabError(f"{paths[f]} has labels outside 1..10; it is not the libsvm USPS file")
        out.append((x.reshape(-1, 1, 16, 16), labels - 1))
    return Raw(
        x=out[0][0],
        y=out[0][1],
        x_test=out[1][0],
        y_test=out[1][1],
        classes=[str(i) for i in range(10)],
        pixel_range=(-1.0, 1.0),
        info=_provenance("usps", paths, where),
    )


def cifar10(data_dir, download) -> Raw:
    paths, where = _fetch.locate("cifar10", data_dir, download)
    p = paths["cifar-10-python.tar.gz"]
    x, y, xt, yt, classes = _formats.read_cifar(p.parent if p.name == "data_batch_1" else p)
    return Raw(
        x=x,
        y=y,
        x_test=xt,
        y_test=yt,
        classes=classes or CIFAR10_CLASSES,
        pixel_range=(0.0, 255.0),
        info=_provenance("cifar10", paths, where),
    )


# -------------------------------------------------------------------------------- user files


def csv_file(path: Path, target: str | None) -> Raw:
    x, y, classes, features = _formats.read_csv(path, target)
    return Raw(x=x, y=y, classes=classes, info={"source": str(path), "target": target, "features": features})


def check_examples(x: np.ndarray, y: np.ndarray, where: str, what: str = "x/y") -> None:
    """``x`` numeric ``(N, ...)`` and finite, ``y`` one label per example; ``where`` (``npz file
    PATH``) and ``what`` (``x_test/y_test``) name them in the error."""
    name = what.split("/")[0]
    if x.dtype.kind not in "biuf" or x.ndim < 2:
        raise ActlabError(f"{where}: {name} must be a numeric array (N, ...), got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ActlabError(f"{where}: {what} need one label per example, got x {x.shape} and y {y.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ActlabError(f"{where}: {name} has nan/inf values; fill them in or drop those examples")


def encode_parts(ys: list[np.ndarray], where: str) -> tuple[list[np.ndarray], list[str]]:
    """The label arrays of a set's parts (train, test, ...) as 0..k-1 codes over their classes
    together, and the class names: integers or strings; whole-number floats count as integers."""
    labels = np.concatenate(ys)
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            raise ActlabError(f"{where}: y has non-integer values; actlab does classification, labels must be classes")
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "biuUS":
        raise ActlabError(f"{where}: y has dtype {labels.dtype}; use integer or string labels")
    codes, classes = _formats.encode_labels(labels, f"{where} y")
    return np.split(codes, np.cumsum([len(y) for y in ys])[:-1]), classes


def npz_file(path: Path) -> Raw:
    z = _formats.read_npz(path)
    if {"x_train", "y_train", "x_test", "y_test"} <= z.keys():
        x, y, xt, yt = z["x_train"], z["y_train"], z["x_test"], z["y_test"]
    elif {"x", "y"} <= z.keys():
        x, y, xt, yt = z["x"], z["y"], None, None
    else:
        raise ActlabError(
            f"npz file {path} has arrays {', '.join(sorted(z)) or 'none'}; it needs x and y "
            "(or x_train, y_train, x_test, y_test)"
        )
    for xs, ys, what in ((x, y, "x/y"), (xt, yt, "x_test/y_test")):
        if xs is not None:
            check_examples(xs, ys, f"npz file {path}", what)
    if xt is not None and xt.shape[1:] != x.shape[1:]:
        raise ActlabError(f"npz file {path}: x_train examples are {x.shape[1:]} but x_test examples {xt.shape[1:]}")
    codes, classes = encode_parts([y] if yt is None else [y, yt], f"npz file {path}")
    pixel = (0.0, 255.0) if x.dtype == np.uint8 and x.ndim >= 3 else None
    return Raw(
        x=x,
        y=codes[0],
        x_test=xt,
        y_test=codes[1] if yt is not None else None,
        classes=classes,
        pixel_range=pixel,
        info={"source": str(path), "arrays": sorted(z)},
    )


@dataclass(frozen=True)
class Builtin:
    load: Callable[..., Raw]
    local: bool  # always available: generated or bundled, never downloaded
    summary: str


BUILTIN: dict[str, Builtin] = {
    "mnist1d": Builtin(
        mnist1d, True, "MNIST-1D: 40-point 1-D signals, 10 classes, generated locally (4000 train / 1000 test)"
    ),
    "iris": Builtin(_sklearn("iris"), True, "iris flowers: 150 x 4 features, 3 classes (scikit-learn)"),
    "wine": Builtin(_sklearn("wine"), True, "wine cultivars: 178 x 13 features, 3 classes (scikit-learn)"),
    "breast_cancer": Builtin(
        _sklearn("breast_cancer"), True, "breast cancer Wisconsin: 569 x 30 features, 2 classes (scikit-learn)"
    ),
    "digits": Builtin(_sklearn("digits"), True, "handwritten digits: 1797 x 8x8 pixels, 10 classes (scikit-learn)"),
    "mnist": Builtin(_idx_set("mnist"), False, "MNIST digits: 60000/10000 28x28 grayscale, 10 classes"),
    "fashion-mnist": Builtin(
        _idx_set("fashion-mnist"), False, "Fashion-MNIST: 60000/10000 28x28 grayscale, 10 classes"
    ),
    "kmnist": Builtin(_idx_set("kmnist"), False, "Kuzushiji-MNIST: 60000/10000 28x28 grayscale, 10 classes"),
    "usps": Builtin(usps, False, "USPS digits: 7291/2007 16x16 grayscale, 10 classes"),
    "cifar10": Builtin(cifar10, False, "CIFAR-10: 50000/10000 32x32 colour, 10 classes"),
}
