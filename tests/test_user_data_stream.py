"""A loader's torch Datasets too big for memory stream: split and standardised like any data set
(the statistics from one streaming pass), trained through a DataLoader batch by batch, never read
into memory whole. The size limit is lowered here so that a few hundred digits count as big."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
import torch

import actlab
from actlab._refs import load_ref
from actlab.data import Split, StreamedSplit, load
from actlab.surrogate.features import BATCH as FEATURES_BATCH

LOADER = textwrap.dedent(
    """\
    import weakref

    import numpy as np
    import torch
    from sklearn.datasets import load_digits


    class Digits(torch.utils.data.Dataset):
        '''Each read makes a new example; counts the reads and the examples alive at once.'''

        reads = alive = most_alive = 0

        def __init__(self, n):
            x, y = load_digits(return_X_y=True)
            self.x, self.y = x[:n].astype(np.float32), y[:n]

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            x = self.x[i].copy()
            Digits.reads += 1
            Digits.alive += 1
            Digits.most_alive = max(Digits.most_alive, Digits.alive)
            weakref.finalize(x, Digits.freed)
            return x, int(self.y[i])

        @staticmethod
        def freed():
            Digits.alive -= 1


    class Images(torch.utils.data.Dataset):
        '''uint8 images (3, 6, 6) of two classes, with their labels as torchvision gives them.'''

        def __init__(self, n, seed):
            rng = np.random.default_rng(seed)
            self.targets = np.arange(n) % 2
            x = rng.normal(size=(n, 3, 6, 6)) * 30 + 100 + 40 * self.targets.reshape(-1, 1, 1, 1)
            self.x = np.clip(x, 0, 255).astype(np.uint8)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return torch.from_numpy(self.x[i]), int(self.targets[i])


    def digits(n=500):
        return Digits(n)


    def images():
        return Images(160, 0), Images(40, 1)
    """
)
BATCH = 16


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """The loaders in ``big.py`` in the current folder; every Dataset counts as too big for memory,
    and the statistics pass reads ``BATCH`` examples at a time."""
    (tmp_path / "big.py").write_text(LOADER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr("actlab.data._user.MAX_MATERIALISED_BYTES", 0)
    monkeypatch.setattr("actlab.data._stream.STATS_BATCH", BATCH)
    return tmp_path


def _in_memory(monkeypatch, spec: str, **options):
    monkeypatch.setattr("actlab.data._user.MAX_MATERIALISED_BYTES", 2**40)
    try:
        return load(spec, **options)
    finally:
        monkeypatch.setattr("actlab.data._user.MAX_MATERIALISED_BYTES", 0)


@pytest.mark.parametrize(
    "spec, options",
    [("big.py:digits", {"train_fraction": 0.5}), ("big.py:images", {"shape": "image32x3"})],
)
def test_a_streamed_set_splits_and_standardises_as_the_same_set_in_memory(folder, monkeypatch, spec, options):
    streamed, held = load(spec, seed=1, **options), _in_memory(monkeypatch, spec, seed=1, **options)
    assert streamed.streamed and not held.streamed and isinstance(streamed.train, StreamedSplit)
    assert isinstance(held.train, Split) and streamed.input_shape == held.input_shape
    assert streamed.info["split_fingerprint"] == held.info["split_fingerprint"]
    mine, numpys = streamed.info["standardisation"], held.info["standardisation"]  # numpy's mean and std
    assert mine["method"] == numpys["method"] and mine["scaled_from"] == numpys["scaled_from"]
    assert np.allclose(mine["mean"], numpys["mean"], rtol=1e-9, atol=1e-9)
    assert np.allclose(mine["std"], numpys["std"], rtol=1e-9, atol=1e-9)
    for s, h in ((streamed.train, held.train), (streamed.val, held.val), (streamed.test, held.test)):
        x, y = zip(*s.batches(BATCH), strict=True)
        assert torch.cat(y).equal(h.y) and torch.allclose(torch.cat(x), h.x, atol=1e-5)
    idx = torch.tensor([3, 0, 7])
    assert torch.allclose(streamed.train.take(idx)[0], held.train.x[idx], atol=1e-5)
    with pytest.raises(actlab.ActlabError, match="streamed from a torch Dataset too big for memory"):
        streamed.train.x  # noqa: B018 (the property is what is tested)


def test_a_streamed_set_trains_batch_by_batch_reproducibly(folder, monkeypatch):
    monkeypatch.setattr("actlab.report.compare.write_report", lambda results, out: out)  # tested elsewhere, ~4 s
    options = {"dataset": "big.py:digits", "activations": "relu,tanh", "seeds": 1, "epochs": 2, "batch_size": BATCH}
    first = actlab.compare(**options, out=folder / "a", quiet=True)
    digits = load_ref("big.py:digits", "data loader").__globals__["Digits"]  # the module imported once
    assert 0 < digits.most_alive <= BATCH < 500  # examples alive at once: a batch at most, never the set
    assert digits.reads > 500  # every example read, more than once
    runs = first.results["runs"]
    assert [r.get("packed", 1) for r in runs] == [1, 1]  # packable MLPs, but streamed: each alone
    assert all(r["result"]["status"] == "finished" and r["result"]["diagnostics"] for r in runs)
    table = first.to_pandas()
    assert (table["test_accuracy"] > 0.5).all()  # 10 classes: chance is 0.1
    again = actlab.compare(**options, out=folder / "b", quiet=True).to_pandas()
    assert again[["test_accuracy", "test_loss"]].equals(table[["test_accuracy", "test_loss"]])


def test_search_and_screen_train_on_a_streamed_set(folder):
    """A search (its surrogate and packs asked for) and a screen on a set too big for memory: the
    surrogate's features read one batch of their own, every training streams batch by batch."""
    common = {"dataset": "big.py:digits", "epochs": 1, "batch_size": BATCH, "threads": 1, "quiet": True}
    search = actlab.search(
        **common,
        layers=2,
        width=8,
        candidates="relu,tanh,elu",
        surrogate=2,
        pack=2,
        trials=2,
        final_seeds=1,
        top_k=1,
        out=folder / "search",
    )
    final = search.results["final"]
    assert search.results["counts"]["complete"] == 2 and len(search.results["space"]["candidates"]) == 2
    assert [c["name"] for c in final["configs"]] == ["baseline", "top-1"]
    assert all(0.3 < c["mean"] <= 1 and c["failed"] == 0 for c in final["configs"])  # 10 classes: chance is 0.1
    screen = actlab.screen(
        **common, candidates="relu,tanh,expr:x*tanh(x)", train_top=1, train_random=0, seeds=1, out=folder / "screen"
    )
    trained = [r for r in screen.results["candidates"] if r["role"]]
    assert len(trained) == 9 and all(r["val_accuracy"] is not None for r in trained)
    assert 0.3 < screen.best["test_accuracy"] <= 1
    digits = load_ref("big.py:digits", "data loader").__globals__["Digits"]
    assert 0 < digits.most_alive <= FEATURES_BATCH < 500  # a training batch or the features' batch, never the set
