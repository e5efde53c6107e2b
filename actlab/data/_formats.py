"""Readers for the file formats the data sets come in.

* IDX (MNIST, Fashion-MNIST, KMNIST): big-endian header ``0 0 TYPE NDIM``, NDIM big-endian
  uint32 sizes, then the values; gzip-compressed or plain.
* libsvm text (USPS): ``label index:value ...`` per line; bzip2-compressed or plain.
* CIFAR-10 python batches: pickled dicts, read with :class:`RestrictedUnpickler`, which builds
  numpy arrays and nothing else.
* CSV (header row, one target column) and NPZ (``allow_pickle=False``).

Every reader raises :class:`~actlab.ActlabError` with one line when a file is unusable.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import math
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from actlab._errors import ActlabError, first_line

# ---------------------------------------------------------------------------------------- IDX

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_DECOMPRESSED = 2**30  # bytes: 20x the largest file of these sets (MNIST's training images, 47 MB)


def _read_maybe_compressed(path: Path, magic: bytes, opener) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(len(magic))
        with opener(path, "rb") if head == magic else open(path, "rb") as f:
            data = f.read(MAX_DECOMPRESSED + 1)  # a decompression bomb stops here
    except (OSError, EOFError, ValueError) as e:
        raise ActlabError(f"cannot read {path}: {first_line(e)}; delete it and download it again") from None
    if len(data) > MAX_DECOMPRESSED:
        raise ActlabError(
            f"{path} holds more than {MAX_DECOMPRESSED >> 20} MiB; it is not a file of this data set, "
            "delete it and download it again"
        )
    return data


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain) into a native-endian numpy array."""
    path = Path(path)
    data = _read_maybe_compressed(path, b"\x1f\x8b", gzip.open)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ActlabError(
            f"{path} is not an IDX file (bad magic number {data[:4].hex() or 'empty'}); delete it and download it again"
        )
    dtype, ndim = np.dtype(_IDX_TYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ActlabError(f"{path} is a truncated IDX file (header); delete it and download it again")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    count = math.prod(dims)  # Python integers: a huge header cannot wrap around to a small count
    if len(data) != header + count * dtype.itemsize:
        raise ActlabError(
            f"{path} has {len(data) - header} data bytes but its header {dims} needs "
            f"{count * dtype.itemsize}; delete it and download it again"
        )
    return np.frombuffer(data, dtype, count, header).reshape(dims).astype(dtype.newbyteorder("="))


def read_idx_pair(images: Path, labels: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 1, H, W)`` uint8 and labels ``(N,)`` int64 from two IDX files."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise ActlabError(f"{images} holds {x.dtype} data of shape {x.shape}, not uint8 images (N, H, W)")
    if y.ndim != 1 or len(y) != len(x):
        raise ActlabError(
            f"{labels} holds {y.shape} labels for {len(x)} images in {images}; the files do not belong together"
        )
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ActlabError(f"{labels} has labels outside 0..{n_classes - 1}; it is not from this data set")
    return x[:, None], y


# ------------------------------------------------------------------------------------ libsvm


def read_libsvm(path: str | Path, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """A dense ``(N, n_features)`` float32 array and the raw integer labels from libsvm text
    (``.bz2`` or plain). Indices are 1-based; absent entries are 0 (libsvm's sparse convention)."""
    path = Path(path)
    text = _read_maybe_compressed(path, b"BZh", bz2.open)
    rows, labels = [], []
    for lineno, line in enumerate(text.split(b"\n"), 1):
        parts = line.split()
        if not parts:
            continue
        try:
            label = float(parts[0])
            if not (label.is_integer() and abs(label) < 2**31):
                raise ValueError("not a class label")
            labels.append(int(label))
            row = np.zeros(n_features, np.float32)
            for item in parts[1:]:
                i, v = item.split(b":")
                if not 1 <= int(i) <= n_features:  # 1-based; 0 or -3 would silently land elsewhere
                    raise IndexError(i)
                row[int(i) - 1] = float(v)
            if not np.isfinite(row).all():
                raise ValueError("not a finite value")
        except (ValueError, IndexError, OverflowError):
            raise ActlabError(
                f"{path} line {lineno} is not libsvm 'label index:value ...' with indices "
                f"1..{n_features} and finite values; delete the file and download it again"
            ) from None
        rows.append(row)
    if not rows:
        raise ActlabError(f"{path} has no examples; delete it and download it again")
    return np.stack(rows), np.asarray(labels, np.int64)


# ------------------------------------------------------------------------------------- CIFAR


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    # Python 3 writes bytes as _codecs.encode(text, 'latin1') under pickle protocol 2.
    if encoding.replace("-", "").lower() not in ("latin1", "iso88591"):
        raise ActlabError(
            f"refusing to unpickle _codecs.encode with encoding {encoding!r}; only latin1 byte strings are allowed"
        )
    return codecs.encode(text, "latin1", errors)


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


# The only globals an original CIFAR-10 batch (Python 2 cPickle, protocol 2) references are
# numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype; numpy 2 writes the first as
# numpy._core.multiarray._reconstruct, and Python 3 writes protocol-2 bytes via _codecs.encode.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays inside plain containers; any other global raises ActlabError."""

    def __init__(self, file: IO[bytes], *, source: str = "pickle"):
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        make = _ALLOWED_GLOBALS.get((module, name))
        if make is None:
            raise ActlabError(
                f"refusing to unpickle {module}.{name} from {self.source}: CIFAR-10 batches hold only "
                "numpy arrays, so this is not an original batch file; delete it and download it again"
            )
        return make()

    def persistent_load(self, pid: Any) -> Any:
        raise ActlabError(
            f"refusing to unpickle a persistent reference from {self.source}; delete it and download it again"
        )


def restricted_load(data: bytes, source: str) -> Any:
    try:
        return RestrictedUnpickler(io.BytesIO(data), source=source).load()
    except ActlabError:
        raise
    except Exception as e:  # any malformed pickle: UnpicklingError, EOFError, TypeError, ...
        raise ActlabError(
            f"{source} is not a readable CIFAR-10 batch ({type(e).__name__}: {first_line(e)}); "
            "delete it and download it again"
        ) from None


def _key(d: dict, name: str) -> Any:
    for k in (name.encode(), name):
        if k in d:
            return d[k]
    return None


def read_cifar_batch(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 3, 32, 32)`` uint8 images and ``(N,)`` int64 labels from one pickled batch."""
    d = restricted_load(data, source)
    x = _key(d, "data") if isinstance(d, dict) else None
    y = _key(d, "labels") if isinstance(d, dict) else None
    if not isinstance(x, np.ndarray) or y is None:
        raise ActlabError(
            f"{source} is not a CIFAR-10 batch (no 'data' array and 'labels' list); delete it and download it again"
        )
    try:
        y = np.asarray(y)
    except (ValueError, TypeError, OverflowError, RecursionError):
        y = np.asarray(None)
    if y.dtype.kind not in "iu" and not (y.ndim == 1 and y.size == 0):  # [] reads as float64
        raise ActlabError(
            f"{source} has labels that are not whole numbers; it is not a CIFAR-10 batch, "
            "delete it and download it again"
        )
    y = y.astype(np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or y.shape != (len(x),):
        raise ActlabError(
            f"{source} holds data {x.dtype}{x.shape} and {y.shape} labels, not CIFAR-10's uint8 (N, 3072); "
            "delete it and download it again"
        )
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ActlabError(f"{source} has labels outside 0..9; it is not a CIFAR-10 batch")
    return x.reshape(-1, 3, 32, 32), y


def read_cifar_meta(data: bytes, source: str) -> list[str] | None:
    d = restricted_load(data, source)
    names = _key(d, "label_names") if isinstance(d, dict) else None
    if not isinstance(names, list) or len(names) != 10:
        return None
    return [n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names]


CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
MAX_CIFAR_FILE = 2**28  # bytes: 8x a batch of the original (31 MiB); a larger one is not read into memory


def read_cifar(location: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str] | None]:
    """Train and test arrays (and class names from ``batches.meta``) from the extracted
    ``cifar-10-batches-py`` folder or straight from ``cifar-10-python.tar.gz`` (nothing is extracted)."""
    files: dict[str, bytes] = {}
    wanted = [*CIFAR_BATCHES, "test_batch", "batches.meta"]

    def too_large(name: str, size: int) -> None:
        if size > MAX_CIFAR_FILE:
            raise ActlabError(
                f"{location}/{name} holds {size >> 20} MiB, more than a CIFAR-10 batch (31 MiB); "
                "delete it and download cifar-10-python.tar.gz again"
            )

    try:
        if location.is_dir():
            for n in wanted:
                if (location / n).exists():
                    too_large(n, (location / n).stat().st_size)
                    files[n] = (location / n).read_bytes()
        else:
            with tarfile.open(location, "r:*") as tar:
                for member in tar:
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in wanted:
                        too_large(base, member.size)
                        files[base] = tar.extractfile(member).read()
    except tarfile.TarError:
        raise ActlabError(
            f"cannot read {location}: not a readable tar archive; delete it and download it again"
        ) from None
    except (OSError, EOFError) as e:
        raise ActlabError(f"cannot read {location}: {first_line(e)}; delete it and download it again") from None
    missing = [n for n in wanted[:-1] if n not in files]
    if missing:
        raise ActlabError(f"{location} lacks {', '.join(missing)}; delete it and download cifar-10-python.tar.gz again")
    parts = [read_cifar_batch(files[n], f"{location}/{n}") for n in CIFAR_BATCHES]
    x_test, y_test = read_cifar_batch(files["test_batch"], f"{location}/test_batch")
    classes = read_cifar_meta(files["batches.meta"], f"{location}/batches.meta") if "batches.meta" in files else None
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), x_test, y_test, classes)


# --------------------------------------------------------------------------------------- CSV


def encode_labels(values: list[str] | np.ndarray, where: str) -> tuple[np.ndarray, list[str]]:
    """Map labels (strings or integers) to 0..k-1; classes are the original names, sorted
    (numerically when every label is an integer)."""
    values = [str(v).strip() for v in np.asarray(values).tolist()]
    try:
        as_int = [int(v) for v in values]
        order = sorted(set(as_int))
        index = {v: i for i, v in enumerate(order)}
        return np.asarray([index[v] for v in as_int], np.int64), [str(v) for v in order]
    except ValueError:
        pass
    if any(v == "" for v in values):
        raise ActlabError(f"{where} has empty labels; fill them in or drop those rows")
    order = sorted(set(values))
    index = {v: i for i, v in enumerate(order)}
    return np.asarray([index[v] for v in values], np.int64), order


def read_csv(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Features ``(N, d)`` float64, labels 0..k-1, class names and feature column names."""
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f, delimiter=delimiter) if any(c.strip() for c in r)]
    except FileNotFoundError:
        raise ActlabError(f"csv file {path} does not exist; check the path after 'csv:'") from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ActlabError(f"cannot read csv file {path}: {first_line(e)}") from None
    if not rows:
        raise ActlabError(f"csv file {path} is empty; it needs a header row and one row per example")
    header = [c.strip() for c in rows[0]]
    if target is None or target not in header:
        what = "needs target=COLUMN (--target)" if target is None else f"has no column {target!r}"
        raise ActlabError(f"csv file {path} {what}; its columns are: {', '.join(header)}")
    if len(header) < 2:
        raise ActlabError(f"csv file {path} has only the target column; it needs at least one feature column")
    body = rows[1:]
    if not body:
        raise ActlabError(f"csv file {path} has a header but no rows")
    for i, r in enumerate(body, 2):
        if len(r) != len(header):
            raise ActlabError(f"csv file {path} line {i} has {len(r)} fields but the header has {len(header)}")
    t = header.index(target)
    features = [c for j, c in enumerate(header) if j != t]
    columns = []
    for j, name in enumerate(header):
        if j == t:
            continue
        col = []
        for i, r in enumerate(body, 2):
            v = r[j].strip()
            try:
                col.append(float(v))
            except ValueError:
                what = "is empty" if not v else f"is {v!r}"
                raise ActlabError(
                    f"csv file {path}: feature column {name!r} is not numeric (line {i} {what}); "
                    "encode or drop that column"
                ) from None
        columns.append(col)
    x = np.asarray(columns, np.float64).T
    if not np.isfinite(x).all():
        bad = features[int(np.where(~np.isfinite(x).all(0))[0][0])]
        raise ActlabError(
            f"csv file {path}: feature column {bad!r} has nan/inf values; fill them in or drop those rows"
        )
    y, classes = encode_labels([r[t] for r in body], f"csv file {path} column {target!r}")
    return x, y, classes, features


# --------------------------------------------------------------------------------------- NPZ


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, read with ``allow_pickle=False``."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                raise ActlabError(f"{path} is not an .npz file; save it with numpy.savez(path, x=..., y=...)")
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ActlabError(f"npz file {path} does not exist; check the path after 'npz:'") from None
    except ActlabError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ActlabError(
                f"{path} holds object arrays, which actlab does not unpickle; save plain numeric "
                "(or string label) arrays"
            ) from None
        raise ActlabError(f"cannot read npz file {path}: {first_line(e)}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ActlabError(f"cannot read npz file {path}: {first_line(e)}") from None
    except MemoryError:  # a header that declares a larger array than this machine can hold
        raise ActlabError(
            f"npz file {path} declares arrays larger than this machine's memory; it is damaged, or too large for actlab"
        ) from None
    bad = next((k for k, v in arrays.items() if not isinstance(v, np.ndarray)), None)
    if bad is not None:  # numpy hands back the raw bytes of a member that is not an .npy array
        raise ActlabError(
            f"npz file {path}: {bad!r} is not a numpy array; save the file with numpy.savez(path, x=..., y=...)"
        )
    return arrays
