"""Files written by actlab's current format still load: a run folder, results, checkpoints and
best.json files kept in ``tests/fixtures/format1`` (written by ``actlab compare``, ``evolve``,
``search`` and ``screen`` on iris, with a few epochs), read by today's code.

Whatever moves inside actlab, these are the files users have on their disks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import actlab
from actlab.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "format1"


def _copy(name: str, tmp_path: Path) -> Path:
    out = tmp_path / name
    shutil.copytree(FIXTURES / name, out)
    return out


def test_a_compare_folder_resumes_with_every_run_read_and_none_trained(tmp_path, capsys):
    out = _copy("compare", tmp_path)
    runs = {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")}
    before = json.loads((FIXTURES / "compare" / "results.json").read_text())
    code = main(
        [
            "compare",
            "--dataset",
            "iris",
            "--activations",
            "relu,tanh",
            "--seeds",
            "2",
            "--epochs",
            "3",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = "".join(capsys.readouterr())
    assert printed.count("already done, skipped") == 4 and "finished, test acc" not in printed
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.json")} == runs  # nothing trained again
    after = json.loads((out / "results.json").read_text())
    for act in ("relu", "tanh"):
        assert _row(after, act)["test_accuracy"] == _row(before, act)["test_accuracy"]


def _row(results: dict, activation: str) -> dict:
    return next(r for r in results["summary"] if r["activation"] == activation)


@pytest.mark.parametrize("name", ["evolve", "evolve-learn"])
def test_a_best_json_loads_shows_and_exports(name, tmp_path, capsys):
    best = FIXTURES / name / "best.json"
    module = actlab.load(str(best))
    x = torch.linspace(-3, 3, 7)
    assert torch.isfinite(module(x)).all()
    assert main(["show", str(best), "--out", str(tmp_path / "best.png")]) == 0
    assert json.loads(best.read_text())["functions"]["all"] in capsys.readouterr().out
    assert main(["export", str(best), "--to", "code"]) == 0
    code = capsys.readouterr().out
    assert "def " in code and "import torch" in code


def test_an_evolution_checkpoint_resumes(tmp_path, capsys):
    out = _copy("evolve", tmp_path)
    best = json.loads((FIXTURES / "evolve" / "best.json").read_text())
    code = main(
        [
            "evolve",
            "--dataset",
            "iris",
            "--population",
            "4",
            "--generations",
            "2",
            "--epochs",
            "2",
            "--final-seeds",
            "0",
            "--out",
            str(out),
            "--resume",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    again = json.loads((out / "best.json").read_text())
    assert again["functions"] == best["functions"]
    assert not list((out / "units").glob("*.json"))  # the checkpoint's generations were not trained again


@pytest.mark.parametrize("name", ["compare", "evolve", "evolve-learn", "search", "screen"])
def test_results_json_makes_its_report(name, tmp_path):
    from actlab.report.compare import write_report
    from actlab.report.evolve import write_evolve_report
    from actlab.report.screen import write_screen_report
    from actlab.report.search import write_search_report

    write = {
        "compare": write_report,
        "evolve": write_evolve_report,
        "evolve-learn": write_evolve_report,
        "search": write_search_report,
        "screen": write_screen_report,
    }[name]
    results = json.loads((FIXTURES / name / "results.json").read_text())
    page = write(results, tmp_path)
    assert Path(page).is_file() and "<html" in Path(page).read_text().lower()


def test_a_screen_feature_file_is_read_not_computed_again(tmp_path, monkeypatch):
    import actlab.surrogate.features as S
    from actlab.surrogate import Surrogate

    folder = _copy("screen", tmp_path) / "features"
    path = next(folder.glob("*.json"))
    stored = json.loads(path.read_text())
    task = json.loads((FIXTURES / "screen" / "results.json").read_text())["task"]

    def computed(*args, **kwargs):
        raise AssertionError("the features were computed again instead of read")

    monkeypatch.setattr(S, "compute_features", computed)
    got = Surrogate(S.Task(**task), folder=folder).features(stored["spec"])
    assert got["outputs"] == stored["outputs"] and got["ok"] == stored["ok"]
