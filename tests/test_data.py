"""actlab.data: every loader on small files written in the real formats, splits, standardisation,
shapes, downloads from a local HTTP server, the restricted unpickler, and one-line errors."""

from __future__ import annotations

import bz2
import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import random
import socket
import struct
import sys
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import actlab.data as data
from actlab import ActlabError
from actlab.data import _fetch, _sources
from actlab.data._formats import read_idx, restricted_load
from actlab.data._split import stratified_pick
from tests.conftest import require_real


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path / "actlab-cache"))


def one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg and type(excinfo.value) is ActlabError
    return msg


# ------------------------------------------------------------------------ writing real formats


def idx_bytes(a: np.ndarray, type_code: int = 0x08, dtype: str = ">u1") -> bytes:
    header = bytes([0, 0, type_code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + a.astype(dtype).tobytes()


def write_idx(path: Path, a: np.ndarray, gz: bool = True) -> None:
    raw = idx_bytes(a)
    path.write_bytes(gzip.compress(raw) if gz else raw)


def fake_images(n: int, hw: int, seed: int, id_offset: int = 0):
    """uint8 images whose first two pixels encode a unique id; labels balanced 0..9, shuffled."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, hw, hw), dtype=np.uint8)
    ids = np.arange(n) + id_offset
    x[:, 0, 0], x[:, 0, 1] = ids // 256, ids % 256
    y = rng.permutation(np.arange(n) % 10).astype(np.uint8)
    return x, y


def write_idx_set(folder: Path, n_train=200, n_test=50, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    x, y = fake_images(n_train, 28, 1)
    xt, yt = fake_images(n_test, 28, 2, id_offset=n_train)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", x, gz)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", y, gz)
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", xt, gz)
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", yt, gz)
    return x, y, xt, yt


def recover_ids(ds, split) -> np.ndarray:
    """Undo the standardisation of a 1x28x28 split and read the id pixels back."""
    st = ds.info["standardisation"]
    x = getattr(ds, split).x[:, 0].numpy().astype(np.float64) * st["std"][0] + st["mean"][0]
    pix = np.rint(x * 255).astype(np.int64)
    return pix[:, 0, 0] * 256 + pix[:, 0, 1]


def write_usps(path: Path, x: np.ndarray, labels: np.ndarray) -> None:
    """libsvm text as on the LIBSVM site: 'label index:value ...', zero values left out, bzip2."""
    lines = []
    for row, lab in zip(x, labels, strict=True):
        items = " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(row) if v != 0)
        lines.append(f"{lab} {items}")
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


class Py2Pickler(pickle._Pickler):
    """Writes pickles the way Python 2's cPickle wrote CIFAR-10 (protocol 2): str as BINSTRING,
    arrays through numpy.core.multiarray._reconstruct."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str

    def save_global(self, obj, name=None):
        module = {"numpy._core.multiarray": "numpy.core.multiarray"}.get(obj.__module__, obj.__module__)
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode())
        self.memoize(obj)


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(folder: Path, per_batch=20, n_test=30, dumps=py2_pickle):
    """cifar-10-batches-py/: data_batch_1..5, test_batch, batches.meta, pickled like the original."""
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True)
    rng = np.random.default_rng(5)
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        n = n_test if name == "test_batch" else per_batch
        x = rng.integers(0, 64, (n, 3072), dtype=np.uint8)
        x[:, :1024] += 190  # red plane bright, green dark, blue middling: checks the channel layout
        x[:, 2048:] += 100
        labels = [int(v) for v in rng.permutation(np.arange(n) % 10)]
        (d / name).write_bytes(
            dumps(
                {
                    "batch_label": f"batch {i}",
                    "labels": labels,
                    "data": x,
                    "filenames": [f"img_{i}_{j}.png" for j in range(n)],
                }
            )
        )
    (d / "batches.meta").write_bytes(
        dumps({"label_names": CIFAR_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072})
    )
    return d


# -------------------------------------------------------------------------------- IDX reader


def test_idx_reader_reads_every_type_gz_or_plain_and_rejects_bad_files(tmp_path):
    a = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 7
    (tmp_path / "a.idx").write_bytes(idx_bytes(a, 0x0B, ">i2"))
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(idx_bytes(a, 0x0B, ">i2")))
    for p in ("a.idx", "a.idx.gz"):
        got = read_idx(tmp_path / p)
        assert got.dtype == np.int16 and got.shape == (2, 3, 4) and (got == a).all()
    (tmp_path / "bad").write_bytes(b"\x00\x01\x08\x01" + b"\x00" * 8)
    with pytest.raises(ActlabError) as e:
        read_idx(tmp_path / "bad")
    assert "bad magic" in one_line_error(e)
    (tmp_path / "short").write_bytes(idx_bytes(a.astype(np.uint8))[:-3])
    with pytest.raises(ActlabError) as e:
        read_idx(tmp_path / "short")
    assert "header" in one_line_error(e)
    (tmp_path / "broken.gz").write_bytes(gzip.compress(idx_bytes(a.astype(np.uint8)))[:-10])
    with pytest.raises(ActlabError):
        read_idx(tmp_path / "broken.gz")


# ---------------------------------------------------------------------------- IDX data sets


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "kmnist"])
def test_idx_sets_keep_official_test_and_carve_stratified_validation(tmp_path, name):
    x, y, xt, yt = write_idx_set(tmp_path / "files" / name, n_train=200, n_test=50, gz=name != "kmnist")
    ds = data.load(name, data_dir=tmp_path / "files", download=False)
    assert ds.input_shape == (1, 28, 28) and ds.n_classes == 10 and len(ds.classes) == 10
    assert ds.info["folder"] == str(tmp_path / "files" / name)
    for s in (ds.train, ds.val, ds.test):
        assert s.x.dtype == torch.float32 and s.y.dtype == torch.int64 and s.x.shape[1:] == (1, 28, 28)
        assert int(s.y.min()) >= 0 and int(s.y.max()) <= 9
    assert (len(ds.train), len(ds.val), len(ds.test)) == (180, 20, 50)
    assert ds.info["official_test"] and ds.info["sizes"] == {"train": 180, "val": 20, "test": 50}
    # every example is identified by its id pixels: disjoint splits, official test = whole test file
    tr, va, te = recover_ids(ds, "train"), recover_ids(ds, "val"), recover_ids(ds, "test")
    assert set(tr).isdisjoint(va) and sorted([*tr, *va]) == list(range(200)) and sorted(te) == list(range(200, 250))
    assert (ds.train.y.numpy() == y[tr]).all() and (ds.test.y.numpy() == yt[te - 200]).all()
    assert np.bincount(ds.val.y.numpy(), minlength=10).tolist() == [2] * 10  # stratified 10 %
    # standardised with the training split's statistics only
    m = (x[tr] / 255.0).mean()
    assert ds.info["standardisation"]["mean"][0] == pytest.approx(m, rel=1e-6)
    assert float(ds.train.x.mean()) == pytest.approx(0, abs=1e-5) and float(ds.train.x.std()) == pytest.approx(
        1, abs=1e-3
    )
    expected_test = (xt[te - 200][:, None] / 255.0 - m) / ds.info["standardisation"]["std"][0]
    assert np.allclose(ds.test.x.numpy(), expected_test, atol=1e-5)


def test_same_seed_same_tensors_other_seed_other_split(tmp_path):
    write_idx_set(tmp_path / "mnist")
    a = data.load("mnist", data_dir=tmp_path, download=False, seed=3)
    b = data.load("mnist", data_dir=tmp_path, download=False, seed=3)
    c = data.load("mnist", data_dir=tmp_path, download=False, seed=4)
    for s in ("train", "val", "test"):
        assert torch.equal(getattr(a, s).x, getattr(b, s).x) and torch.equal(getattr(a, s).y, getattr(b, s).y)
    assert set(recover_ids(a, "val")) != set(recover_ids(c, "val"))
    assert a.info["split_fingerprint"] == b.info["split_fingerprint"] != c.info["split_fingerprint"]


def test_limit_subsamples_train_stratified_and_caps_val_and_test(tmp_path):
    write_idx_set(tmp_path / "mnist", n_train=400, n_test=100)
    ds = data.load("mnist", data_dir=tmp_path, download=False, limit=90)
    assert len(ds.train) == 90 and len(ds.val) == round(40 * 90 / 360) and len(ds.test) == round(100 * 90 / 360)
    assert np.bincount(ds.train.y.numpy(), minlength=10).tolist() == [9] * 10
    assert ds.info["sizes_before_limit"] == {"train": 360, "val": 40, "test": 100}
    assert set(recover_ids(ds, "train")).isdisjoint(recover_ids(ds, "val"))
    assert float(ds.train.x.mean()) == pytest.approx(0, abs=1e-5)  # statistics of the limited train split


def test_image32x3_pads_28x28_and_repeats_channels(tmp_path):
    write_idx_set(tmp_path / "kmnist")
    auto = data.load("kmnist", data_dir=tmp_path, download=False)
    big = data.load("kmnist", data_dir=tmp_path, download=False, shape="image32x3")
    flat = data.load("kmnist", data_dir=tmp_path, download=False, shape="flat")
    assert big.input_shape == (3, 32, 32) and flat.input_shape == (784,)
    x = big.train.x
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    # undo both standardisations: the centre is the original image, the 2-pixel border is black (0)
    s_auto, s_big = auto.info["standardisation"], big.info["standardisation"]
    orig = auto.train.x[:, 0] * s_auto["std"][0] + s_auto["mean"][0]
    unit = x[:, 0] * s_big["std"][0] + s_big["mean"][0]
    assert torch.allclose(unit[:, 2:30, 2:30], orig, atol=1e-5)
    assert unit[:, :2].abs().max() < 1e-5 and unit[:, :, 30:].abs().max() < 1e-5
    assert torch.allclose(flat.train.x, auto.train.x.flatten(1))


# ------------------------------------------------------------------------------------- USPS


def test_usps_reads_bz2_libsvm_maps_labels_and_resizes_to_28(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "usps"
    folder.mkdir()
    xs = {}
    for fname, n in (("usps.bz2", 120), ("usps.t.bz2", 40)):
        x = np.round(rng.uniform(-1, 1, (n, 256)), 6)
        x[:, :16] = -1.0
        x[:, 16] = 0.0  # zeros are left out of the sparse lines
        labels = rng.permutation(np.arange(n) % 10) + 1
        write_usps(folder / fname, x, labels)
        xs[fname] = (x, labels)
    ds = data.load("usps", data_dir=tmp_path, download=False)
    assert ds.input_shape == (1, 16, 16) and ds.n_classes == 10 and ds.info["official_test"]
    assert (len(ds.train), len(ds.val), len(ds.test)) == (108, 12, 40)
    assert sorted(ds.test.y.tolist()) == sorted((xs["usps.t.bz2"][1] - 1).tolist())
    st = ds.info["standardisation"]
    unit = ds.test.x.double() * st["std"][0] + st["mean"][0]
    assert unit.min() >= -1e-6 and unit.max() <= 1 + 1e-6  # [-1, 1] scaled to [0, 1]
    assert torch.allclose(unit[:, 0, 0], torch.zeros(40, 16, dtype=torch.float64), atol=1e-6)  # first row was -1
    assert torch.allclose(unit[:, 0, 1, 0], torch.full((40,), 0.5, dtype=torch.float64), atol=1e-6)
    # the test split is the test file, row for row (in a seeded order), each with its label - 1
    file_x, file_y = xs["usps.t.bz2"]
    dist = torch.cdist(unit.flatten(1), torch.from_numpy((file_x + 1) / 2))
    match = dist.argmin(1).numpy()
    assert float(dist.min(1).values.max()) < 1e-4 and sorted(match) == list(range(40))
    assert (ds.test.y.numpy() == file_y[match] - 1).all()
    big = data.load("usps", data_dir=tmp_path, download=False, shape="image28")
    assert big.input_shape == (1, 28, 28)
    up = F.interpolate(unit.float(), size=(28, 28), mode="bilinear", align_corners=False)
    sb = big.info["standardisation"]
    assert torch.allclose(big.test.x, (up - sb["mean"][0]) / sb["std"][0], atol=1e-4)
    assert data.load("usps", data_dir=tmp_path, download=False, shape="image32x3").input_shape == (3, 32, 32)


# ------------------------------------------------------------------------------------ CIFAR-10


def test_cifar10_from_python2_style_batches_and_from_the_tarball(tmp_path):
    d = write_cifar(tmp_path / "unpacked")
    ds = data.load("cifar10", data_dir=tmp_path / "unpacked", download=False, seed=1)
    assert ds.input_shape == (3, 32, 32) and ds.classes == CIFAR_NAMES and ds.info["official_test"]
    assert (len(ds.train), len(ds.val), len(ds.test)) == (90, 10, 30)
    mean = ds.info["standardisation"]["mean"]
    assert len(mean) == 3 and mean[0] > mean[2] > mean[1]  # R, G, B planes in CIFAR's row layout
    assert torch.allclose(ds.train.x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(d, arcname="cifar-10-batches-py")
    (tmp_path / "tarball").mkdir()
    os.replace(tmp_path / "cifar-10-python.tar.gz", tmp_path / "tarball" / "cifar-10-python.tar.gz")
    from_tar = data.load("cifar10", data_dir=tmp_path / "tarball", download=False, seed=1)
    assert from_tar.info["source"][0].endswith("cifar-10-python.tar.gz")
    for s in ("train", "val", "test"):
        assert torch.equal(getattr(ds, s).x, getattr(from_tar, s).x) and torch.equal(
            getattr(ds, s).y, getattr(from_tar, s).y
        )
    with pytest.raises(ActlabError) as e:
        data.load("cifar10", data_dir=tmp_path / "tarball", download=False, shape="image28")
    assert "grayscale" in one_line_error(e)


def test_cifar10_pickled_by_python3_protocol2_also_loads(tmp_path):
    write_cifar(
        tmp_path,
        dumps=lambda obj: pickle.dumps(
            {k.encode(): (v.encode() if isinstance(v, str) else v) for k, v in obj.items()}, protocol=2
        ),
    )
    assert b"_codecs" in (tmp_path / "cifar-10-batches-py" / "data_batch_1").read_bytes()
    ds = data.load("cifar10", data_dir=tmp_path, download=False)
    assert len(ds.test) == 30 and ds.classes == CIFAR_NAMES


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_os_system_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    d = write_cifar(tmp_path / "c")
    (d / "data_batch_3").write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": []}, protocol=2))
    with pytest.raises(ActlabError) as e:
        data.load("cifar10", data_dir=tmp_path / "c", download=False)
    msg = one_line_error(e)
    assert "refusing to unpickle" in msg and "system" in msg and "data_batch_3" in msg
    assert not marker.exists()
    with pytest.raises(ActlabError):
        restricted_load(pickle.dumps(_Evil(marker), protocol=4), "evil")
    assert not marker.exists()
    pickle.loads((d / "data_batch_3").read_bytes())  # the file is really armed: plain pickle runs it
    assert marker.exists()
    sneaky = pickle.dumps(b"x", protocol=2).replace(b"latin1", b"base64")  # _codecs.encode with another codec
    with pytest.raises(ActlabError, match="latin1"):
        restricted_load(sneaky, "sneaky")


# ------------------------------------------------------------------------------------- mnist1d


def test_mnist1d_is_read_from_its_cache_without_importing_the_generator(tmp_path, monkeypatch):
    """mnist1d's import loads matplotlib (most of a worker's start on this data set): a cached copy
    is found and read without it, and a copy made by another version of the package is not used."""
    ds = data.load("mnist1d", data_dir=tmp_path, limit=200)
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)  # importing it now fails
    again = data.load("mnist1d", data_dir=tmp_path, limit=200)
    assert again.info["cache_status"] == "cache" and torch.equal(again.train.x, ds.train.x)
    monkeypatch.setattr(_sources, "_version", lambda package: "0.0.0-other")
    with pytest.raises(ImportError):
        data.load("mnist1d", data_dir=tmp_path, limit=200)  # another cache file: generated again


def test_mnist1d_is_generated_locally_cached_and_leaves_global_rng_alone(tmp_path):
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    ds = data.load("mnist1d", data_dir=tmp_path / "d", limit=500)
    assert (np.random.random(), random.random()) == before
    assert ds.input_shape == (1, 40) and ds.n_classes == 10 and ds.info["official_test"]
    assert ds.info["sizes_before_limit"] == {"train": 3600, "val": 400, "test": 1000}
    assert len(ds.train) == 500 and sorted(set(ds.train.y.tolist())) == list(range(10))
    assert ds.info["generator_args"]["num_samples"] == 5000 and ds.info["generator_args"]["final_seq_length"] == 40
    cache = Path(ds.info["cache"])
    assert cache.parent == tmp_path / "d" / "mnist1d" and cache.exists() and ds.info["cache_status"] == "generated"
    again = data.load("mnist1d", data_dir=tmp_path / "d", limit=500)
    assert again.info["cache_status"] == "cache" and torch.equal(again.train.x, ds.train.x)
    assert again.info["generator_args"] == ds.info["generator_args"]
    flat = data.load("mnist1d", data_dir=tmp_path / "d", limit=500, shape="flat")
    assert flat.input_shape == (40,)
    with pytest.raises(ActlabError) as e:
        data.load("mnist1d", data_dir=tmp_path / "d", shape="image28")
    assert "image" in one_line_error(e)


# ------------------------------------------------------------------------------- scikit-learn


@pytest.mark.parametrize(
    "name,n,d,k", [("iris", 150, 4, 3), ("wine", 178, 13, 3), ("breast_cancer", 569, 30, 2), ("digits", 1797, 64, 10)]
)
def test_sklearn_sets_split_three_ways_stratified(name, n, d, k):
    ds = data.load(name, seed=2)
    assert ds.input_shape == (d,) and ds.n_classes == k and len(ds.classes) == k and not ds.info["official_test"]
    assert len(ds.test) == round(0.2 * n) and len(ds.val) == round(0.1 * n)
    assert len(ds.train) + len(ds.val) + len(ds.test) == n
    full = np.bincount(np.concatenate([s.y.numpy() for s in (ds.train, ds.val, ds.test)]), minlength=k)
    test_counts = np.bincount(ds.test.y.numpy(), minlength=k)
    assert np.abs(test_counts - 0.2 * full).max() <= 1
    assert torch.allclose(ds.train.x.mean(0), torch.zeros(d), atol=1e-4)  # per feature, train statistics
    assert len(ds.info["standardisation"]["mean"]) == d


def test_digits_can_be_read_as_images():
    ds = data.load("digits", shape="image28", limit=200)
    assert ds.input_shape == (1, 28, 28) and ds.info["standardisation"]["method"] == "per-channel"
    assert data.load("digits", shape="image32x3", limit=50).input_shape == (3, 32, 32)


# ------------------------------------------------------------------------------- csv and npz


def write_csv(path: Path, n=100, label_kind="str", rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    labels = {"str": ["setosa", "virginica", "versicolor", "zebra"], "int": ["10", "2", "7", "1"]}[label_kind]
    rows = ["id,width,height,species"]
    for i in range(n):
        rows.append(f"{i},{rng.normal(5, 2):.5f},{rng.normal(-3, 0.5):.5f},{labels[i % 4]}")
    path.write_text("\n".join(rows) + "\n")


def test_csv_with_string_and_integer_labels(tmp_path):
    write_csv(tmp_path / "s.csv", label_kind="str")
    ds = data.load(f"csv:{tmp_path / 's.csv'}", target="species", seed=1)
    assert ds.classes == ["setosa", "versicolor", "virginica", "zebra"] and ds.input_shape == (3,)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (70, 10, 20)
    st = ds.info["standardisation"]
    ids = np.rint(ds.train.x[:, 0].double().numpy() * st["std"][0] + st["mean"][0]).astype(int)
    val_ids = np.rint(ds.val.x[:, 0].double().numpy() * st["std"][0] + st["mean"][0]).astype(int)
    test_ids = np.rint(ds.test.x[:, 0].double().numpy() * st["std"][0] + st["mean"][0]).astype(int)
    assert sorted([*ids, *val_ids, *test_ids]) == list(range(100))
    names = ["setosa", "virginica", "versicolor", "zebra"]
    assert all(ds.classes[c] == names[i % 4] for i, c in zip(test_ids, ds.test.y.tolist(), strict=True))
    assert st["mean"][0] == pytest.approx(ids.mean()) and st["method"] == "per-feature"
    write_csv(tmp_path / "i.csv", label_kind="int")
    di = data.load(str(tmp_path / "i.csv"), target="species")
    assert di.classes == ["1", "2", "7", "10"] and di.name == str(tmp_path / "i.csv")


def test_csv_errors_are_one_line(tmp_path):
    write_csv(tmp_path / "s.csv")
    with pytest.raises(ActlabError) as e:
        data.load(f"csv:{tmp_path / 's.csv'}", target="label")
    assert "id, width, height, species" in one_line_error(e)
    with pytest.raises(ActlabError) as e:
        data.load(f"csv:{tmp_path / 's.csv'}")
    assert "target" in one_line_error(e) and "species" in str(e.value)
    (tmp_path / "t.csv").write_text("a,colour,y\n1,red,0\n2,blue,1\n3,red,0\n")
    with pytest.raises(ActlabError) as e:
        data.load(f"csv:{tmp_path / 't.csv'}", target="y")
    assert "'colour'" in one_line_error(e) and "not numeric" in str(e.value)
    with pytest.raises(ActlabError) as e:
        data.load(f"csv:{tmp_path / 'nope.csv'}", target="y")
    assert "does not exist" in one_line_error(e)


def test_npz_with_official_test_uses_train_statistics_only(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 5))
    xt = rng.normal(0, 1, (60, 5)) + 100.0  # shifted test set: must stay shifted
    y, yt = np.arange(200) % 4, np.arange(60) % 4
    np.savez(tmp_path / "a.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    ds = data.load(f"npz:{tmp_path / 'a.npz'}")
    assert ds.info["official_test"] and len(ds.test) == 60 and (len(ds.train), len(ds.val)) == (180, 20)
    st = ds.info["standardisation"]
    assert float(ds.test.x.mean()) > 50
    expected = (xt - np.array(st["mean"])) / np.array(st["std"])
    assert np.allclose(np.sort(ds.test.x.numpy(), 0), np.sort(expected, 0), atol=1e-4)
    assert torch.allclose(ds.train.x.mean(0), torch.zeros(5), atol=1e-5)


def test_npz_x_y_images_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "img.npz", x=rng.integers(0, 256, (100, 1, 12, 12), dtype=np.uint8), y=np.array(["cat", "dog"] * 50)
    )
    ds = data.load(f"npz:{tmp_path / 'img.npz'}", seed=5)
    assert ds.input_shape == (1, 12, 12) and ds.classes == ["cat", "dog"] and not ds.info["official_test"]
    assert (len(ds.train), len(ds.val), len(ds.test)) == (70, 10, 20)
    assert ds.info["standardisation"]["method"] == "per-channel" and ds.info["standardisation"]["scaled_from"] == [
        0,
        255,
    ]
    assert data.load(f"npz:{tmp_path / 'img.npz'}", shape="image32x3").input_shape == (3, 32, 32)
    np.savez(tmp_path / "bad.npz", features=np.zeros((4, 2)), labels=np.zeros(4))
    with pytest.raises(ActlabError) as e:
        data.load(f"npz:{tmp_path / 'bad.npz'}")
    assert "features, labels" in one_line_error(e) and "x and y" in str(e.value)
    np.savez(tmp_path / "obj.npz", x=np.zeros((4, 2)), y=np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(ActlabError) as e:
        data.load(f"npz:{tmp_path / 'obj.npz'}")
    assert "object arrays" in one_line_error(e)
    (tmp_path / "fake.npz").write_text("hello")
    with pytest.raises(ActlabError) as e:
        data.load(f"npz:{tmp_path / 'fake.npz'}")
    assert "not an .npz" in one_line_error(e)


# ------------------------------------------------------------------------------------ downloads


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_root(tmp_path):
    """Serve tmp_path/'www' on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/kmnist/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _serve_kmnist(root: Path, base: str, monkeypatch, corrupt: str | None = None):
    write_idx_set(root / "kmnist", n_train=100, n_test=30)
    table = []
    for r in _fetch.SOURCES["kmnist"]:
        md5 = hashlib.md5((root / "kmnist" / r.filename).read_bytes()).hexdigest()
        table.append(
            _fetch.Resource(r.filename, base + r.filename, "0" * 32 if r.filename == corrupt else md5, r.local)
        )
    monkeypatch.setitem(_fetch.SOURCES, "kmnist", table)


def test_download_verifies_md5_and_places_files(tmp_path, http_root, monkeypatch):
    root, base = http_root
    _serve_kmnist(root, base, monkeypatch)
    ds = data.load("kmnist", data_dir=tmp_path / "dl", download=True, limit=40)
    target = tmp_path / "dl" / "kmnist"
    assert sorted(p.name for p in target.iterdir()) == sorted(r.filename for r in _fetch.SOURCES["kmnist"])
    assert ds.info["folder"] == str(target) and len(ds.info["downloaded"]) == 4 and len(ds.train) == 40
    for r in _fetch.SOURCES["kmnist"]:
        assert (target / r.filename).read_bytes() == (root / "kmnist" / r.filename).read_bytes()
    # now present: a second load neither downloads nor needs the server
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("network touched"))
    assert data.load("kmnist", data_dir=tmp_path / "dl", download=True).info["downloaded"] == []
    assert data.available("kmnist", data_dir=tmp_path / "dl") and not data.available("kmnist", data_dir=tmp_path / "x")


def test_download_with_bad_checksum_leaves_nothing(tmp_path, http_root, monkeypatch):
    root, base = http_root
    _serve_kmnist(root, base, monkeypatch, corrupt="train-images-idx3-ubyte.gz")
    with pytest.raises(ActlabError) as e:
        data.load("kmnist", data_dir=tmp_path / "dl", download=True)
    msg = one_line_error(e)
    assert "md5" in msg and "train-images-idx3-ubyte.gz" in msg
    target = tmp_path / "dl" / "kmnist"
    assert not target.exists() or list(target.iterdir()) == []


def test_unreachable_or_forbidden_download_says_how_to_get_the_files(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    table = [
        _fetch.Resource(r.filename, f"http://127.0.0.1:{port}/{r.filename}", r.md5, r.local)
        for r in _fetch.SOURCES["mnist"]
    ]
    monkeypatch.setitem(_fetch.SOURCES, "mnist", table)
    with pytest.raises(ActlabError) as e:
        data.load("mnist", data_dir=tmp_path / "dl")
    msg = one_line_error(e)
    assert "could not download" in msg and f"127.0.0.1:{port}" in msg and "--data-dir" in msg
    assert "train-labels-idx1-ubyte.gz" in msg and str(tmp_path / "dl" / "mnist") in msg
    assert not any((tmp_path / "dl" / "mnist").glob("*"))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("download=False touched the network"))
    with pytest.raises(ActlabError) as e:
        data.load("usps", data_dir=tmp_path / "dl", download=False)
    msg = one_line_error(e)
    assert "usps.bz2, usps.t.bz2" in msg and "looked in" in msg and "csie.ntu.edu.tw" in msg


def test_fashion_mnist_missing_message_mentions_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "debian_dirs", lambda name: [tmp_path / "no-debian"])
    with pytest.raises(ActlabError) as e:
        data.load("fashion-mnist", data_dir=tmp_path / "d", download=False)
    assert "apt-get install dataset-fashion-mnist" in one_line_error(e)


# --------------------------------------------------------------------- Fashion-MNIST (Debian)


def test_fashion_mnist_from_the_debian_package():
    dirs = _fetch.debian_dirs("fashion-mnist")
    have = any(all(_fetch._find_in(d, r) for r in _fetch.SOURCES["fashion-mnist"]) for d in dirs)
    require_real(have, "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    ds = data.load("fashion-mnist", limit=1000, download=False)
    assert Path(ds.info["folder"]) in dirs
    assert ds.n_classes == 10 and ds.input_shape == (1, 28, 28) and ds.classes[9] == "Ankle boot"
    assert ds.info["official_test"] and ds.info["sizes_before_limit"] == {"train": 54000, "val": 6000, "test": 10000}
    assert len(ds.train) == 1000 and len(ds.test) == round(10000 * 1000 / 54000)
    assert np.bincount(ds.train.y.numpy(), minlength=10).tolist() == [100] * 10
    big = data.load("fashion-mnist", limit=200, download=False, shape="image32x3")
    assert big.input_shape == (3, 32, 32) and tuple(big.train.x.shape) == (200, 3, 32, 32)


# ---------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,expect",
    [
        (lambda: data.load("fashion_mnst"), "did you mean 'fashion-mnist'"),
        (lambda: data.load("imagenet"), "choose one of: mnist1d"),
        (lambda: data.load("iris", shape="square"), "unknown shape 'square'"),
        (lambda: data.load("iris", shape="image28"), "needs an image data set"),
        (lambda: data.load("iris", target="species"), "target= is for csv"),
        (lambda: data.load("iris", limit=0), "limit"),
        (lambda: data.load("iris", val_fraction=1.5), "val_fraction"),
        (lambda: data.load("iris", val_fraction=0.5, test_fraction=0.5), "below 1"),
        (lambda: data.load("iris", seed=-1), "seed"),
        (lambda: data.load("csv:"), "needs a path"),
        (lambda: data.available("nosuch"), "unknown dataset"),
    ],
)
def test_user_errors_are_one_line(call, expect):
    with pytest.raises(ActlabError) as e:
        call()
    assert expect in one_line_error(e)


def test_names_available_and_aliases():
    assert data.names() == [
        "mnist1d",
        "iris",
        "wine",
        "breast_cancer",
        "digits",
        "mnist",
        "fashion-mnist",
        "kmnist",
        "usps",
        "cifar10",
    ]
    assert data.available("iris") and data.available("mnist1d") and data.available("breast-cancer")
    assert not data.available("cifar10")  # ACTLAB_DATA points at an empty folder
    assert data.load("Breast-Cancer", limit=50).name == "breast_cancer"


def test_stratified_pick_keeps_one_of_every_class_in_the_rest():
    rng = np.random.default_rng(0)
    y = np.array([0] * 50 + [1] * 3 + [2])
    picked, rest = stratified_pick(y, 30, rng, keep_one=True)
    assert len(picked) == 30 and set(y[rest]) == {0, 1, 2} and set(picked).isdisjoint(rest)
    assert sorted([*picked, *rest]) == list(range(len(y)))
