"""What a new user meets first when following the README: the defaults a command picks and says,
the help texts that say what a file must hold, and the README's set-up lines."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actlab.compare import CompareConfig

CLI = [sys.executable, "-m", "actlab.cli"]


def actlab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("acts, baseline", [
    (["step", "sigmoid", "relu", "tanh"], "relu"),     # --activations articles starts with step
    (["tanh", "ReLU", "elu"], "ReLU"),                  # any spelling of ReLU, as the user wrote it
    (["tanh", "leaky_relu", "elu"], "tanh"),            # no ReLU: the first
    (["tanh", "expr:relu(x)"], "tanh"),                 # an expression is not the catalogue's ReLU
])
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
