"""A loader of the user's as a dataset (``file.py:function``, ``package.module:function``): every
form it may return, split and standardised like the built-in sets, its arguments from the
command line, worker processes that import it by path, and one line for each way it can be wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from actlab import ActlabError
from actlab.api._options import SHARED, Study, add_options, key_value, settle
from actlab.data import available, load
from actlab.execution.units import Unit

REPO = Path(__file__).resolve().parents[1]

LOADERS = textwrap.dedent(
    """\
    import os
    import numpy as np
    import torch

    def blobs(n=200, k=3, seed=0, shape=(4,), log=None):
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\\n")
        rng = np.random.default_rng(seed)
        y = np.arange(n) % k
        x = rng.normal(size=(n, *shape)) + y.reshape(-1, *[1] * len(shape))
        return x, np.array(["cat", "dog", "eel", "fox"])[y]

    def as_tensors():
        x, y = blobs()
        codes = torch.as_tensor(np.searchsorted(["cat", "dog", "eel"], y))
        return torch.as_tensor(x, dtype=torch.float32), codes + 10

    def train_test():
        x, y = blobs(250)
        return (x[:200], y[:200]), (torch.as_tensor(x[200:]), list(y[200:]))

    class Pairs(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            self.x, self.y = blobs(n, seed=seed)

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return torch.as_tensor(self.x[i], dtype=torch.float32), str(self.y[i])

    def three_datasets():
        return Pairs(120, 0), Pairs(30, 1), Pairs(45, 2)

    def one_dataset():
        return Pairs(200, 0)

    def dict_parts():
        return {"train": Pairs(120, 0), "test": (np.ones((9, 4)), [0, 1, 2] * 3)}

    def dict_xy():
        x, y = blobs()
        return {"x": x.tolist(), "y": y}

    def images():
        x, y = blobs(200, 2, shape=(3, 6, 6))
        return np.clip(x * 40 + 128, 0, 255).astype(np.uint8), y

    def signals():
        return blobs(200, 2, shape=(2, 16))
    """
)

HOSTILE = textwrap.dedent(
    """\
    import numpy as np
    import torch

    def raises():
        table = {}
        return table["missing"]

    def wrong_type():
        return "x, y"

    def lengths():
        return np.zeros((10, 3)), np.arange(9) % 2

    def one_class():
        return np.random.default_rng(0).normal(size=(20, 3)), np.zeros(20)

    def words():
        return np.array([["a", "b"]] * 20), np.arange(20) % 2

    def nan():
        x = np.ones((20, 3))
        x[4, 1] = np.nan
        return x, np.arange(20) % 2

    class Huge(torch.utils.data.Dataset):
        reads = 0

        def __init__(self):
            self.targets = np.arange(3000) % 10

        def __len__(self):
            return 3000

        def __getitem__(self, i):
            Huge.reads += 1
            if Huge.reads > 3:
                raise AssertionError("read on past a malformed item")
            return torch.zeros(3, 256 if i == 0 else 255, 256), i % 10

    def huge():
        return Huge()

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.zeros(3), 1 // (i - 7)

    def broken_item():
        return Broken(), Broken()

    def not_pairs():
        return [torch.zeros(3)] * 10

    def dict_keys():
        return {"inputs": 1, "labels": 2}
    """
)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A project folder, the current one, with the loaders in ``data.py`` and ``bad.py``."""
    (tmp_path / "data.py").write_text(LOADERS)
    (tmp_path / "bad.py").write_text(HOSTILE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


# ----------------------------------------------------------------------------------- the forms
def test_x_y_is_split_stratified_and_standardised_with_train_statistics(folder):
    d = load("data.py:blobs", seed=3)
    assert (len(d.train), len(d.val), len(d.test)) == (140, 20, 40)
    assert d.classes == ["cat", "dog", "eel"] and d.n_classes == 3 and d.input_shape == (4,)
    assert "stratified seeded split" in d.info["split"] and d.info["returned"] == "(x, y)"
    assert d.info["standardisation"]["statistics_from"] == "train"
    assert d.info["standardisation"]["method"] == "per-feature"
    assert np.allclose(d.train.x.mean(0).numpy(), 0, atol=1e-5) and not np.allclose(d.test.x.mean(0).numpy(), 0)
    for s in (d.train, d.val, d.test):  # stratified: every class in every split, in proportion
        assert np.bincount(s.y.numpy(), minlength=3).min() >= len(s) // 3 - 1
    again, other = load("data.py:blobs", seed=3), load("data.py:blobs", seed=4)
    assert again.train.x.equal(d.train.x) and not other.train.x.equal(d.train.x)


def test_tensors_and_integer_labels_become_0_to_k_minus_1_with_their_names_kept(folder):
    d = load("data.py:as_tensors")
    assert d.classes == ["10", "11", "12"] and set(d.train.y.tolist()) == {0, 1, 2}


def test_train_test_keeps_the_test_set_and_carves_validation_from_train(folder):
    d = load("data.py:train_test", val_fraction=0.2)
    assert (len(d.train), len(d.val), len(d.test)) == (160, 40, 50)
    assert d.info["official_test"] and "official test set kept" in d.info["split"]
    assert d.info["returned"] == "(train, test)"


def test_train_val_test_datasets_are_kept_as_given(folder):
    d = load("data.py:three_datasets", limit=60)
    assert (len(d.train), len(d.val), len(d.test)) == (60, 15, 22)  # limit caps val and test alike
    full = load("data.py:three_datasets")
    assert (len(full.train), len(full.val), len(full.test)) == (120, 30, 45)
    assert full.info["split"] == "train, validation and test kept as the loader gave them"
    assert full.info["val_fraction"] is None and full.classes == ["cat", "dog", "eel"]


def test_one_dataset_dicts_and_mixed_parts(folder):
    one = load("data.py:one_dataset")
    assert len(one.train) + len(one.val) + len(one.test) == 200 and one.info["returned"] == "Dataset"
    mixed = load("data.py:dict_parts")
    assert len(mixed.test) == 9 and mixed.info["returned"] == "dict train, test"
    listed = load("data.py:dict_xy")
    assert listed.input_shape == (4,) and listed.info["returned"] == "dict x, y"


def test_images_and_signals_are_standardised_per_channel(folder):
    img = load("data.py:images")
    assert img.input_shape == (3, 6, 6) and img.info["standardisation"]["scaled_from"] == [0.0, 255.0]
    assert img.info["standardisation"]["method"] == "per-channel"
    assert load("data.py:images", shape="image32x3").input_shape == (3, 32, 32)
    sig = load("data.py:signals")
    assert sig.input_shape == (2, 16) and len(sig.info["standardisation"]["mean"]) == 2


def test_a_loader_in_a_package_with_its_arguments(folder, monkeypatch):
    pkg = folder / "userdata_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sets.py").write_text("from data import blobs\n\ndef load(n, k=2):\n    return blobs(n, k)\n")
    monkeypatch.delitem(sys.modules, "userdata_pkg", raising=False)
    try:
        d = load("userdata_pkg.sets:load", data_args={"n": 100, "k": 4})
        assert d.n_classes == 4 and len(d.train) + len(d.val) + len(d.test) == 100
        assert d.info["loader"] == "userdata_pkg.sets:load" and d.info["data_args"] == {"n": 100, "k": 4}
    finally:
        for name in [m for m in sys.modules if m.startswith("userdata_pkg")]:
            del sys.modules[name]


def test_available_says_whether_a_loader_file_exists(folder):
    assert available("data.py:blobs") and not available("missing.py:blobs") and available("some.module:load")


# ------------------------------------------------------------------------------ --data-arg, keys
def test_data_arg_values_are_literals_else_text():
    assert key_value("n=500") == ("n", 500)
    assert key_value("shape=(2, 8)") == ("shape", [2, 8])
    assert key_value("name=train set") == ("name", "train set")
    assert key_value("flag=True") == ("flag", True)
    for bad in ("n", "=3", "1x=3", "s={1, 2}"):
        with pytest.raises(Exception, match="KEY=VALUE|use numbers"):
            key_value(bad)


def test_data_args_reach_data_options_and_the_units_key_only_when_given():
    import argparse

    from actlab.studies.compare.config import CompareConfig

    study = Study("compare", CompareConfig, SHARED, without=("dask", "dask_timeout", "force", "quiet"))
    parser = argparse.ArgumentParser()
    add_options(parser, study)
    plain = settle(study, parser.parse_args(["--dataset", "data.py:blobs"]))
    assert "data_args" not in plain["data_options"]
    typed = settle(study, parser.parse_args(["--data-arg", "n=300", "--data-arg", "k=2", "--data-arg", "n=400"]))
    assert typed["data_options"]["data_args"] == {"n": 400, "k": 2}

    def key(options):
        return Unit("u", "relu", "data.py:blobs", "mlp", {"seed": 0}, data_options=options).key()

    assert key({"data_args": {"n": 300}}) != key({"data_args": {"n": 400}}) != key({})
    assert key({"data_args": {"n": 300}, "data_dir": "/elsewhere"}) == key({"data_args": {"n": 300}})


# ------------------------------------------------------------------------------------- hostile
@pytest.mark.parametrize(
    "spec, message",
    [
        ("bad.py:raises", r"the data loader bad\.py:raises failed: KeyError: 'missing' \(.*bad\.py:6\)"),
        ("bad.py:wrong_type", r"bad\.py:wrong_type \(.*bad\.py:8\) returned a str; return \(x, y\)"),
        ("bad.py:lengths", r"bad\.py:lengths .*: x/y need one label per example, got x \(10, 3\) and y \(9,\)"),
        ("bad.py:one_class", r"bad\.py:one_class has only one class \(0\)"),
        ("bad.py:words", r"bad\.py:words .*: x must be a numeric array"),
        ("bad.py:nan", r"bad\.py:nan .*: x has nan/inf values; fill them in or drop those examples"),
        (
            "bad.py:huge",
            r"bad\.py:huge .*: item \d+ has x of shape \(3, 255, 256\) but item 0 of shape \(3, 256, 256\)",
        ),
        ("bad.py:broken_item", r"the data set bad\.py:Broken\.__getitem__ failed: ZeroDivisionError.*bad\.py:48"),
        ("bad.py:not_pairs", r"item 0 of the list|returned a list of 10"),
        ("bad.py:dict_keys", r"returned a dict with keys .*; return \(x, y\)"),
        ("bad.py:nothing", r"bad\.py has no 'nothing'"),
        ("no_such_module:load", r"no module named 'no_such_module' for the data loader"),
    ],
)
def test_each_mistake_is_one_line_naming_the_users_code(folder, spec, message):
    with pytest.raises(ActlabError, match=message) as e:
        load(spec)
    assert "\n" not in str(e.value)


def test_options_that_do_not_fit_a_loader_are_refused(folder):
    with pytest.raises(ActlabError, match="data_args are for a loader of yours"):
        load("iris", data_args={"n": 3})
    with pytest.raises(ActlabError, match="target= is for csv files; the loader data.py:blobs"):
        load("data.py:blobs", target="label")
    with pytest.raises(ActlabError, match="the data loader data.py:blobs failed: TypeError"):
        load("data.py:blobs", data_args={"colour": 3})


# --------------------------------------------------------------------------- the command line
def _cli(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ACTLAB_DATA": str(folder / "cache")}
    return subprocess.run(
        [sys.executable, "-m", "actlab.cli", *argv], cwd=folder, env=env, capture_output=True, text=True, timeout=300
    )


def test_compare_on_a_loader_in_worker_processes_that_import_it_by_path(folder):
    log = folder / "pids.txt"
    p = _cli(
        *(folder, "compare", "--dataset", "data.py:blobs", "--data-arg", "n=200", "--data-arg", f"log={str(log)!r}"),
        *("--activations", "relu,tanh", "--seeds", "2", "--epochs", "1", "--batch-size", "16"),
        *("--workers", "2", "--pack", "1", "--out", "out", "--quiet"),
    )
    assert p.returncode == 0, p.stderr
    results = json.loads((folder / "out" / "results.json").read_text())
    assert results["config"]["data_options"]["data_args"] == {"n": 200, "log": str(log)}
    assert len(results["runs"]) == 4 and all(r["result"]["status"] == "finished" for r in results["runs"])
    pids = set(log.read_text().split())
    assert len(pids) >= 2 and str(os.getpid()) not in pids  # the command loaded it, and worker processes again


def test_a_failing_loader_and_a_bad_data_arg_are_one_line_on_the_command_line(folder):
    p = _cli(folder, "compare", "--dataset", "bad.py:raises", "--epochs", "1", "--out", "o1")
    assert p.returncode == 2 and p.stderr.count("\n") == 1, p.stderr
    assert (
        p.stderr.startswith("actlab: error: the data loader bad.py:raises failed: KeyError") and "bad.py:6" in p.stderr
    )
    p = _cli(folder, "compare", "--dataset", "data.py:blobs", "--data-arg", "n", "--out", "o2")
    assert p.returncode == 2 and "is not KEY=VALUE" in p.stderr and "Traceback" not in p.stderr
