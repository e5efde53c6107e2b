"""The surrogate that ranks activation functions before training them: its features on every
catalogue entry and on hostile expressions, its leave-one-out rank correlation on real
trainings, ``actlab screen`` killed and resumed, and ``actlab search --surrogate``."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import pytest

from actlab._errors import ActlabError
from actlab._progress import Progress
from actlab.catalogue import entries
from actlab.execution import Runner, load_data
from actlab.stats import rank_correlation
from actlab.studies.screen import ScreenConfig, Trainings, candidates, run_screen
from actlab.studies.search import SearchConfig
from actlab.studies.search.run import run_search
from actlab.surrogate import BLOCKS, USUAL, Surrogate, Task, compute_features, feature_points
from actlab.training import TrainConfig
from tests.conftest import stopped_when

CLI = [sys.executable, "-m", "actlab.cli"]
HOSTILE = [
    "expr:exp(exp(x))",
    "expr:exp(exp(exp(x)))",
    "expr:x * 1e38 * x",
    "expr:exp(x * 100) - exp(x * 100)",
    "expr:log(x) / x",
    "expr:1 / x",
    "expr:" + "tanh(" * 40 + "x" + ")" * 40,
    "expr:x * nan",
    "expr:x * 1e999",
]


def numbers(f: dict) -> list[float]:
    return [*f["outputs"], *f["slopes"], *f["fisher"], *f["init"].values()]


def timeless(f: dict) -> dict:
    return {k: v for k, v in f.items() if k != "seconds"}


@pytest.fixture(scope="module")
def iris():
    return load_data({"dataset": "iris", "data_seed": 0, "data_options": {}})


def test_features_are_finite_and_deterministic_for_every_entry_and_hostile_expressions(iris, tmp_path):
    task = Task(dataset="iris", batch=64)
    specs = [e.name for e in entries()] + HOSTILE
    first = {s: compute_features(s, task, iris) for s in specs}
    layout = {b: len(first["relu"][b]) for b in BLOCKS}
    for s, f in first.items():
        assert all(isinstance(v, float) and math.isfinite(v) for v in numbers(f)), s
        assert {b: len(f[b]) for b in BLOCKS} == layout, s  # one layout for all, so they can be compared
        again = compute_features(s, task, iris)
        assert timeless(again) == timeless(f), s
    assert not first["frelu"]["ok"] and "does not run in model 'mlp'" in first["frelu"]["note"]
    assert first["relu"]["ok"] and first["expr:exp(exp(x))"]["ok"]
    assert first["expr:exp(exp(x))"]["init"]["nonfinite"] > 0  # the overflow is measured, then replaced
    assert first["relu"]["init"]["zero_input"] > 0.3 and first["tanh"]["init"]["zero_input"] == 0
    # the folder cache: written once, read back equal, a damaged file computed again
    folder = tmp_path / "features"
    a = Surrogate(task, iris, folder=folder)
    for s in ("relu", "expr:1 / x"):
        a.features(s)
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2
    files[0].write_text('{"format": "actlab-surrogate-features", "outputs": [NaN]')
    short = json.loads(files[1].read_text())
    files[1].write_text(json.dumps({**short, "fisher": short["fisher"][:-1]}))  # valid JSON, wrong layout
    b = Surrogate(task, iris, folder=folder)
    assert [timeless(b.features(s)) for s in ("relu", "expr:1 / x")] == [
        timeless(a.features(s)) for s in ("relu", "expr:1 / x")
    ]
    assert [len(json.loads(f.read_text())["fisher"]) for f in files] == [layout["fisher"]] * 2  # both rewritten whole


def test_leave_one_out_rank_correlation_on_real_trainings(tmp_path):
    specs = [
        "relu",
        "tanh",
        "elu",
        "selu",
        "sigmoid",
        "softsign",
        "silu",
        "softplus",
        "step",
        "cos",
        "exp",
        "hardshrink",
        "gaussian",
        "sin",
        "abs",
        "square",
    ]
    config = ScreenConfig(
        dataset="digits",
        candidates=specs,
        seeds=1,
        train=TrainConfig(epochs=2, patience=None, monitor="val_accuracy", diagnostics=False),
    )
    with Runner() as runner:
        trainings = Trainings(config, runner, tmp_path, Progress(len(specs), enabled=False), {})
        trainings.train(specs)
    real = [trainings.score(s) for s in specs]
    errors = {s: r["error"] for s in specs for r in trainings.records[s] if "error" in r}
    assert not errors and None not in real, errors
    assert max(real) > 0.6 and min(real) < 0.3  # good and bad functions, trained for real
    mean, std = Surrogate(config.task()).leave_one_out(specs, real)
    assert all(0 <= m <= 1 for m in mean) and all(s >= 0 for s in std)
    rho = rank_correlation(mean, real)
    assert rho["spearman"] > 0.4 and rho["p_value"] < 0.05, rho


def test_bad_specs_and_an_unfit_surrogate_are_one_line(iris):
    for bad, expected in (
        (["relu", "nosuch"], "unknown activation"),
        (["relu", "relu"], "listed twice"),
        (["swish", "silu"], "same function as 'swish'"),
        (["expr:3"], "is a constant"),
        ([], "empty"),
    ):
        with pytest.raises(ActlabError, match=expected):
            candidates(bad)
    sur = Surrogate(Task(dataset="iris"), iris)
    for bad, expected in (
        ("nosuch", "unknown activation"),
        ("expr:x +", "expression"),
        ("relu(slope=2)", "no argument"),
    ):
        with pytest.raises(ActlabError, match=expected):
            sur.features(bad)
    with pytest.raises(ActlabError, match="not fit yet"):
        sur.predict(["relu"])
    with pytest.raises(ActlabError, match="at least 2"):
        sur.fit(["relu", "frelu"], [0.9, 0.1])


SCREEN = [
    "--dataset",
    "iris",
    "--candidates",
    "relu,tanh,elu,selu,sigmoid,softplus,softsign,silu,gelu,mish,sin,cos,step,frelu,expr:x * tanh(x)",
    "--train-top",
    "3",
    "--train-random",
    "2",
    "--seeds",
    "2",
    "--epochs",
    "30",
    "--patience",
    "0",
    "--threads",
    "1",
]


def screen_config() -> ScreenConfig:
    from actlab.cli import build_parser
    from actlab.cli._screen import _config

    return _config(build_parser().parse_args(["screen", *SCREEN]))


def without_timing(path) -> dict:
    d = json.loads(path.read_text())
    d.pop("timing")
    return d


def test_screen_killed_and_resumed_gives_the_results_of_an_uninterrupted_run(tmp_path):
    reference = tmp_path / "whole"
    run_screen(screen_config(), reference, progress=False, say=lambda text: None)
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*CLI, "screen", *SCREEN, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    units = out / "units"
    assert stopped_when(
        proc.pid, lambda: len(list(units.glob("*.json")) if units.exists() else []) >= 18, timeout=240, step=0.01
    )
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.read_bytes() for p in units.glob("*.json")}
    assert 18 <= len(done) < 26, "the kill must land between the top picks"  # 8 usual, 3 top, 2 random; 2 seeds
    assert not (out / "results.json").exists()
    r = subprocess.run([*CLI, "screen", *SCREEN, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already done, skipped") == len(done)
    assert all((units / name).read_bytes() == content for name, content in done.items())  # none trained again
    assert without_timing(out / "results.json") == without_timing(reference / "results.json")
    res = json.loads((out / "results.json").read_text())
    roles = [row["role"] for row in res["candidates"]]
    assert roles.count("usual") == 8 and roles.count("top") == 3 and roles.count("random") == 2
    frelu = next(row for row in res["candidates"] if row["spec"] == "frelu")
    assert not frelu["runs_in_model"] and frelu["rank"] == len(res["candidates"])
    assert all(row["predicted_before"] is not None for row in res["candidates"] if row["role"] in ("top", "random"))
    assert res["correlation"]["leave_one_out"]["n"] == 13
    assert all(len(row["val_accuracy_seeds"]) == 2 for row in res["candidates"] if row["role"])
    assert "Spearman" in r.stdout and f"report:  {out / 'report.html'}" in r.stdout
    for name in ("predicted.png", "map.png", "report.html"):
        assert (out / name).stat().st_size > 1000


def test_the_screens_best_function_and_relu_transfer_to_other_tasks(tmp_path):
    """--transfer-to: the best trained function other than ReLU, and ReLU, train on other tasks with
    --final-seeds fresh seeds and the screen's training; a rerun trains nothing again."""
    import actlab

    options = {"dataset": "iris", "candidates": "relu,tanh,expr:x*tanh(x)", "train_top": 1, "train_random": 0}
    options |= {"seeds": 1, "epochs": 2, "batch_size": 16, "threads": 1, "quiet": True, "out": tmp_path / "s"}
    result = actlab.screen(**options, transfer_to="wine:60,breast_cancer:80", final_seeds=2)
    table = result.results["transfer"]
    best = max(
        (r for r in result.results["candidates"] if r["val_accuracy"] is not None and r["spec"] != "relu"),
        key=lambda r: r["val_accuracy"],
    )["spec"]
    assert table["functions"] == [best, "relu"] and table["reference"] == "relu" and table["seeds"] == [1, 2]
    assert [t["task"] for t in table["tasks"]] == ["wine:60/mlp", "breast_cancer:80/mlp"]
    runs = [json.loads(p.read_text()) for p in (tmp_path / "s" / "transfer").glob("*.json")]
    assert len(runs) == 2 * 2 * 2 and {r["unit"]["train"]["seed"] for r in runs} == {1, 2}
    assert all(r["unit"]["train"]["restore_best"] and r["unit"]["train"]["epochs"] == 2 for r in runs)
    assert {(r["unit"]["dataset"], r["unit"]["data_options"]["limit"]) for r in runs} == {
        ("wine", 60),
        ("breast_cancer", 80),
    }
    assert "transfer to other tasks" in result.table()
    assert "Transfer to other tasks" in (tmp_path / "s" / "report.html").read_text()
    files = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (tmp_path / "s" / "transfer").glob("*.json")}
    again = actlab.screen(**options, transfer_to="wine:60,breast_cancer:80", final_seeds=2)
    assert again.results["transfer"] == table
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in files} == files  # nothing trained again
    with pytest.raises(ActlabError, match="--final-seeds applies to the --transfer-to tasks"):
        actlab.screen(**{**options, "out": tmp_path / "t"}, final_seeds=2)  # nothing would use them
    assert not (tmp_path / "t").exists()


def search_config(trials: int) -> SearchConfig:
    return SearchConfig(
        dataset="iris",
        layers=3,
        candidates=["relu", "tanh", "elu", "sigmoid", "sin", "cos", "step", "softsign", "gelu", "softmax"],
        surrogate=4,
        trials=trials,
        sampler="random",
        pruner="none",
        top_k=0,
        train=TrainConfig(epochs=3, patience=None, monitor="val_accuracy"),
    )


def test_search_with_a_surrogate_is_deterministic_and_resumes_without_training_it_again(tmp_path):
    a = run_search(search_config(3), tmp_path / "a", progress=False)
    b = run_search(search_config(3), tmp_path / "b", progress=False)
    kept = a["space"]["candidates"]
    assert len(kept) == 4 and set(kept) <= set(search_config(3).candidates)
    assert a["surrogate"] == b["surrogate"] and b["space"]["candidates"] == kept
    assert [t["value"] for t in a["trials"]] == [t["value"] for t in b["trials"]]
    assert set(a["surrogate"]["usual"]) == set(USUAL) and a["config"]["candidates"] == search_config(3).candidates
    files = {p.name: p.read_bytes() for p in (tmp_path / "a" / "surrogate").glob("usual-*.json")}
    assert len(files) == 8
    c = run_search(search_config(5), tmp_path / "a", progress=False)  # resumed with a larger budget
    assert c["space"]["candidates"] == kept and c["surrogate"] == a["surrogate"] and c["counts"]["done"] == 5
    assert {p.name: p.read_bytes() for p in (tmp_path / "a" / "surrogate").glob("usual-*.json")} == files


def test_compare_and_evolve_reports_show_the_functions_in_the_feature_embedding(tmp_path, capsys):
    """--map: each function's place in the surrogate's features, coloured by its real accuracy."""
    from actlab.cli import main

    out = tmp_path / "cmp"
    acts = "relu,tanh,elu,sigmoid,frelu"
    assert (
        main(
            [
                "compare",
                "--dataset",
                "iris",
                "--activations",
                acts,
                "--seeds",
                "2",
                "--epochs",
                "2",
                "--map",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 2
    )  # frelu needs images: refused before anything runs
    acts = "relu,tanh,elu,sigmoid"
    assert (
        main(
            [
                "compare",
                "--dataset",
                "iris",
                "--activations",
                acts,
                "--seeds",
                "2",
                "--epochs",
                "2",
                "--map",
                "--quiet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads((out / "results.json").read_text())
    pts = res["feature_map"]["points"]
    assert [p["name"] for p in pts] == acts.split(",")
    assert all(len(p["xy"]) == 2 and all(math.isfinite(v) for v in p["xy"]) for p in pts)
    assert [p["accuracy"] for p in pts] == [r["mean"] for r in res["summary"]]
    assert len({tuple(p["xy"]) for p in pts}) == len(pts)  # different functions, different places
    assert "Map of the functions" in (out / "report.html").read_text() and (out / "map.png").stat().st_size > 5000
    again = feature_points(Task("iris"), [(p["name"], p["spec"], p["accuracy"]) for p in pts])
    assert [p["xy"] for p in again["points"]] == [p["xy"] for p in pts]  # deterministic
    evo = tmp_path / "evo"
    assert (
        main(
            [
                "evolve",
                "--dataset",
                "iris",
                "--population",
                "4",
                "--generations",
                "1",
                "--epochs",
                "1",
                "--hof",
                "2",
                "--final-seeds",
                "2",
                "--final-epochs",
                "2",
                "--catalogue",
                "elu,tanh",
                "--map",
                "--quiet",
                "--out",
                str(evo),
            ]
        )
        == 0
    )
    res = json.loads((evo / "results.json").read_text())
    names = [p["name"] for p in res["feature_map"]["points"]]
    assert names == [r["name"] for r in res["final"]["contenders"]] and len(names) == 5
    assert "Map of the functions" in (evo / "report.html").read_text()
