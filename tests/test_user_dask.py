"""A user's model file on a Dask cluster: the workers import it by path, as spawned workers do."""

from __future__ import annotations

import os

import pytest

import actlab
from tests.test_user_model import NET


def test_dask_workers_import_the_users_file_by_path(tmp_path):
    distributed = pytest.importorskip("distributed")
    user = tmp_path / "mynet.py"
    user.write_text(NET)
    common = {"dataset": "digits", "limit": 200, "model": f"{user}:build", "model_arg": {"width": 8}}
    common |= {"activations": "relu,tanh", "seeds": 1, "epochs": 1, "batch_size": 16, "threads": 1, "quiet": True}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        result = actlab.compare(out=str(tmp_path / "dask"), dask=c.scheduler_address, **common)
    importers = {int(p) for p in (tmp_path / "imports.txt").read_text().split()}
    assert importers - {os.getpid()}  # the Dask worker imported the file itself, by its path
    runs = result.results["runs"]
    assert [r["activation"] for r in runs] == ["relu", "tanh"] and all("error" not in r for r in runs)
    assert all(r["result"]["test"]["accuracy"] > 0.2 for r in runs)  # 10 classes: chance is 0.1
