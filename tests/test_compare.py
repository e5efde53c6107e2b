"""`actlab compare` end to end: real training on small real data, resume after SIGKILL,
bad input, and the report opened in headless Chromium."""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from actlab.catalogue import split_specs
from actlab.report.compare import why_text
from actlab.stats import NOT_CONVERGED
from tests.conftest import stopped_when

CLI = [sys.executable, "-m", "actlab.cli"]
SMALL = ["--dataset", "iris", "--model", "mlp", "--epochs", "4", "--threads", "1"]


def actlab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "out"
    r = actlab(
        "compare", *SMALL, "--activations", "relu,tanh,exponential", "--seeds", "3", "--out", str(out), "--quiet"
    )
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
    best = max(("tanh", "exponential"), key=lambda a: rows[a]["mean"])
    head, sentences = why_text(res)  # the best other function explained against the baseline
    assert head == f"{best} against relu" and sentences
    page = (out / "report.html").read_text()
    assert f"What differs most, {head}" in page and all(html.escape(x) in page for x in sentences)


def test_rerun_skips_every_finished_run(compared):
    out, _ = compared
    before = {p.name: p.read_bytes() for p in (out / "runs").iterdir()}
    r = actlab("compare", *SMALL, "--activations", "relu,tanh,exponential", "--seeds", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already done, skipped") == 9
    assert {p.name: p.read_bytes() for p in (out / "runs").iterdir()} == before


def test_a_different_configuration_on_the_same_out_is_refused(compared):
    out, _ = compared
    r = actlab(
        "compare", "--dataset", "iris", "--epochs", "5", "--activations", "relu", "--seeds", "1", "--out", str(out)
    )
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
    r = actlab(
        "compare",
        "--dataset",
        "digits",
        "--activations",
        "relu,exponential",
        "--seeds",
        "2",
        "--epochs",
        "3",
        "--optimizer",
        "sgd",
        "--lr",
        "1.0",
        "--threads",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    assert "(2/2 diverged)" in r.stdout
    res = json.loads((out / "results.json").read_text())
    status = {(x["activation"], x["seed"]): x["result"]["status"] for x in res["runs"]}
    assert status[("exponential", 0)] == status[("exponential", 1)] == "diverged"
    assert status[("relu", 0)] != "diverged"


def test_runs_cut_off_before_they_converge_get_no_verdict(tmp_path):
    """Two epochs at a learning rate far too small: every run still improving when it ends (its
    best epoch within the last max(2, 10%) epochs, no plateau stop), so neither a win nor a tie
    may be called; the table, results.json and the report say "not converged" and why. Iris at
    the default batch size is one optimizer step per epoch: one warning line says so."""
    out = tmp_path / "cut"
    r = actlab(
        "compare",
        "--dataset",
        "iris",
        "--activations",
        "relu,tanh",
        "--seeds",
        "3",
        "--epochs",
        "2",
        "--lr",
        "1e-5",
        "--threads",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert all(run["result"]["status"] == "finished" and len(run["result"]["epochs"]) == 2 for run in res["runs"])
    rows = {row["activation"]: row for row in res["summary"]}
    assert rows["relu"]["unconverged"] == rows["tanh"]["unconverged"] == 3
    assert not rows["relu"]["converged"] and rows["tanh"]["outcome"] == NOT_CONVERGED
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("tanh"))
    assert "not converged" in line and "* " not in line
    assert "not converged = " in r.stdout and "last 2 of 2 epochs" in r.stdout and "--epochs" in r.stdout
    assert "not converged" in (out / "report.html").read_text()
    warning = [ln for ln in r.stderr.splitlines() if "warning" in ln]
    assert len(warning) == 1 and warning[0].startswith(
        "actlab: warning: batch size 128 on 105 training examples is 1 optimizer step per epoch, 2 in 2 epochs"
    )
    assert "--batch-size" in warning[0]


def test_runs_stopped_by_their_plateau_rule_get_a_real_verdict(tmp_path):
    """The same comparison trained until validation stops improving (patience 3, at most 300
    epochs, 14 steps per epoch: no warning): every run stopped by patience, a real verdict."""
    out = tmp_path / "stopped"
    r = actlab(
        "compare",
        "--dataset",
        "iris",
        "--activations",
        "relu,tanh",
        "--seeds",
        "3",
        "--epochs",
        "300",
        "--batch-size",
        "8",
        "--lr",
        "0.01",
        "--patience",
        "3",
        "--threads",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert all(run["result"]["status"] == "stopped" for run in res["runs"])
    rows = {row["activation"]: row for row in res["summary"]}
    assert rows["relu"]["converged"] and rows["tanh"]["converged"] and rows["tanh"]["unconverged"] == 0
    assert rows["tanh"]["outcome"] in ("win", "tie", "loss")
    assert "not converged" not in r.stdout and "warning" not in r.stderr


def test_resume_after_sigkill_keeps_finished_runs_and_repeats_none(tmp_path):
    out = tmp_path / "killed"
    args = [
        *CLI,
        "compare",
        "--dataset",
        "digits",
        "--activations",
        "relu,tanh,elu",
        "--seeds",
        "3",
        "--epochs",
        "15",
        "--patience",
        "0",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = out / "runs"
    assert stopped_when(proc.pid, lambda: len(list(runs.glob("*.json")) if runs.exists() else []) >= 2, timeout=240)
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


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--dataset", "nosuch"], "unknown dataset 'nosuch'"),
        (["--model", "mpl"], "did you mean 'mlp'"),
        (["--activations", "relu,nosuch"], "unknown activation 'nosuch'"),
        (["--activations", "relu(__import__('os'))"], "relu"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--activations", "relu,frelu"], "does not work in model 'mlp'"),
        (["--activations", "relu,,tanh"], "empty name"),
        (["--baseline", "gelu"], "baseline 'gelu' is not among"),
        (["--width", "8", "--model", "seed-cnn"], "mlp model only"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "o"
    r = actlab(
        "compare",
        "--dataset",
        "iris",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--activations",
        "relu,tanh",
        "--out",
        str(out),
        *args,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (out / "results.json").exists() and not list(out.glob("runs/*.json"))


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--threads", "-1"], "threads must be at least 1"),
        (["--threads", "100000"], "threads must be at most"),
        (["--device", "bogus"], "unknown device 'bogus'"),
        (["--epochs", "1000000000000"], "epochs must be at most"),
        (["--batch-size", "-5"], "batch size must be at least 1"),
        (["--lr", "inf"], "learning rate must be a finite number"),
        (["--lr", "0"], "learning rate must be greater than 0"),
        (["--patience", "-1"], "patience must be at least 1"),
        (["--seeds", "1000000000000"], "--seeds must be at most"),
        (["--data-seed", "-1"], "seed must be at least 0"),
        (["--data-seed", "1000000000000"], "seed must be at most"),
        (["--width", "1000000000000"], "mlp width must be at most"),
        (["--depth", "1000000000000"], "mlp depth must be at most"),
        (["--limit", "-3"], "limit must be a positive integer"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--workers", "1000000000000"], "--workers must be at most"),
        (["--pack", "0"], "--pack must be at least 1"),
        (["--seeds", "nan"], "invalid int value"),
    ],
)
def test_every_numeric_option_is_checked_in_one_line(tmp_path, capsys, args, expected):
    """Through the command's own entry point, in this process (fast): exit 2, one line."""
    from actlab.cli import main

    out = tmp_path / "o"
    try:
        code = main(
            [
                "compare",
                "--dataset",
                "iris",
                "--epochs",
                "1",
                "--seeds",
                "1",
                "--activations",
                "relu",
                "--out",
                str(out),
                "--quiet",
                *args,
            ]
        )
    except SystemExit as e:  # argparse's own one-line errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (out / "results.json").exists() and not list(out.glob("runs/*.json"))


def test_cuda_without_cuda_is_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    r = actlab(
        "compare",
        "--dataset",
        "iris",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--activations",
        "relu",
        "--device",
        "cuda",
        "--out",
        str(tmp_path / "o"),
    )
    assert r.returncode == 2 and "no CUDA device" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


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
        r = actlab(
            "compare",
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--activations",
            "relu",
            *(["--out", str(tmp_path / "o")] if "--out" not in args else []),
            *args,
        )
        assert r.returncode == 2 and expected in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_csv_dataset_compares_for_real(tmp_path):
    from sklearn.datasets import load_wine

    x, y = load_wine(return_X_y=True)
    csv = tmp_path / "wine.csv"
    csv.write_text(
        "\n".join(
            [",".join([f"f{i}" for i in range(x.shape[1])] + ["cultivar"])]
            + [",".join([*map(str, row), f"c{label}"]) for row, label in zip(x, y, strict=True)]
        )
    )
    out = tmp_path / "o"
    r = actlab(
        "compare",
        "--dataset",
        f"csv:{csv}",
        "--target",
        "cultivar",
        "--activations",
        "relu,selu",
        "--seeds",
        "2",
        "--epochs",
        "30",
        "--threads",
        "1",
        "--out",
        str(out),
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert all(row["mean"] > 0.8 for row in res["summary"])  # wine is easy for an MLP; 3 classes


def test_split_specs_keeps_commas_inside_arguments():
    assert split_specs("relu, leaky_relu(negative_slope=0.1), elu(alpha=1.0)") == [
        "relu",
        "leaky_relu(negative_slope=0.1)",
        "elu(alpha=1.0)",
    ]


@pytest.mark.parametrize(
    "preset,model,acts",
    [
        ("keras-activations", "mlp", ["linear", "sigmoid", "hard_sigmoid", "tanh", "softsign", "relu"]),
        ("selu-vs-relu", "seed-cnn", ["relu", "selu"]),
        ("frelu", "resnet", ["relu", "frelu"]),
    ],
)
def test_presets_reproduce_the_seeds_experiments(tmp_path, preset, model, acts):
    from actlab.data import available
    from tests.conftest import require_real

    require_real(
        available("fashion-mnist") or available("cifar10"), "no image data set (apt-get install dataset-fashion-mnist)"
    )
    out = tmp_path / preset
    r = actlab(
        "compare", "--preset", preset, "--epochs", "1", "--seeds", "2", "--limit", "300", "--out", str(out), "--quiet"
    )
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["model"] == model and res["config"]["baseline"] == "relu"
    assert res["config"]["activations"][: len(acts)] == acts or set(acts) <= set(res["config"]["activations"])
    assert res["dataset"]["name"] in ("cifar10", "fashion-mnist", "mnist", "kmnist")
    if preset == "selu-vs-relu":
        assert res["dataset"]["input_shape"] == [3, 32, 32]  # the seeds' CNN input, padded if Fashion-MNIST
        assert res["config"]["train"]["batch_size"] == 100


# ------------------------------------------------------- several processes on one --out: claims
SHARED = [
    "compare",
    "--dataset",
    "iris",
    "--activations",
    "relu,tanh,elu,selu",
    "--seeds",
    "3",
    "--epochs",
    "20",
    "--patience",
    "0",
    "--pack",
    "1",
    "--threads",
    "1",
]


def _trainer_pids(out) -> dict[str, int]:
    return {
        p.name: int(json.loads(p.read_text())["trained_by"].rsplit(":", 1)[1]) for p in (out / "runs").glob("*.json")
    }


def _deterministic(results) -> str:
    """What must not depend on how many processes trained the runs (time does)."""
    runs = [
        (
            r["activation"],
            r["seed"],
            r["result"]["test"],
            r["result"]["best_epoch"],
            [{k: v for k, v in e.items() if "seconds" not in k} for e in r["result"]["epochs"]],
        )
        for r in results["runs"]
    ]
    rows = [{k: v for k, v in row.items() if "seconds" not in k} for row in results["summary"]]
    return json.dumps([runs, rows])  # as text: NaN (the baseline's p-value) equals NaN


def test_two_processes_on_one_out_split_the_runs_and_train_each_once(tmp_path):
    out = tmp_path / "shared"
    procs = [
        subprocess.Popen([*CLI, *SHARED, "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        errs.append(err)
    # every run trained exactly once: 12 trainings in all, each process reads the other's runs
    trained = [e.count(", test acc") for e in errs]
    assert sum(trained) == 12 and all(e.count(", test acc") + e.count("already done, skipped") == 12 for e in errs)
    pids = _trainer_pids(out)
    assert len(pids) == 12 and set(pids.values()) <= {p.pid for p in procs}
    assert sorted(trained) == sorted(list(pids.values()).count(p.pid) for p in procs)
    assert not list((out / "runs").glob("*.claim"))
    alone = tmp_path / "alone"
    r = actlab(*SHARED, "--out", str(alone), "--quiet")
    assert r.returncode == 0, r.stderr[-2000:]
    assert _deterministic(json.loads((out / "results.json").read_text())) == _deterministic(
        json.loads((alone / "results.json").read_text())
    )


def test_a_claim_of_a_killed_process_is_taken_over(tmp_path):
    out = tmp_path / "k"
    args = [*CLI, *SHARED, "--out", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = out / "runs"
    deadline = time.time() + 240
    while time.time() < deadline and not (runs.exists() and list(runs.glob("*.claim"))):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    claims = list(runs.glob("*.claim"))
    assert claims, "the kill must leave claims behind (a pack is claimed whole)"
    assert all(json.loads(c.read_text())["pid"] == proc.pid for c in claims)
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)  # would wait for ever if not taken over
    assert r.returncode == 0, r.stderr[-2000:]
    assert not list(runs.glob("*.claim"))
    pids = _trainer_pids(out)
    assert len(pids) == 12 and proc.pid not in pids.values()
    assert all(c.name.replace(".claim", ".json") in pids for c in claims)


CLAIMER = """
import sys
from actlab.execution.claims import claim
print("ready", flush=True)
for line in sys.stdin:
    print(claim(line.strip()), flush=True)
"""


def test_a_stale_claim_goes_to_exactly_one_of_several_processes(tmp_path):
    from actlab.execution.claims import claim, claim_holder, release

    path = tmp_path / "unit.claim"
    assert claim(path) and not claim(path)  # held by a live process: this one
    release(path)
    assert not path.exists() and claim(path)
    release(path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = {"pid": int(dead.stdout), "host": claim_holder.__globals__["socket"].gethostname(), "time": 0}
    path.write_text(json.dumps({**stale, "host": "another-machine"}))
    assert not claim(path), "another machine's claim is respected"
    path.write_text(json.dumps({**stale, "pid": os.getpid(), "start": "1"}))
    assert claim(path) and claim_holder(path)["start"] != "1", "a reused pid's claim is taken over"
    release(path)
    path.write_text("")  # a claim being written: respected until it has aged
    assert not claim(path)
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert claim(path)
    release(path)
    # four processes see one dead claim at once: exactly one takes it over, every time
    procs = [
        subprocess.Popen([sys.executable, "-c", CLAIMER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    try:
        assert all(p.stdout.readline().strip() == "ready" for p in procs)
        for k in range(10):
            one = tmp_path / f"u{k}.claim"
            one.write_text(json.dumps(stale))
            for p in procs:
                p.stdin.write(f"{one}\n")
                p.stdin.flush()
            won = [p.stdout.readline().strip() for p in procs]
            assert sorted(won) == ["False"] * 3 + ["True"], won
            assert claim_holder(one)["pid"] in {p.pid for p in procs}
    finally:
        for p in procs:
            p.kill()


def test_a_constant_expression_is_refused_before_any_data_loads(tmp_path):
    out = tmp_path / "o"
    for spec in ("expr:3", "expr:1/0"):
        r = actlab(
            "compare",
            "--dataset",
            "nosuch-dataset-never-loaded",
            "--activations",
            f"relu,{spec}",
            "--seeds",
            "1",
            "--out",
            str(out),
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "is a constant" in r.stderr and not out.exists()


def test_damaged_run_files_are_trained_again_and_kept_aside(tmp_path):
    out = tmp_path / "o"
    args = [
        "compare",
        "--dataset",
        "iris",
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--activations",
        "relu,tanh,elu,selu",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    r = actlab(*args)
    assert r.returncode == 0, r.stderr
    runs = out / "runs"
    good = json.loads((runs / "relu__seed0.json").read_text())
    (runs / "relu__seed0.json").write_text(json.dumps([good]))  # a list
    (runs / "tanh__seed0.json").write_text(json.dumps({k: v for k, v in good.items() if k != "result"}))  # no result
    acc = json.loads((runs / "elu__seed0.json").read_text())
    acc["result"]["test"]["accuracy"] = "0.9"  # a string where a number belongs
    (runs / "elu__seed0.json").write_text(json.dumps(acc))
    (runs / "selu__seed0.json").write_bytes(b'\xff{"format": "actlab-unit"')  # not UTF-8, truncated
    damaged = {p.name: p.read_bytes() for p in runs.glob("*.json")}
    r = actlab(*args)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    for name, content in damaged.items():  # nothing lost: each damaged file kept, each run trained again
        assert (runs / (name + ".damaged")).read_bytes() == content
        rec = json.loads((runs / name).read_text())
        assert isinstance(rec["result"]["test"]["accuracy"], float)
    res = json.loads((out / "results.json").read_text())
    assert {row["activation"] for row in res["summary"]} == {"relu", "tanh", "elu", "selu"}
