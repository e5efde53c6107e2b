"""A user's own nn.Module as the model of every study: ``--model path/to/file.py:build`` and
``package.module:build``, builders that take ``act``, ``--model-arg``, ``--slots``, worker
processes, kill and resume, and every failure of the user's code as one line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from actlab import ActlabError
from actlab.models import UserModel, build, slot_names
from actlab.training.diagnostics import slot_diagnostics
from actlab.training.population import packable
from tests.conftest import killed_mid_run

CLI = [sys.executable, "-m", "actlab.cli"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}  # this checkout's actlab
DATA = ["--dataset", "digits", "--limit", "300", "--threads", "1"]

# A small CNN over sklearn's 8x8 digits (loaded flat: 64 values), with its activations as modules.
# Every import leaves the importing process's id in imports.txt beside the file.
NET = """\
import os
from pathlib import Path

import torch
from torch import nn

with open(Path(__file__).with_name("imports.txt"), "a") as f:
    f.write(f"{os.getpid()}\\n")


class Net(nn.Module):
    def __init__(self, n_classes, width):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 8, 3), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(8 * 16, width), nn.Tanh(), nn.Linear(width, n_classes))

    def forward(self, x):
        return self.classifier(self.features(x.view(-1, 1, 8, 8)))


def build(input_shape, n_classes, width=16):
    assert input_shape == (64,), input_shape
    return Net(n_classes, width)


def asking(act, n_classes, width=16):
    return nn.Sequential(nn.Linear(64, width), act("first"), nn.Linear(width, width), act("rest"),
                         nn.Linear(width, width), act("rest"), nn.Linear(width, n_classes))


def raising(n_classes):
    raise ValueError("no such layer size")


def not_a_module():
    return [nn.Linear(64, 10)]


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 16)
        self.b = nn.Linear(16, 10)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def functional():
    return Functional()
"""
SITES = ["features.1", "features.3", "classifier.2"]


@pytest.fixture(scope="module")
def user_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("user") / "mynet.py"
    path.write_text(NET)
    return path


def actlab(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=ENV)


def _compare(user_file: Path, out: Path, *more: str) -> list[str]:
    return [
        "compare",
        *DATA,
        "--model",
        f"{user_file}:build",
        "--model-arg",
        "width=12",
        "--activations",
        "relu,tanh,selu",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--out",
        str(out),
        *more,
    ]


# ------------------------------------------------------------------------------ building
def test_a_builders_activation_modules_are_its_slots_each_with_a_module_of_its_own(user_file):
    model = build(f"{user_file}:build", (64,), 10, "selu", width=8)
    assert isinstance(model, UserModel) and list(model.slots) == SITES
    nets = [m for n, m in model.net.named_modules() if n in SITES]
    assert all(type(m) is nn.SELU for m in nets) and len({id(m) for m in nets}) == 3
    assert not any(isinstance(m, (nn.ReLU, nn.Tanh)) for m in model.modules())
    assert model.net.classifier[1].out_features == 8  # the builder's argument
    # each site is fed by the weighted layer before it, for the gradient diagnostics
    layers = model.slot_layers()
    assert layers["features.1"] is model.net.features[0] and layers["classifier.2"] is model.net.classifier[1]
    x = torch.randn(20, 64)
    diag = slot_diagnostics(model, x, [])
    assert set(diag) == set(SITES) and all(0 <= d["saturated"] <= 1 for d in diag.values())
    assert not packable(f"{user_file}:build", "relu")


def test_slots_group_sites_and_a_plan_per_slot_reaches_each_site(user_file):
    ref = f"{user_file}:build"
    assert slot_names(ref, (64,), 10, slots="features.*=conv,classifier.*=head") == ("conv", "head")
    model = build(ref, (64,), 10, {"conv": "prelu", "head": "tanh"}, slots="features.*=conv,classifier.*=head")
    a, b = model.net.features[1], model.net.features[3]
    assert type(a) is nn.PReLU and type(b) is nn.PReLU and a is not b  # never shared
    assert a.weight is not b.weight and type(model.net.classifier[2]) is nn.Tanh
    with pytest.raises(ActlabError, match=r"--slots pattern 'feat\.\*' matches no activation"):
        build(ref, (64,), 10, slots="feat.*=conv")


def test_a_builder_that_takes_act_names_its_slots(user_file):
    ref = f"{user_file}:asking"
    assert slot_names(ref, (64,), 10) == ("first", "rest")
    model = build(ref, (64,), 10, {"first": "elu", "rest": "prelu"})
    prelus = [m for m in model.net if isinstance(m, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0] is not prelus[1] and type(model.net[1]) is nn.ELU
    assert model(torch.zeros(3, 64)).shape == (3, 10)
    assert set(slot_diagnostics(model, torch.randn(8, 64), [])) == {"1", "3", "5"}


@pytest.mark.parametrize(
    "ref,message",
    [
        ("raising", r"the model builder mynet\.py:raising failed: ValueError: no such layer size \(.*mynet\.py:\d+\)"),
        ("not_a_module", r"mynet\.py:not_a_module returned a list, not a torch\.nn\.Module"),
        ("functional", r"no activation modules to replace; its forward\(\) calls torch\.relu\(\)"),
        ("build", r"takes no argument 'depth'; its arguments are: width"),
    ],
)
def test_a_builder_that_fails_is_one_line_naming_the_users_code(user_file, ref, message):
    with pytest.raises(ActlabError, match=message):
        build(f"{user_file}:{ref}", (64,), 10, "relu", **({"depth": 3} if ref == "build" else {}))


# ------------------------------------------------------------------------------ the studies
def test_compare_on_a_user_cnn_trains_every_pair_with_diagnostics_per_slot(user_file, tmp_path):
    out = tmp_path / "cmp"
    r = actlab(*_compare(user_file, out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"model {user_file}:build: " in r.stderr and "parameters; slots features.1, features.3, classifier.2" in (
        r.stderr
    )
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 6
    record = json.loads(next((out / "runs").glob("tanh__seed1.json")).read_text())
    source = {"sha256": hashlib.sha256(user_file.read_bytes()).hexdigest()[:12]}  # the file, in the run's key
    assert record["unit"]["model"] == f"{user_file}:build"
    assert record["unit"]["model_options"] == {"width": 12, "source": source}
    diag = record["result"]["diagnostics"]
    assert set(diag) == set(SITES)
    assert all(d["grad_norm_last"] > 0 for d in diag.values())  # the layer feeding each site is known
    # resuming the folder with another model is refused, nothing trained
    r = actlab(*_compare(user_file, out)[:-2], "--out", str(out), "--model-arg", "width=10")
    last = r.stderr.splitlines()[-1]
    assert r.returncode == 2 and last.startswith("actlab: error:") and "of a different configuration" in last


def test_search_per_slot_on_a_user_model_searches_its_slots(user_file, tmp_path):
    out = tmp_path / "search"
    args = ["search", *DATA, "--model", f"{user_file}:build", "--slots", "features.*=conv,classifier.*=head"]
    args += ["--candidates", "relu,tanh,elu", "--trials", "3", "--epochs", "1", "--top-k", "1", "--final-seeds", "1"]
    r = actlab(*args, "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["space"]["slots"] == ["conv", "head"]
    assert len(results["trials"]) == 3 and all(set(t["plan"]) == {"conv", "head"} for t in results["trials"])


def test_evolve_and_screen_on_a_user_model(user_file, tmp_path):
    ref = f"{user_file}:build"
    evolve = ["evolve", *DATA, "--model", ref, "--population", "4", "--generations", "2", "--epochs", "1"]
    final = ["--final-seeds", "1", "--final-epochs", "2", "--catalogue", "elu"]  # the final evaluation, small
    r = actlab(*evolve, *final, "--out", str(tmp_path / "evo"))
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads((tmp_path / "evo" / "results.json").read_text())
    assert len(results["history"]) == 2 and results["totals"]["failed"] == 0 and results["totals"]["evaluations"] > 0
    assert {"relu", "elu"} <= {c["name"] for c in results["final"]["contenders"]}
    # coevolution evolves a function per slot group: one group is one line, before any training
    r = actlab("evolve", *evolve[1:], "--mode", "coevolution", "--slots", "*=all", "--out", str(tmp_path / "co"))
    assert r.returncode == 2 and "evolve one function with --mode single" in r.stderr
    screen = ["screen", *DATA, "--model", ref, "--train-top", "1", "--train-random", "0", "--seeds", "1"]
    r = actlab(*screen, "--epochs", "1", "--out", str(tmp_path / "screen"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "parameters; slots features.1" in r.stderr


def test_a_package_module_builder_from_the_current_folder(tmp_path):
    (tmp_path / "zoo_pkg").mkdir()
    (tmp_path / "zoo_pkg" / "__init__.py").write_text("")
    (tmp_path / "zoo_pkg" / "nets.py").write_text(
        textwrap.dedent(
            """\
            from torch import nn

            def build(n_classes, hidden=8):
                return nn.Sequential(nn.Linear(64, hidden), nn.GELU(), nn.Linear(hidden, n_classes))
            """
        )
    )
    args = ["compare", *DATA, "--model", "zoo_pkg.nets:build", "--model-arg", "hidden=6", "--activations", "relu"]
    r = actlab(*args, "--seeds", "1", "--epochs", "1", "--workers", "2", "--out", "o", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "model zoo_pkg.nets:build: 460 parameters; slots 1" in r.stderr  # 64*6+6 + 6*10+10


def test_worker_processes_import_the_users_file_by_path(user_file, tmp_path):
    imports = user_file.with_name("imports.txt")
    imports.unlink(missing_ok=True)
    r = actlab(*_compare(user_file, tmp_path / "w", "--workers", "2"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    pids = set(imports.read_text().split())
    assert len(pids) >= 2  # this process and at least one spawned worker imported it


def test_a_killed_compare_on_a_user_model_resumes_without_retraining(user_file, tmp_path):
    out = tmp_path / "killed"
    args = [*CLI, *_compare(user_file, out)[:-8], "--activations", "relu,tanh,selu", "--seeds", "3"]
    args += ["--epochs", "4", "--out", str(out)]
    runs = out / "runs"
    done = killed_mid_run(args, runs, 2, env=ENV)
    assert 2 <= len(done) < 9, "the kill must land mid-comparison"
    r = subprocess.run(args, capture_output=True, text=True, timeout=600, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("already done, skipped") == len(done)
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 9 and all(after[n] == c for n, c in done.items())


def test_two_processes_on_one_out_train_each_run_once(user_file, tmp_path):
    out = tmp_path / "shared"
    cmd = [*CLI, *_compare(user_file, out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for _ in "ab"]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        errs.append(err)
    assert sum(e.count(", test acc") for e in errs) == 6
    assert all(e.count(", test acc") + e.count("already done, skipped") == 6 for e in errs)


# ------------------------------------------------------------------------------ hostile input
def test_failures_of_the_users_code_on_the_command_line_are_one_line(user_file, tmp_path):
    base = ["compare", *DATA, "--activations", "relu", "--seeds", "1", "--epochs", "1"]
    cases = {
        f"{user_file}:raising": r"mynet.py:raising failed: ValueError: no such layer size (",
        f"{user_file}:not_a_module": "returned a list, not a torch.nn.Module",
        f"{user_file}:functional": "calls torch.relu()",
        str(tmp_path / "missing.py") + ":build": "model builder file",
        f"{user_file}:nothing": "has no 'nothing'",
    }
    for ref, message in cases.items():
        r = actlab(*base, "--model", ref, "--out", str(tmp_path / "bad"))
        assert r.returncode == 2 and r.stderr.startswith("actlab: error:") and message in r.stderr, r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = actlab(*base, "--model", "mlp", "--model-arg", "width=3", "--out", str(tmp_path / "bad"))
    assert r.returncode == 2 and "apply to your own model" in r.stderr


def test_a_saved_run_naming_a_module_never_imports_it(tmp_path):
    marker = tmp_path / "imported"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\nfrom torch import nn\ndef build():\n    return nn.ReLU()\n")
    out = tmp_path / "evo"
    r = actlab("evolve", *DATA, "--population", "4", "--generations", "1", "--epochs", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    checkpoint = out / "checkpoint.json"
    saved = json.loads(checkpoint.read_text())
    saved["config"]["model"] = f"{evil}:build"
    checkpoint.write_text(json.dumps(saved))
    r = actlab("evolve", "--resume", "--generations", "2", "--out", str(out))
    assert r.returncode == 2 and f"resume it with --model {evil}:build" in r.stderr, r.stderr
    assert not marker.exists()
