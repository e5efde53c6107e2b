"""A run of a user's model builder or data loader is keyed by its file's contents and the user's
version of it: an edited file or a new ``--model-version`` / ``--data-version`` never reuses the
runs of the old one; an unchanged file does. The built-in models and data sets keep their keys."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from actlab import ActlabError
from actlab._refs import load_ref, source_hash
from actlab.api._compare import STUDY, config_from_args
from actlab.api._keywords import arguments
from actlab.execution.tasks import parse_tasks, retarget
from actlab.studies.compare import run_compare

MODEL = textwrap.dedent(
    """\
    from torch import nn

    def build(input_shape, n_classes, width=8):
        return nn.Sequential(nn.Linear(input_shape[0], width), nn.ReLU(), nn.Linear(width, n_classes))
    """
)
LOADER = textwrap.dedent(
    """\
    import numpy as np

    def blobs(n=120):
        rng = np.random.default_rng(0)
        y = np.arange(n) % 3
        return rng.normal(size=(n, 4)) + y[:, None], y
    """
)


@pytest.fixture
def project(workdir):
    (workdir / "mine.py").write_text(MODEL)
    (workdir / "loaders.py").write_text(LOADER)
    return workdir


def _compare(out: str, **options) -> dict:
    """A tiny compare of a user's model on digits, its options settled as ``actlab.compare`` settles
    them (its report left out); the record of its one run."""
    settings = {"dataset": "digits", "limit": 150, "model": "mine.py:build", "epochs": 1, "batch_size": 16}
    typed = {**settings, **options, "activations": "relu", "seeds": 1, "threads": 1}
    run_compare(config_from_args(arguments(STUDY, "compare", typed)), out, progress=False)
    return json.loads((Path(out) / "runs" / "relu__seed0.json").read_text())


def test_the_hash_is_of_the_file_and_a_package_module_is_found_without_importing_it(project):
    pkg = project / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise SystemExit('a package is run')\n")
    (pkg / "models.py").write_text(MODEL)
    assert source_hash("mine.py:build", "model builder") == source_hash("mypkg.models:build", "model builder")
    assert "mypkg" not in sys.modules
    (project / "mine.py").write_text(MODEL + "# edited\n")
    assert source_hash("mine.py:build", "model builder") != source_hash("mypkg.models:build", "model builder")
    assert source_hash("mypkg.nothing:build", "model builder") is None  # its import says what is missing


def test_an_edited_file_is_imported_anew(project):
    first = load_ref("mine.py:build", "model builder")
    assert load_ref("mine.py:build", "model builder") is first
    (project / "mine.py").write_text(MODEL.replace("width=8", "width=5") + "# five wide\n")
    assert load_ref("mine.py:build", "model builder")((4,), 3)[0].out_features == 5


def test_an_unchanged_file_reuses_its_runs_an_edited_one_or_new_version_does_not(project):
    first = _compare("out")
    assert _compare("out") == first  # the same record: not trained again
    assert first["unit"]["model_options"]["source"] == {"sha256": source_hash("mine.py:build", "model builder")}
    (project / "mine.py").write_text(MODEL.replace("width=8", "width=6") + "# six wide\n")
    with pytest.raises(ActlabError, match=r"mine.py:build is another version: its file or version changed"):
        _compare("out")
    edited = _compare("edited")
    assert edited["key"] != first["key"] and edited["result"]["n_params"] != first["result"]["n_params"]
    with pytest.raises(ActlabError, match="another version"):
        _compare("edited", model_version="v2")
    versioned = _compare("versioned", model_version="v2")
    assert versioned["unit"]["model_options"]["source"]["version"] == "v2"
    assert versioned["key"] not in (first["key"], edited["key"])


def test_a_data_loader_is_keyed_by_its_file_and_version(project):
    options = {"dataset": "loaders.py:blobs", "model": "mlp", "limit": None}
    first = _compare("data", **options)
    assert set(first["unit"]["data_options"]["source"]) == {"sha256"}
    with pytest.raises(ActlabError, match="loaders.py:blobs is another version"):
        _compare("data", **options, data_version="2")
    (project / "loaders.py").write_text(LOADER + "# edited\n")
    with pytest.raises(ActlabError, match="loaders.py:blobs is another version"):
        _compare("data", **options)


def test_built_in_models_and_data_have_no_source_and_take_no_version(project):
    record = _compare("builtin", model="mlp", width=8)
    assert "source" not in record["unit"]["model_options"] and "source" not in record["unit"]["data_options"]
    with pytest.raises(ActlabError, match="--model-version applies to your own model"):
        _compare("builtin", model="mlp", model_version="v1")
    with pytest.raises(ActlabError, match="--data-version applies to your own dataset"):
        _compare("builtin", data_version="v1")
    with pytest.raises(ActlabError, match="--model-arg source=... is taken"):
        _compare("builtin", model_arg={"source": "x"})


def test_a_model_or_loader_only_a_task_names_is_keyed_by_its_file(project):
    base = config_from_args(arguments(STUDY, "compare", {"dataset": "loaders.py:blobs", "model": "mlp"}))
    loader_source = base.data_options["source"]
    own, same = parse_tasks("digits/mine.py:build,loaders.py:blobs", "mlp")
    there = retarget(base, own)
    assert there.model_options == {"source": {"sha256": source_hash("mine.py:build", "model builder")}}
    assert "source" not in there.data_options  # the loader's hash does not follow to another dataset
    assert retarget(base, same).data_options["source"] == loader_source
    (project / "mine.py").write_text(MODEL + "# edited\n")
    assert retarget(base, own).model_options != there.model_options
