"""`actlab compare` end to end: real training on small real data, resume after SIGKILL,
bad input, and the report opened in headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from actlab.catalogue import split_specs

CLI = [sys.executable, "-m", "actlab.cli"]
SMALL = ["--dataset", "iris", "--model", "mlp", "--epochs", "4", "--threads", "1"]


def actlab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "out"
    r = actlab("compare", *SMALL, "--activations", "relu,tanh,exponential", "--seeds", "3", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    return out, r


def test_compare_prints_the_table_and_writes_every_output(compared):
    out, r = compared
    for act in ("relu", "tanh", "exponential"):
        assert act in r.stdout
    assert "95% CI" in r.stdout and "p raw / Holm" in r.stdout and "test accuracy vs relu" in r.stdout
    assert f"report:  {out / 'report.html'}" in r.stdout
    for name in ("results.json", "curves.png", "time_accuracy.png", "diagnostics.png", "report.html"):
        assert (out / name).stat().st_size > 1000, name
    res = json.loads((out / "results.json").read_text())
    assert len(res["runs"]) == 9 and res["config"]["baseline"] == "relu"
    assert res["config"]["train"]["epochs"] == 4 and res["dataset"]["name"] == "iris"
    for run in res["runs"]:
        assert 1 <= len(run["result"]["epochs"]) <= 4
        assert {"train_accuracy", "val_accuracy", "val_loss", "seconds"} <= set(run["result"]["epochs"][0])
    rows = {row["activation"]: row for row in res["summary"]}
    accs = [run["result"]["test"]["accuracy"] for run in res["runs"] if run["activation"] == "tanh"]
    assert rows["tanh"]["mean"] == pytest.approx(sum(accs) / 3)
    assert rows["relu"]["ci_low"] <= rows["relu"]["mean"] <= rows["relu"]["ci_high"]
    assert 0 < rows["tanh"]["p_value"] <= 1 and rows["tanh"]["p_holm"] >= rows["tanh"]["p_value"]


def test_rerun_skips_every_finished_run(compared):
    out, _ = compared
    before = {p.name: p.read_bytes() for p in (out / "runs").iterdir()}
    r = actlab("compare", *SMALL, "--activations", "relu,tanh,exponential", "--seeds", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already done, skipped") == 9
    assert {p.name: p.read_bytes() for p in (out / "runs").iterdir()} == before


def test_a_different_configuration_on_the_same_out_is_refused(compared):
    out, _ = compared
    r = actlab("compare", "--dataset", "iris", "--epochs", "5", "--activations", "relu", "--seeds", "1", "--out", str(out))
    assert r.returncode == 2 and "different configuration" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_report_opens_in_headless_chromium(compared, chromium):
    out, _ = compared
    page = (out / "report.html").as_uri()
    dom = chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-500:]
    for act in ("relu", "tanh", "exponential"):
        assert f"<td>{act}</td>" in dom.stdout
    assert dom.stdout.count("data:image/png;base64,") == 3
    shot = out / "shot.png"
    r = chromium(page, f"--screenshot={shot}", "--window-size=1200,2400")
    assert r.returncode == 0 and shot.stat().st_size > 20_000


def test_diverging_activation_is_recorded_as_diverged(tmp_path):
    out = tmp_path / "div"
    r = actlab("compare", "--dataset", "digits", "--activations", "relu,exponential", "--seeds", "2", "--epochs", "3",
               "--optimizer", "sgd", "--lr", "1.0", "--threads", "1", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "(2/2 diverged)" in r.stdout
    res = json.loads((out / "results.json").read_text())
    status = {(x["activation"], x["seed"]): x["result"]["status"] for x in res["runs"]}
    assert status[("exponential", 0)] == status[("exponential", 1)] == "diverged"
    assert status[("relu", 0)] != "diverged"


def test_resume_after_sigkill_keeps_finished_runs_and_repeats_none(tmp_path):
    out = tmp_path / "killed"
    args = [*CLI, "compare", "--dataset", "digits", "--activations", "relu,tanh,elu", "--seeds", "3", "--epochs", "15",
            "--patience", "0", "--threads", "1", "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = out / "runs"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(runs.glob("*.json")) if runs.exists() else []) < 2:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert 2 <= len(done) < 9, "the kill must land mid-comparison"
    assert not (out / "results.json").exists()
    for content in done.values():
        json.loads(content)  # every run file left behind is complete
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already done, skipped") == len(done)
    after = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    assert len(after) == 9
    assert all(after[name] == content for name, content in done.items())  # not retrained
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 9


@pytest.mark.parametrize("args,expected", [
    (["--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["--model", "mpl"], "did you mean 'mlp'"),
    (["--activations", "relu,nosuch"], "unknown activation 'nosuch'"),
    (["--activations", "relu(__import__('os'))"], "relu"),
    (["--seeds", "0"], "--seeds must be at least 1"),
    (["--activations", "relu,frelu"], "does not work in model 'mlp'"),
    (["--activations", "relu,,tanh"], "empty name"),
    (["--baseline", "gelu"], "baseline 'gelu' is not among"),
    (["--width", "8", "--model", "seed-cnn"], "mlp model only"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "o"
    r = actlab("compare", "--dataset", "iris", "--epochs", "1", "--seeds", "1", "--activations", "relu,tanh", "--out", str(out), *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (out / "results.json").exists() and not list(out.glob("runs/*.json"))


def test_bad_csv_and_unwritable_out_are_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,x,0\n2,3,1\n")
    good = tmp_path / "good.csv"
    good.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cases = [
        (["--dataset", f"csv:{bad}", "--target", "label"], "'b'"),
        (["--dataset", f"csv:{good}", "--target", "nosuch"], "nosuch"),
        (["--dataset", f"csv:{good}"], "target"),
        (["--dataset", "iris", "--out", str(blocker / "sub")], "cannot write to --out"),
    ]
    for args, expected in cases:
        r = actlab("compare", "--epochs", "1", "--seeds", "1", "--activations", "relu", *(["--out", str(tmp_path / "o")] if "--out" not in args else []), *args)
        assert r.returncode == 2 and expected in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_csv_dataset_compares_for_real(tmp_path):
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    csv = tmp_path / "wine.csv"
    csv.write_text("\n".join([",".join([f"f{i}" for i in range(x.shape[1])] + ["cultivar"])] +
                             [",".join([*map(str, row), f"c{label}"]) for row, label in zip(x, y)]))
    out = tmp_path / "o"
    r = actlab("compare", "--dataset", f"csv:{csv}", "--target", "cultivar", "--activations", "relu,selu", "--seeds", "2",
               "--epochs", "30", "--threads", "1", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert all(row["mean"] > 0.8 for row in res["summary"])  # wine is easy for an MLP; 3 classes


def test_split_specs_keeps_commas_inside_arguments():
    assert split_specs("relu, leaky_relu(negative_slope=0.1), elu(alpha=1.0)") == [
        "relu", "leaky_relu(negative_slope=0.1)", "elu(alpha=1.0)"]


@pytest.mark.parametrize("preset,model,acts", [
    ("keras-activations", "mlp", ["linear", "sigmoid", "hard_sigmoid", "tanh", "softsign", "relu"]),
    ("selu-vs-relu", "seed-cnn", ["relu", "selu"]),
    ("frelu", "resnet", ["relu", "frelu"]),
])
def test_presets_reproduce_the_seeds_experiments(tmp_path, preset, model, acts):
    from actlab.data import available

    from tests.conftest import require_real

    require_real(available("fashion-mnist") or available("cifar10"), "no image data set (apt-get install dataset-fashion-mnist)")
    out = tmp_path / preset
    r = actlab("compare", "--preset", preset, "--epochs", "1", "--seeds", "2", "--limit", "300", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["model"] == model and res["config"]["baseline"] == "relu"
    assert res["config"]["activations"][:len(acts)] == acts or set(acts) <= set(res["config"]["activations"])
    assert res["dataset"]["name"] in ("cifar10", "fashion-mnist", "mnist", "kmnist")
    if preset == "selu-vs-relu":
        assert res["dataset"]["input_shape"] == [3, 32, 32]  # the seeds' CNN input, padded if Fashion-MNIST
        assert res["config"]["train"]["batch_size"] == 100
