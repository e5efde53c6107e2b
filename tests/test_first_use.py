"""What a new user meets first when following the README: the defaults a command picks and says,
the help texts that say what a file must hold, and the README's set-up lines."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actlab.report.search import score_text
from actlab.studies.compare import CompareConfig
from tests.conftest import require_real

CLI = [sys.executable, "-m", "actlab.cli"]
ROOT = Path(__file__).resolve().parents[1]


def actlab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "acts, baseline",
    [
        (["step", "sigmoid", "relu", "tanh"], "relu"),  # --activations articles starts with step
        (["tanh", "ReLU", "elu"], "ReLU"),  # any spelling of ReLU, as the user wrote it
        (["tanh", "leaky_relu", "elu"], "tanh"),  # no ReLU: the first
        (["tanh", "expr:relu(x)"], "tanh"),  # an expression is not the catalogue's ReLU
    ],
)
def test_the_baseline_is_relu_where_it_is_compared_else_the_first(acts, baseline):
    assert CompareConfig(activations=acts).baseline == baseline
    assert CompareConfig(activations=acts, baseline=acts[-1]).baseline == acts[-1]  # a named one wins


def test_compare_says_which_baseline_it_uses_before_training(tmp_path):
    common = ["--dataset", "iris", "--activations", "tanh,relu", "--seeds", "1", "--epochs", "1", "--quiet"]
    r = actlab("compare", *common, "--out", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    said = r.stdout.index("baseline: relu (the default; --baseline NAME to change)")
    assert said < r.stdout.index("activation ")  # before the table, i.e. before training
    assert "test accuracy vs relu" in r.stdout
    r = actlab("compare", *common, "--baseline", "tanh", "--out", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    assert "baseline: tanh\n" in r.stdout and "test accuracy vs tanh" in r.stdout


def test_the_search_says_which_final_runs_diverged(tmp_path):
    """A configuration whose every final run diverges reads 'diverged', not a test accuracy of 0."""
    out = tmp_path / "s"
    r = actlab(
        "search",
        "--dataset",
        "iris",
        "--layers",
        "2",
        "--candidates",
        "exp,expr:exp(exp(x))",
        "--trials",
        "2",
        "--final-seeds",
        "2",
        "--epochs",
        "3",
        "--lr",
        "5",
        "--pruner",
        "none",
        "--quiet",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines() if line.startswith(("baseline", "top-"))}
    final = {c["name"]: c for c in json.loads((out / "results.json").read_text())["final"]["configs"]}
    gone = [name for name, c in final.items() if c["diverged"]]
    assert gone and all(final[name]["diverged"] == 2 and final[name]["test_accuracy"] == [0.0, 0.0] for name in gone)
    for name in gone:
        assert "test diverged (2 of 2 seeds)" in rows[name] and "0.000 ± 0.000" not in rows[name]
    assert "test 0." in rows["baseline"] and final["baseline"]["diverged"] == 0
    assert "<td>diverged (2 of 2 seeds)</td>" in (out / "report.html").read_text()


def test_a_contender_with_some_diverged_seeds_shows_its_mean_and_how_many():
    row = {"test_accuracy": [0.9, 0.0, 0.8], "mean": 0.5667, "std": 0.4933, "diverged": 1, "failed": 0}
    assert score_text(row) == "0.567 ± 0.493 (1 of 3 seeds diverged, scored 0)"
    assert score_text({**row, "diverged": 0}) == "0.567 ± 0.493"
    assert score_text({**row, "diverged": 2, "failed": 1}) == "diverged or failed (3 of 3 seeds)"


@pytest.mark.parametrize("command", ["compare", "search", "evolve", "screen"])
def test_help_says_what_an_npz_file_holds_and_what_limit_shrinks(command):
    r = actlab(command, "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # as one line: argparse wraps it
    assert "npz:PATH (arrays named x and y, as numpy.savez(PATH, x=..., y=...) writes them" in text
    assert (
        "x_train, y_train, x_test, y_test" in text
        and "csv:PATH (a header row; --target names the label column)" in text
    )
    assert (
        "use at most this many training examples, stratified; the validation and test splits shrink in the same "
        "proportion" in text
    )


@pytest.mark.parametrize(
    "torch, args",
    [
        (None, ["torch==2.13.0"]),
        (
            "torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",  # the README's way to the CPU build
            ["torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu"],
        ),
    ],
)
def test_make_passes_torch_to_pip_as_its_arguments(tmp_path, torch, args):
    """What `make` would run (make -n, in a copy of the Makefile): TORCH reaches pip word by word."""
    require_real(shutil.which("make") is not None, "make is not installed")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    r = subprocess.run(
        ["make", "-n", "install", *([f"TORCH={torch}"] if torch else [])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    pip = [
        shlex.split(line)
        for line in r.stdout.splitlines()
        if "pip install" in line and "torch==" in line and "--target" not in line
    ]
    assert len(pip) == 1 and pip[0][pip[0].index("-q") + 1 :] == args, r.stdout
