"""A training loop of the user's own (``--fit file.py:fit``, ``TrainConfig(fit=...)``) in place of
actlab's trainer, in every study: real loops (a hand-written one, one with a Lightning Trainer) on
small real data, resumed, in worker processes, and hostile loops."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from actlab._errors import ActlabError
from actlab.execution import Runner, Unit
from actlab.models import build
from actlab.training import RunResult, TrainConfig, run_score, train

CLI = [sys.executable, "-m", "actlab.cli"]
DIGITS = [
    "--dataset",
    "digits",
    "--limit",
    "200",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--layers",
    "3",
    "--threads",
    "1",
]

LOOPS = '''
import math
from pathlib import Path

import torch
from torch import nn

CALLS = Path(__file__).with_suffix(".calls")


def _count():
    with CALLS.open("a") as f:
        f.write("x\\n")


def _scores(model, data):
    model.eval()
    out = {}
    with torch.no_grad():
        for name, split in (("val", data.val), ("test", data.test)):
            z = model(split.x)
            out[name + "_accuracy"] = (z.argmax(1) == split.y).float().mean().item()
            out[name + "_loss"] = nn.functional.cross_entropy(z, split.y).item()
    return out


def fit(model, data, config):
    """A plain loop: Adam over the training split in batches, config.epochs times."""
    _count()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = data.train.x, data.train.y
    for _ in range(config.epochs):
        for i in range(0, len(x), config.batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i : i + config.batch_size]), y[i : i + config.batch_size]).backward()
            opt.step()
    return _scores(model, data)


def untrained(model, data, config):
    """No training at all: the selection sees the initial weights."""
    _count()
    return _scores(model, data)


def raises(model, data, config):
    return {"val_accuracy": 1 / 0}


def not_a_dict(model, data, config):
    return 0.5


def no_metric(model, data, config):
    return {"accuracy": 0.5}


def nan_metric(model, data, config):
    return {"val_accuracy": math.nan, "test_accuracy": 0.1}


def percent(model, data, config):
    return {"val_accuracy": 0.5, "test_accuracy": 95.0}
'''


@pytest.fixture(scope="module")
def loops(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("loops")
    (folder / "loops.py").write_text(LOOPS)
    return folder


def calls(folder: Path) -> int:
    f = folder / "loops.calls"
    return len(f.read_text().split()) if f.exists() else 0


def actlab(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]


def test_compare_trains_with_the_users_loop_resumes_and_retrains_a_new_version(loops):
    fit = ["--fit", "loops.py:fit", "--fit-version", "v1"]
    args = ["compare", "--activations", "relu,tanh,elu", "--seeds", "2", *DIGITS, *fit, "--out", "c1"]
    before = calls(loops)
    r = actlab(loops, *args)
    assert r.returncode == 0, r.stderr
    assert calls(loops) - before == 6  # 3 functions x 2 seeds, each trained by the loop once
    recs = records(loops / "c1")
    assert len(recs) == 6
    for rec in recs:
        res = rec["result"]
        assert RunResult.check(res) and res["status"] == "finished" and res["epochs"] == []
        assert res["fit"]["name"] == "loops.py:fit" and res["fit"]["version"] == "v1"
        assert res["test"]["accuracy"] == res["fit"]["metrics"]["test_accuracy"]
        assert res["fit"]["metrics"]["val_accuracy"] > 0.3  # it trained: 10 classes, chance is 0.1
    summary = json.loads((loops / "c1" / "results.json").read_text())["summary"]
    assert sorted(s["activation"] for s in summary) == ["elu", "relu", "tanh"]
    # resumed: every run read back, none trained again
    again = actlab(loops, *args)
    assert again.returncode == 0 and calls(loops) - before == 6
    # a new version of the loop is another training: the folder of v1 refuses it, a new one trains it
    v2 = [a if a != "v1" else "v2" for a in args]
    refused = actlab(loops, *v2)
    assert refused.returncode == 2 and "different configuration" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    done = actlab(loops, *[a if a != "c1" else "c2" for a in v2])
    assert done.returncode == 0 and calls(loops) - before == 12
    assert {r["key"] for r in records(loops / "c2")}.isdisjoint(r["key"] for r in recs)


def test_worker_processes_import_the_loop_by_its_path(loops):
    before = calls(loops)
    r = actlab(
        loops,
        "compare",
        "--activations",
        "relu,tanh",
        "--seeds",
        "2",
        *DIGITS,
        "--fit",
        "loops.py:fit",
        "--workers",
        "2",
        "--out",
        "w",
    )
    assert r.returncode == 0, r.stderr
    assert calls(loops) - before == 4
    pids = {rec["trained_by"] for rec in records(loops / "w")}
    assert pids and all(p.rsplit(":", 1)[1] != str(os.getpid()) for p in pids)
    assert all(rec["packed"] == 1 for rec in records(loops / "w"))  # a loop of the user's is never packed


def test_a_runs_key_has_the_loops_name_and_version_not_its_path(loops):
    def key(**fit) -> str:
        return Unit("u", "relu", "digits", "mlp", TrainConfig(epochs=1, **fit).to_dict()).key()

    plain = TrainConfig(epochs=1).to_dict()
    assert not any(k.startswith("fit") for k in plain)  # runs without a loop keep the keys they had
    here = key(fit=f"{loops}/loops.py:fit", fit_version="1")
    assert key(fit=f"{loops}/../{loops.name}/loops.py:fit", fit_version="1") == here
    assert key(fit=f"{loops}/loops.py:fit", fit_version="2") != here
    assert key(fit=f"{loops}/loops.py:untrained", fit_version="1") != here
    assert key(fit=f"{loops}/loops.py:fit", fit_version="1", fit_metric="val_loss", fit_direction="min") != here


def test_search_selects_the_lowest_loss_when_told_to_minimise(loops, tmp_path):
    from actlab.studies.search import SearchConfig
    from actlab.studies.search.run import run_search

    cfg = SearchConfig(
        dataset="digits",
        data_options={"limit": 200},
        layers=3,
        candidates=["relu", "tanh", "sigmoid", "sin"],
        trials=3,
        sampler="random",
        pruner="none",
        top_k=1,
        final_seeds=1,
        train=TrainConfig(epochs=1, fit=f"{loops}/loops.py:fit", fit_metric="val_loss", fit_direction="min"),
    )
    res = run_search(cfg, tmp_path / "s", progress=False)
    import optuna

    study = optuna.load_study(study_name="actlab-digits-mlp", storage=f"sqlite:///{tmp_path / 's' / 'study.db'}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 3 and all(t.value < 0 for t in done)  # -val_loss: every study maximises
    assert study.best_trial.value == max(t.value for t in done)
    assert res["final"]
    from actlab.api._search import format_final

    table = format_final(res)  # the loss as the loop returned it, named as the user named it
    assert "val_loss" in table and " val_loss -" not in table and "  val " not in table, table


def test_evolve_and_screen_score_with_the_users_loop(loops, tmp_path):
    from actlab.studies.evolve.config import EvolveConfig
    from actlab.studies.evolve.run import run_evolution
    from actlab.studies.screen import ScreenConfig, run_screen

    before = calls(loops)
    fit = TrainConfig(epochs=1, patience=None, monitor="val_accuracy", fit=f"{loops}/loops.py:fit")
    cfg = EvolveConfig(
        dataset="digits",
        data_options={"limit": 200},
        model_options={"width": 16},
        population=4,
        generations=1,
        final_seeds=0,
        catalogue=["tanh"],
        train=fit,
    )
    res = run_evolution(cfg, tmp_path / "e", progress=False)
    trained = calls(loops) - before
    assert trained == len(list((tmp_path / "e" / "units").glob("*.json"))) > 0  # each fitness training, once
    assert 0 < res["best"]["fitness"] <= 1
    with pytest.raises(ActlabError, match="maximises"):
        EvolveConfig(train=TrainConfig(fit=f"{loops}/loops.py:fit", fit_metric="val_loss", fit_direction="min"))

    screen = ScreenConfig(
        dataset="digits",
        data_options={"limit": 200},
        candidates=["relu", "tanh", "sigmoid", "sin", "elu"],
        train_top=1,
        train_random=1,
        seeds=1,
        train=fit,
    )
    out = run_screen(screen, tmp_path / "sc", progress=False, say=lambda text: None)
    trained_rows = [r for r in out["candidates"] if r["role"] and r["val_accuracy"] is not None]
    assert trained_rows and all(0 < r["val_accuracy"] <= 1 for r in trained_rows)


def test_a_loop_with_a_lightning_trainer(digits, tmp_path, monkeypatch):
    pytest.importorskip("lightning")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    path = tmp_path / "with_lightning.py"
    path.write_text(
        textwrap.dedent("""
        import lightning as L
        import torch
        from torch import nn


        class Module(L.LightningModule):
            def __init__(self, model, lr):
                super().__init__()
                self.model, self.lr = model, lr

            def training_step(self, batch, i):
                x, y = batch
                return nn.functional.cross_entropy(self.model(x), y)

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=self.lr)


        def fit(model, data, config):
            loader = torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(data.train.x, data.train.y), batch_size=config.batch_size, shuffle=True
            )
            trainer = L.Trainer(
                max_epochs=config.epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                enable_progress_bar=False, enable_model_summary=False, default_root_dir=__file__ + ".runs",
            )
            trainer.fit(Module(model, 1e-2), loader)
            model.eval()
            with torch.no_grad():
                acc = lambda s: (model(s.x).argmax(1) == s.y).float().mean().item()
                return {"val_accuracy": acc(data.val), "test_accuracy": acc(data.test)}
    """)
    )
    cfg = TrainConfig(epochs=1, batch_size=64, seed=3, fit=f"{path}:fit", fit_version="lightning-1")
    r = train(lambda: build("mlp", digits.input_shape, digits.n_classes, "relu", depth=3, width=32), digits, cfg)
    assert r.status == "finished" and r.fit["name"] == "with_lightning.py:fit"
    assert r.score == r.fit["metrics"]["val_accuracy"] > 0.3 and 0 <= r.test["accuracy"] <= 1
    assert RunResult.check(json.loads(json.dumps(r.to_dict())))
    assert not list(cwd.iterdir()) and not (tmp_path / "with_lightning.py.runs").exists()  # no logs, no checkpoints


def model_of(data):
    return lambda: build("mlp", data.input_shape, data.n_classes, "relu", depth=3, width=16)


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("raises", r"the training loop loops.py:raises failed: ZeroDivisionError: division by zero \(.*loops.py:\d+\)"),
        ("not_a_dict", "returned a float; it must return a dict of metrics"),
        ("no_metric", "returned no 'val_accuracy' \\(it returned accuracy\\)"),
        ("percent", "test_accuracy = 95; an accuracy is a fraction from 0 to 1"),
    ],
)
def test_a_hostile_loop_is_one_line_naming_it(loops, digits, name, says):
    with pytest.raises(ActlabError, match=says) as e:
        train(model_of(digits), digits, TrainConfig(epochs=1, fit=f"{loops}/loops.py:{name}"))
    assert "\n" not in str(e.value)


def test_a_failing_loop_on_the_command_line_names_its_file_and_line(loops):
    r = actlab(
        loops, "compare", "--activations", "relu", "--seeds", "1", *DIGITS, "--fit", "loops.py:raises", "--out", "bad"
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "loops.py:raises failed: ZeroDivisionError" in r.stderr and "loops.py:" in r.stderr.split("(")[-1]
    bad = actlab(loops, "compare", *DIGITS, "--fit", "nowhere.py:fit", "--out", "bad2")
    assert bad.returncode == 2 and "not found" in bad.stderr and "Traceback" not in bad.stderr
    lone = actlab(loops, "compare", *DIGITS, "--fit-version", "3", "--out", "bad3")
    assert lone.returncode == 2 and "give fit too" in lone.stderr


def test_a_non_finite_metric_is_a_diverged_run_not_a_crash(loops, digits):
    r = train(model_of(digits), digits, TrainConfig(epochs=1, fit=f"{loops}/loops.py:nan_metric"))
    assert r.status == "diverged" and r.fit["metrics"]["val_accuracy"] is None
    assert r.score == -math.inf and run_score(r.to_dict()) == -math.inf
    assert RunResult.check(json.loads(json.dumps(r.to_dict())))


def test_a_loop_from_main_trains_here_only(digits):
    def here(model, data, config):
        return {"val_accuracy": 0.5, "test_accuracy": 0.5}

    here.__module__ = "__main__"  # as in a script or a notebook: no other process can import it
    cfg = TrainConfig(epochs=1, fit=here)
    assert cfg.fit == cfg.fit_name
    unit = Unit("u", "relu", "digits", "mlp", {**cfg.to_dict(), "threads": 1}, data_options={"limit": 200})
    with Runner() as runner:
        assert runner.map([unit])[0]["result"]["fit"]["metrics"]["val_accuracy"] == 0.5
    with Runner(workers=2) as runner, pytest.raises(ActlabError, match="workers=1"):
        runner.map([unit])
