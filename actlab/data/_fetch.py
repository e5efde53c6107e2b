"""Where the image data sets' files come from, where actlab looks for them, and downloading.

Each file is looked for, in order, in ``data_dir``, ``data_dir/<name>``, ``data_dir/<TorchvisionName>/raw``,
``$ACTLAB_DATA/<name>`` (default ``~/.cache/actlab/<name>``) and, for Fashion-MNIST, the folder of the
Debian package ``dataset-fashion-mnist`` (from dpkg's file list, else ``/usr/share/datasets/fashion-mnist``).
The first folder that holds every file of a data set wins. Missing files are downloaded (when
``download=True``) into ``data_dir/<name>`` or ``$ACTLAB_DATA/<name>``: to a temporary file in that
folder, checked against the publisher's checksum, then renamed into place; a mismatch deletes the
temporary file. The checksums are the MD5s torchvision uses (``torchvision/datasets/mnist.py``,
``usps.py``, ``cifar.py``); files found locally are checked by format, not by checksum, since
repackaged copies (Debian's) are recompressed.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from actlab._errors import ActlabError

DPKG_INFO = Path("/var/lib/dpkg/info")
TIMEOUT_S = 60


@dataclass(frozen=True)
class Resource:
    """One published file: its name, URL and MD5; ``local`` lists other names a local copy may
    have (the decompressed file, the extracted folder)."""

    filename: str
    url: str
    md5: str
    local: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.filename, *self.local)


def _idx(base: str, md5s: tuple[str, str, str, str]) -> list[Resource]:
    files = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return [Resource(f"{f}.gz", f"{base}{f}.gz", m, (f,)) for f, m in zip(files, md5s, strict=True)]


SOURCES: dict[str, list[Resource]] = {
    "mnist": _idx(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        (
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),
    "fashion-mnist": _idx(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        (
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79",
            "bb300cfdad3c16e7a12a480ee83cd310",
        ),
    ),
    "kmnist": _idx(
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        (
            "bdb82020997e1d708af4cf47b453dcf7",
            "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7",
            "7320c461ea6c1c855c0b718fb2a4b134",
        ),
    ),
    "usps": [
        Resource(
            "usps.bz2",
            "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2",
            "ec16c51db3855ca6c91edd34d0e9b197",
            ("usps",),
        ),
        Resource(
            "usps.t.bz2",
            "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2",
            "8ea070ee2aca1ac39742fdd1ef5ed118",
            ("usps.t",),
        ),
    ],
    "cifar10": [
        Resource(
            "cifar-10-python.tar.gz",
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a",
            ("cifar-10-batches-py", "data_batch_1"),
        ),
    ],
}

TORCHVISION_DIRS = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "kmnist": "KMNIST",
    "usps": "USPS",
    "cifar10": ".",
}
DEBIAN_PACKAGES = {"fashion-mnist": ("dataset-fashion-mnist", Path("/usr/share/datasets/fashion-mnist"))}


def default_root() -> Path:
    """``$ACTLAB_DATA`` or ``~/.cache/actlab``: downloads and generated caches live under it."""
    return Path(os.environ.get("ACTLAB_DATA") or Path.home() / ".cache" / "actlab").expanduser()


def debian_dirs(name: str) -> list[Path]:
    """Folders of the Debian package that ships ``name`` (from dpkg's file list), else its known path."""
    if name not in DEBIAN_PACKAGES:
        return []
    package, known = DEBIAN_PACKAGES[name]
    wanted = {n for r in SOURCES[name] for n in r.names}
    dirs: list[Path] = []
    for lst in (DPKG_INFO / f"{package}.list", DPKG_INFO / f"{package}:all.list"):
        try:
            lines = lst.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            p = Path(line.strip())
            if p.name in wanted and p.parent not in dirs:
                dirs.append(p.parent)
    return dirs or [known]


def search_dirs(name: str, data_dir: str | Path | None) -> list[Path]:
    dirs: list[Path] = []
    if data_dir is not None:
        d = Path(data_dir).expanduser()
        dirs += [d, d / name, d / TORCHVISION_DIRS.get(name, name) / "raw"]
    dirs.append(default_root() / name)
    dirs += debian_dirs(name)
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def target_dir(name: str, data_dir: str | Path | None) -> Path:
    return (Path(data_dir).expanduser() if data_dir is not None else default_root()) / name


def _find_in(d: Path, r: Resource) -> Path | None:
    return next((d / n for n in r.names if (d / n).exists()), None)


def locate(name: str, data_dir: str | Path | None, download: bool) -> tuple[dict[str, Path], dict]:
    """Paths of every file of data set ``name`` (keyed by published filename), downloading the
    missing ones when allowed; raises ActlabError with one line saying how to get them."""
    resources = SOURCES[name]
    dirs = search_dirs(name, data_dir)
    for d in dirs:
        found = {r.filename: _find_in(d, r) for r in resources}
        if all(found.values()):
            return found, {"folder": str(d), "downloaded": []}
    target = target_dir(name, data_dir)
    missing = [r for r in resources if _find_in(target, r) is None]
    if not download:
        raise ActlabError(_missing_message(name, missing, dirs, target, None))
    downloaded = []
    for r in missing:
        try:
            fetch(r.url, target / r.filename, r.md5)
        except _Unreachable as e:
            raise ActlabError(
                _missing_message(name, missing, dirs, target, f"could not download {r.url} ({e})")
            ) from None
        downloaded.append(r.url)
    return {r.filename: _find_in(target, r) for r in resources}, {"folder": str(target), "downloaded": downloaded}


def _missing_message(name: str, missing: list[Resource], dirs: list[Path], target: Path, failure: str | None) -> str:
    files = ", ".join(r.filename for r in missing)
    bases = {r.url[: -len(r.filename)] for r in missing if r.url.endswith("/" + r.filename)}
    urls = f"them from {bases.pop()}" if len(bases) == 1 and len(missing) > 1 else " ".join(r.url for r in missing)
    ways = [f"download {urls} into {target}"]
    if name in DEBIAN_PACKAGES:
        ways.append(f"`apt-get install {DEBIAN_PACKAGES[name][0]}`")
    ways.append("pass --data-dir (data_dir=) pointing at a folder that has them")
    head = f"{failure}; " if failure else ""
    tail = "" if failure else " (or allow downloading: download=True, no --no-download)"
    return (
        f"{head}{name}: missing {files}; looked in {', '.join(str(d) for d in dirs)}; "
        f"to get them: {', or '.join(ways)}{tail}"
    )


class _Unreachable(Exception):
    """The network or the server failed (not a checksum problem)."""


def fetch(url: str, dest: Path, md5: str, timeout: float = TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest``: a temporary file next to it, MD5-checked, then renamed."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise ActlabError(f"cannot write to {dest.parent} ({e}); pass a writable --data-dir (data_dir=)") from None
    tmp = Path(tmp_name)
    digest = hashlib.md5(usedforsecurity=False)
    print(f"actlab: downloading {url} -> {dest}", file=sys.stderr, flush=True)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
    except (urllib.error.URLError, OSError, ValueError) as e:
        tmp.unlink(missing_ok=True)
        raise _Unreachable(str(getattr(e, "reason", None) or e)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    got = digest.hexdigest()
    if got != md5:
        tmp.unlink(missing_ok=True)
        raise ActlabError(
            f"download of {url} has md5 {got}, expected {md5}; deleted it - try again later, "
            f"or fetch the file by hand into {dest.parent}"
        )
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    return dest
