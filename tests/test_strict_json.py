"""Every JSON file actlab writes is strict JSON: no NaN or Infinity, which most parsers refuse.

A tiny compare with a function that diverges at once (``exp(exp(x))`` overflows: its loss, AUC
and diagnostics are not finite), a tiny search with the same function among the candidates and
one final seed (no spread, no test), and a tiny evolution: every ``*.json`` under their --out
folders parses with a parser that refuses NaN and Infinity; where a number became null the file
says so; the reports render from the files alone; the readers of those files (a rerun that
resumes, ``actlab.load``, ``actlab show``) take them as they are.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import actlab
from actlab._io import NULLS, json_text
from actlab.cli import main
from actlab.report.compare import write_report
from actlab.report.evolve import write_evolve_report
from actlab.report.search import write_search_report
from actlab.studies.compare import CompareConfig, run_compare
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.run import run_evolution
from actlab.studies.search import SearchConfig
from actlab.studies.search.run import run_search
from actlab.training import TrainConfig

DIVERGES = "expr:exp(exp(x))"
TRAIN = {"epochs": 2, "threads": 1}


def compare_config() -> CompareConfig:
    return CompareConfig(dataset="iris", activations=["relu", DIVERGES], seeds=2, train=TrainConfig(**TRAIN))


def evolve_config() -> EvolveConfig:
    return EvolveConfig(
        dataset="iris",
        population=2,
        tournament=1,
        generations=2,
        final_seeds=1,
        final_epochs=1,
        catalogue=["tanh"],
        train=TrainConfig(**{**TRAIN, "epochs": 1}, diagnostics=False),
    )


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def strict(path: Path):
    """The content of ``path`` read by a strict parser (NaN, Infinity and -Infinity refused)."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)


def _nulls(v) -> int:
    if v is None:
        return 1
    if isinstance(v, dict):
        return sum(_nulls(x) for x in v.values())
    if isinstance(v, list):
        return sum(_nulls(x) for x in v)
    return 0


@pytest.fixture(scope="module")
def outs(tmp_path_factory):
    """The three studies, tiny (their reports are drawn from the files, below)."""
    root = tmp_path_factory.mktemp("strict")
    run_compare(compare_config(), root / "compare", progress=False)
    search = SearchConfig(
        dataset="iris",
        layers=2,
        width=8,
        candidates=["relu", "tanh", DIVERGES],
        sampler="grid",
        trials=3,
        top_k=1,
        final_seeds=1,
        train=TrainConfig(**TRAIN, monitor="val_accuracy"),
    )
    run_search(search, root / "search", progress=False)
    run_evolution(evolve_config(), root / "evolve", progress=False)
    return root


def test_every_json_file_is_strict_and_says_where_numbers_are_missing(outs):
    files = sorted(outs.rglob("*.json"))
    by_folder = {name: [f for f in files if f.is_relative_to(outs / name)] for name in ("compare", "search", "evolve")}
    assert all(len(fs) >= 3 for fs in by_folder.values()), by_folder
    noted = 0
    for f in files:
        d = strict(f)
        if isinstance(d, dict) and _nulls({k: v for k, v in d.items() if k != NULLS}) and NULLS in d:
            noted += 1
    assert noted >= 3  # results.json files and the diverged runs at least
    runs = {f.name: strict(f) for f in (outs / "compare" / "runs").glob("*.json")}
    diverged = [r for name, r in runs.items() if name.startswith("expr")]
    assert len(diverged) == 2
    for r in diverged:  # no value, and the record says why
        assert r["result"]["status"] == "diverged" and r["result"]["test"]["loss"] is None and NULLS in r
    summary = {row["activation"]: row for row in strict(outs / "compare" / "results.json")["summary"]}
    assert summary["relu"]["p_value"] is None and summary["relu"]["outcome"] == "baseline"
    final = strict(outs / "search" / "results.json")["final"]["configs"]
    assert all(c["std"] is None and c["ci_low"] is None for c in final)  # one seed has no spread


def test_json_text_turns_every_number_that_is_not_finite_into_null():
    import numpy as np

    text = json_text(
        {
            "a": float("nan"),
            "b": [float("inf"), np.float32("-inf"), torch.tensor([1.0, float("nan")])],
            "c": np.int64(3),
            "d": True,
            "e": 0.5,
        }
    )
    d = json.loads(text, parse_constant=_refuse)
    assert d["a"] is None and d["b"] == [None, None, [1.0, None]] and d["c"] == 3 and d["d"] is True and d["e"] == 0.5
    assert NULLS in d and NULLS not in json.loads(json_text({"e": 0.5}))


def test_reports_render_from_the_files_alone(outs, tmp_path):
    for name, write in (("compare", write_report), ("search", write_search_report), ("evolve", write_evolve_report)):
        again = tmp_path / name
        again.mkdir()
        page = write(strict(outs / name / "results.json"), again)
        assert "n/a" in page.read_text() or name == "evolve"


def test_the_readers_take_the_files_as_they_are(outs, capsys):
    act = actlab.load(outs / "evolve" / "best.json")
    assert act(torch.zeros(3)).shape == (3,)
    assert main(["show", str(outs / "evolve" / "best.json"), "--no-plot"]) == 0
    capsys.readouterr()
    before = {f: f.read_bytes() for f in (outs / "compare" / "runs").glob("*.json")}
    run_compare(compare_config(), outs / "compare")  # resumes: every run read back, none trained again
    err = capsys.readouterr().err
    assert err.count("already done, skipped") == 4 and "diverged" not in err, err
    assert {f: f.read_bytes() for f in (outs / "compare" / "runs").glob("*.json")} == before
    run_evolution(
        evolve_config(), outs / "evolve", resume=True, progress=False
    )  # the checkpoint and kept runs read back
    assert not list(outs.rglob("*.damaged"))
