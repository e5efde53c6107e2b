"""Functions across tasks: the ranking statistics against SciPy and Demšar (2006), how a task is
written, ``actlab compare --tasks`` (real training, resumed), and ``evolve --transfer-to``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from actlab._errors import ActlabError
from actlab.api._compare import CompareResult
from actlab.cli._main import main
from actlab.execution.tasks import parse_tasks, split_task
from actlab.execution.transfer import format_ranking
from actlab.report.compare import write_report
from actlab.stats import OUTCOMES, critical_difference, friedman, rank_post_hoc, ranking, ranks, same_groups
from actlab.studies.compare import CompareConfig, run_tasks
from actlab.studies.evolve import EvolveConfig, run_evolution
from actlab.training import TrainConfig


# ----------------------------------------------------------------- the statistics
def test_ranks_share_ties_and_friedman_agrees_with_scipy():
    rng = np.random.default_rng(3)
    table = np.round(rng.random((7, 4)), 1)  # one decimal: ties within tasks
    table[2] = [0.5, 0.5, 0.5, 0.5]
    rk = ranks(table.tolist())
    assert rk[2] == [2.5] * 4  # a task where all tie: the average of ranks 1 to 4
    for row, r in zip(table, rk, strict=True):  # 1 = the highest score; ties share the average of their ranks
        assert r == stats.rankdata(-row).tolist()
        for i, v in enumerate(row):
            assert r[i] == 1 + sum(w > v for w in row) + (sum(w == v for w in row) - 1) / 2
    f = friedman(rk)
    want = stats.friedmanchisquare(*table.T)
    assert f["statistic"] == pytest.approx(want.statistic, rel=1e-9) and f["p_value"] == pytest.approx(want.pvalue)
    n, k = table.shape  # Iman and Davenport's F from the chi-square (Demšar 2006, eq. 2)
    assert f["f_statistic"] == pytest.approx((n - 1) * f["statistic"] / (n * (k - 1) - f["statistic"]))
    assert friedman([[1, 2, 3], [1, 2, 3]])["f_p_value"] is None  # perfect agreement: F is infinite
    assert ranks([[0.9, math.nan, 0.1]]) == [[1.0, 3.0, 2.0]]  # no score ranks last


def test_critical_difference_and_post_hoc_match_demsar_2006():
    # Table 5(a): q_0.05 of the Nemenyi test for 2..10 classifiers
    for k, q in zip(range(2, 11), (1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164), strict=True):
        assert critical_difference(k, 10) / math.sqrt(k * (k + 1) / 60) == pytest.approx(q, abs=1e-3)
    # section 3.2.4: four variants of C4.5 on 14 data sets, CD = 1.25; C4.5+m+cf and C4.5+m rank significantly better
    # than C4.5 after Holm (p 0.016 and 0.019 against 0.05/3 and 0.05/2), C4.5+cf does not (p 0.607)
    assert critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)
    names = ["c4.5", "c4.5+m", "c4.5+cf", "c4.5+m+cf"]
    post = {v["function"]: v for v in rank_post_hoc(names, [3.143, 2.000, 2.893, 1.964], "c4.5", 14)}
    # (the paper's ranks are rounded to three decimals, so are its p-values)
    assert [post[n]["p_value"] for n in names[1:]] == pytest.approx([0.019, 0.607, 0.016], abs=0.002)
    assert [post[n]["outcome"] for n in names[1:]] == ["win", "tie", "win"]
    # the groups a CD diagram joins, within the critical difference of each other: there all four (Nemenyi finds
    # no difference there, as the paper says); maximal groups only, best first
    assert same_groups([3.143, 2.000, 2.893, 1.964], 1.25) == [[3, 1, 2, 0]]
    assert same_groups([1.0, 2.0, 3.5, 4.0], 2.0) == [[0, 1], [1, 2], [2, 3]]


def test_ranking_with_one_task_says_why_there_is_no_test():
    r = ranking(["relu", "tanh"], [[0.9, 0.8]], "relu")
    assert r["average_rank"] == [1.0, 2.0] and r["friedman"] is None and "at least 2" in r["note"]


def test_the_cross_task_table_prints_every_task_name_whole():
    tasks = ["fashion-mnist:10000/mlp", "wine/mlp", "my_models.py:tiny_resnet"]
    means = [[0.85, 0.84], [0.97, 0.96], [0.70, 0.71]]
    text = format_ranking(tasks, means, ranking(["relu", "tanh"], means, "relu"))
    head, rule, *rows = text.splitlines()
    assert all(f" {t} " in f" {head} " for t in tasks)  # not cut to a name that reads as another limit
    assert len({len(head), len(rule), *(len(r) for r in rows[:2])}) == 1  # the columns line up
    assert rows[0].startswith("relu") and "0.850 (1)" in rows[0] and "0.700 (2)" in rows[0]


# ----------------------------------------------------------------- how a task is written
def test_a_task_is_cut_where_a_dataset_ends_and_a_model_begins():
    assert split_task("wine/mlp") == ("wine", "mlp")
    assert split_task("csv:data/x.csv") == ("csv:data/x.csv", None)  # a path is no model
    assert split_task("csv:data/x.csv/cnn1d") == ("csv:data/x.csv", "cnn1d")
    assert split_task("data/load.py:load/nets/net.py:build") == ("data/load.py:load", "nets/net.py:build")
    assert split_task("data/load.py:load") == ("data/load.py:load", None)  # 'data' is no dataset
    assert parse_tasks("iris, wine/cnn1d,breast_cancer", "mlp") == [
        {"dataset": "iris", "model": "mlp", "limit": None},
        {"dataset": "wine", "model": "cnn1d", "limit": None},
        {"dataset": "breast_cancer", "model": "mlp", "limit": None},
    ]
    bad_cases = (
        ("iris,iris/mlp", "twice"),
        ("iris,,wine", "a task is DATASET"),
        ("irs/mlp", "no dataset"),
        ("digits/cnn", "no dataset"),  # 'cnn' is no model, so 'digits/cnn' is read as one name
        ("digits:0", "limit is a whole number"),
    )
    for bad, words in bad_cases:
        with pytest.raises(ActlabError, match=words):
            parse_tasks(bad, "mlp")


@pytest.mark.parametrize(
    "extra, words", [(["--tasks", "iris,wine,iris"], "twice"), (["--tasks", "iris", "--dataset", "wine"], "--dataset")]
)
def test_a_bad_task_is_one_line_on_the_command_line(tmp_path, capsys, extra, words):
    assert main(["compare", *extra, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("actlab: error:") and words in err[0]
    assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------- compare --tasks
def _hand_ranks(means: list[float]) -> list[float]:
    return [1 + sum(m > v for m in means) + (sum(m == v for m in means) - 1) / 2 for v in means]


def test_compare_over_tasks_ranks_its_own_means_and_resumes_every_run(tmp_path):
    out = tmp_path / "tasks"
    config = CompareConfig(
        activations=["relu", "tanh", "sigmoid"],
        seeds=2,
        train=TrainConfig(epochs=2, batch_size=16, diagnostics=False, threads=1),
        model_options={"width": 8},
        data_options={"limit": 300},
    )
    res = run_tasks(config, parse_tasks("iris,wine/mlp", "mlp"), out, progress=False)
    cross = res["cross_task"]
    assert cross["tasks"] == ["iris/mlp", "wine/mlp"] and cross["functions"] == ["relu", "tanh", "sigmoid"]
    for t, task in enumerate(res["tasks"]):
        own = json.loads((out / task["folder"] / "results.json").read_text())
        assert own["dataset"]["name"] == ["iris", "wine"][t]
        assert own["config"]["model_options"] == {"width": 8} and own["config"]["train"]["epochs"] == 2
        assert sorted((r["activation"], r["seed"]) for r in own["runs"]) == sorted(
            (a, s) for a in ("relu", "tanh", "sigmoid") for s in (0, 1)
        )  # the same functions, seeds and budget on every task
        means = [r["mean"] for r in own["summary"]]
        assert cross["means"][t] == means and cross["ranks"][t] == _hand_ranks(means)
    assert cross["average_rank"] == pytest.approx(np.mean([_hand_ranks(m) for m in cross["means"]], 0).tolist())
    assert cross["friedman"] is not None and 0 <= cross["friedman"]["p_value"] <= 1
    assert cross["reference"] == "relu" and [v["function"] for v in cross["versus_reference"]] == ["tanh", "sigmoid"]
    result = CompareResult(res, out)
    table = result.table()
    assert "iris/mlp" in table and "wine/mlp" in table and "Friedman" in table
    assert result.best["average_rank"] == min(cross["average_rank"])
    assert set(result.to_pandas()["task"]) == {"iris/mlp", "wine/mlp"} and len(result.to_pandas()) == 12
    page = write_report(res, out).read_text()
    assert "Critical-difference diagram" in page and "class='ranking'" in page and "iris__mlp/report.html" in page
    assert (out / "critical_difference.png").stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["cross_task"]["ranks"] == cross["ranks"]
    # the same comparison again: every run is read back, none trained
    files = {p: p.stat().st_mtime_ns for p in out.glob("*/runs/*.json")}
    assert len(files) == 12
    again = run_tasks(config, parse_tasks("iris,wine/mlp", "mlp"), out, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/runs/*.json")} == files
    assert again["cross_task"] == cross


# ----------------------------------------------------------------- evolve --transfer-to
def _fitness(task):
    """A stand-in for the evolution's trainings: the plan's text decides (the transfer trains for real)."""
    text = json.dumps(task["plan"], sort_keys=True)
    return {"fitness": (sum(map(ord, text)) % 97) / 97, "status": "ok", "test_accuracy": 0.5, "converged": True}


def test_evolve_transfers_its_final_contenders_with_the_final_seeds(tmp_path):
    cfg = EvolveConfig(
        dataset="iris",
        data_options={"limit": 300},
        model_options={"width": 8},
        population=4,
        generations=1,
        hall_of_fame=1,
        final_seeds=2,
        final_epochs=2,
        catalogue=["tanh"],
        transfer_to="wine,digits",
        train=TrainConfig(epochs=2, batch_size=16, patience=None, diagnostics=False, threads=1),
    )
    assert cfg.transfer_to == ["wine/mlp", "digits/mlp"]
    res = run_evolution(cfg, tmp_path / "evo", progress=False, evaluator=_fitness)
    final = res["final"]
    table = final["transfer"]
    assert table["seeds"] == final["contenders"][0]["seeds"] == [1, 2]  # the final seeds, not the evolution's
    assert table["functions"] == ["evolved", "relu", "tanh"] and table["reference"] == "relu"
    assert [t["task"] for t in table["tasks"]] == ["wine/mlp", "digits/mlp"]
    for task in table["tasks"]:
        assert [r["function"] for r in task["rows"]] == table["functions"]
        assert all(len(r["test_accuracy"]) == 2 and 0 <= r["mean"] <= 1 for r in task["rows"])
        outcomes = {r["function"]: r["outcome"] for r in task["rows"]}
        assert outcomes.pop("relu") == "reference" and set(outcomes.values()) <= set(OUTCOMES)
    assert len(table["ranking"]["average_rank"]) == 3 and table["ranking"]["friedman"] is not None
    units = [json.loads(p.read_text()) for p in (tmp_path / "evo" / "final" / "transfer").glob("*.json")]
    seeds = sorted((u["unit"]["dataset"], u["unit"]["train"]["seed"], u["unit"]["train"]["epochs"]) for u in units)
    assert seeds == sorted((d, s, 2) for d in ("wine", "digits") for s in (1, 2) for _ in range(3))
    assert json.loads((tmp_path / "evo" / "results.json").read_text())["final"]["transfer"]["seeds"] == [1, 2]


def test_two_contenders_with_one_plan_train_it_once_and_share_its_runs(tmp_path):
    from actlab.execution import Runner, Task
    from actlab.execution.transfer import transfer_to
    from actlab.training import TrainConfig

    base = Task(dataset="iris", train=TrainConfig(epochs=1, threads=1), data_options={"limit": 60})
    with Runner() as runner:
        table = transfer_to({"a": "relu", "b": "relu"}, base, ["wine"], [1], runner, tmp_path, "a", progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 1  # one training for both names
    rows = {r["function"]: r for r in table["tasks"][0]["rows"]}
    assert rows["a"]["test_accuracy"] == rows["b"]["test_accuracy"]
