"""`actlab evolve`: real short evolutions in all three modes, selection that maximises, checks and
the cache before training, kill and resume, local worker processes and a Dask LocalCluster giving
the result of a serial run, the final test evaluation, best.json, and bad input."""

from __future__ import annotations

import html
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import actlab
from actlab._errors import ActlabError
from actlab.catalogue import expr as E
from actlab.catalogue.expr import _process
from actlab.execution import Runner
from actlab.report.evolve import write_evolve_report
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import Fitness, make_task, sanitise
from actlab.studies.evolve.loop import Evolution
from actlab.studies.evolve.run import run_evolution
from actlab.surrogate.shape import shape_sentences
from actlab.training import TrainConfig
from actlab.training.why import explain
from tests.conftest import stopped_when

CLI = [sys.executable, "-m", "actlab.cli"]
# Real but small: 400 MNIST-1D training examples, a 32-wide MLP, 3 epochs per candidate, 10 per final run (long
# enough for the final comparisons to converge, see actlab.stats.converged).
SMALL = {
    "dataset": "mnist1d",
    "data_options": {"limit": 400},
    "model_options": {"width": 32},
    "population": 6,
    "generations": 3,
    "final_seeds": 2,
    "final_epochs": 10,
    "catalogue": ["elu", "tanh"],
    "hall_of_fame": 2,
    "train": TrainConfig(
        epochs=3, batch_size=32, lr=3e-3, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
    ),
}
SMALL_CLI = [
    "--dataset",
    "mnist1d",
    "--limit",
    "400",
    "--width",
    "32",
    "--population",
    "6",
    "--epochs",
    "3",
    "--hof",
    "2",
    "--final-seeds",
    "2",
    "--final-epochs",
    "10",
    "--catalogue",
    "elu,tanh",
    "--quiet",
]


def actlab_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr and len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err


def _all_fitness(results) -> list[float]:
    return [h["best"] for h in results["history"]]


# ----------------------------------------------------------------- the three modes, for real
@pytest.mark.parametrize("mode", ["single", "triple", "coevolution"])
def test_a_real_evolution_in_each_mode(tmp_path, mode):
    out = tmp_path / mode
    res = run_evolution(EvolveConfig(mode=mode, **SMALL), out, progress=False)
    write_evolve_report(res, out)  # the study returns its results; the layer above writes the report
    kept = list((out / "units").glob("*.json"))  # every finished fitness training, for a resume after a kill
    assert res["totals"]["evaluations"] - res["totals"]["failed"] <= len(kept) <= res["totals"]["evaluations"]
    for f in kept:  # a fitness reads validation alone: the test split is never scored during the search
        rec = json.loads(f.read_text())
        assert rec["unit"]["train"]["final_scores"] is False and rec["result"]["test"] == {}
    slots = ["all"] if mode == "single" else ["input", "hidden", "output"]
    assert [h["generation"] for h in res["history"]] == [0, 1, 2]
    hof = res["hall_of_fame"]
    assert hof and [h["fitness"] for h in hof] == sorted((h["fitness"] for h in hof), reverse=True)
    assert all(0.0 <= h["fitness"] <= 1.0 and list(h["functions"]) == slots for h in hof)
    # real learning: 10 classes, chance is 0.1; the best candidate learned something
    assert hof[0]["fitness"] > 0.2
    # the best of the hall of fame is the best fitness ever recorded (selection keeps the maximum)
    assert hof[0]["fitness"] == pytest.approx(max(_all_fitness(res)))
    t = res["totals"]
    assert t["evaluations"] >= 1 and t["candidates"] == t["evaluations"] + t["cache_hits"] + t["rejected"]
    if mode == "coevolution":
        assert all(set(h["slots"]) == set(slots) and len(h["representatives"]) == 3 for h in res["history"])
        assert res["history"][0]["candidates"] == 3 * SMALL["population"]
    # files, and the evolved functions back as modules
    for name in ("results.json", "best.json", "report.html", "checkpoint.json", "figures/best_vs_relu.png"):
        assert (out / name).stat().st_size > 0, name
    best = json.loads((out / "best.json").read_text())
    final = res["final"]
    assert (
        res["best"] == hof[final["chosen"]["hall_of_fame_rank"] - 1] and best["functions"] == res["best"]["functions"]
    )
    loaded = actlab.load(out / "best.json")
    mods = {"all": loaded} if mode == "single" else loaded
    assert set(mods) == set(slots)
    x = torch.linspace(-3, 3, 50, dtype=torch.float64)
    for slot, m in mods.items():
        ref = E.numpy_eval(E.parse(best["functions"][slot]), x.numpy())
        np.testing.assert_allclose(m.eval()(x).numpy(), ref, rtol=1e-9, atol=1e-9)
    model = actlab.models.build("mlp", (40,), 10, loaded if mode != "single" else {"input": loaded, "hidden": loaded})
    assert model(torch.randn(4, 40)).shape == (4, 10)
    # the final evaluation: the hall of fame, relu and as many catalogue finalists, all trained alike; the evolved
    # function is the member with the best mean validation accuracy over the final seeds, the catalogue's likewise
    names = [r["name"] for r in final["contenders"]]
    assert names[:3] == ["evolved", "relu", final["best_catalogue"]] and sorted(final["catalogue_finalists"]) == [
        "elu",
        "tanh",
    ]
    rows = {r["name"]: r for r in final["contenders"]}
    members = [r for r in final["contenders"] if r["name"] == "evolved" or r["name"].startswith("hall of fame #")]
    assert len(members) == len(hof) == 2 and len(names) == 5
    assert rows["evolved"]["val_mean"] == max(r["val_mean"] for r in members)
    assert rows[final["best_catalogue"]]["val_mean"] == max(rows[c]["val_mean"] for c in ("elu", "tanh"))
    assert all(
        len(r["test_accuracy"]) == 2 and all(0 <= a <= 1 for a in r["test_accuracy"]) for r in final["contenders"]
    )
    assert [c["vs"] for c in final["comparisons"]] == names[1:3]
    assert all(c["outcome"] in ("win", "tie", "loss") for c in final["comparisons"])
    # is the fitness honest: its rank correlation with the final test accuracy, over the contenders
    corr = final["fidelity_correlation"]
    assert [c["fidelity"] for c in corr] == [1, "final"] and corr[0]["n"] == len(names)
    assert all(c["spearman"] is None or -1 <= c["spearman"] <= 1 for c in corr)
    # why: the final runs' diagnostics per seed and slot, and the sentences drawn from them
    assert all(len(r["diagnostics"]) == 2 and set(r["diagnostics"][0]) == {"input", "hidden_1", "output"}
               for r in final["contenders"])  # fmt: skip
    assert final["why"] == explain(rows["evolved"]["diagnostics"], rows["relu"]["diagnostics"], "evolved", "relu")
    assert final["shape"] == shape_sentences(rows["evolved"]["plan"], rows["relu"]["plan"], "evolved", "relu")
    page = (out / "report.html").read_text()
    assert "Why: the evolved function against ReLU" in page and all(html.escape(x) in page for x in final["why"])
    assert all(html.escape(x) in page for x in final["shape"])


def test_report_shows_the_found_function_next_to_relu_in_chromium(tmp_path, chromium):
    out = tmp_path / "r"
    res = run_evolution(EvolveConfig(**{**SMALL, "generations": 2}), out, progress=False)
    write_evolve_report(res, out)
    dom = chromium((out / "report.html").as_uri(), "--dump-dom").stdout
    assert res["best"]["functions"]["all"] in __import__("html").unescape(dom)
    assert "next to ReLU" in dom and 'id="final"' in dom and "relu" in dom
    shot = tmp_path / "shot.png"
    r = chromium((out / "report.html").as_uri(), f"--screenshot={shot}", "--window-size=1200,2000")
    assert r.returncode == 0 and shot.stat().st_size > 20_000


# ------------------------------------------------------------------- selection maximises
def _closeness_to_relu(task):
    """A deterministic fitness without training: how close f is to ReLU on [-3, 3] (1 = equal)."""
    spec = task["plan"]["hidden"]
    x = np.linspace(-3, 3, 61)
    y = E.numpy_eval(E.parse(spec[len(E.PREFIX) :]), x)
    err = float(np.mean(np.abs(y - np.maximum(x, 0))))
    return {"fitness": 1.0 / (1.0 + err) if math.isfinite(err) else 0.0, "status": "ok"}


def test_the_sympy_process_loads_while_the_generations_train(tmp_path):
    """The hall of fame's formulas, drawn at the end, need the sympy process: it is started when
    this process first waits for trainings (the test's evaluator scores a list when it is handed
    over, so the first generation's are scored before), so that it has loaded sympy by the end
    without loading it while this process and the workers' server load torch."""
    _process._SYMPY._stop()  # none running, whatever ran before
    running = []

    def fitness(task):
        running.append(_process.pid())
        return _closeness_to_relu(task)

    cfg = EvolveConfig(**{**SMALL, "population": 4, "generations": 2, "final_seeds": 0})
    res = run_evolution(cfg, tmp_path / "e", progress=False, evaluator=fitness)
    first = res["history"][0]["evaluations"]
    assert set(running[:first]) == {None} and None not in running[first:], running
    assert res["best"]["formulas"]["all"]["latex"]


def test_selection_maximises_fitness(tmp_path):
    cfg = EvolveConfig(**{**SMALL, "population": 24, "generations": 8, "final_seeds": 0, "elite": 1})
    res = run_evolution(cfg, tmp_path / "sel", progress=False, evaluator=_closeness_to_relu)
    best = [h["best"] for h in res["history"]]
    mean = [h["mean"] for h in res["history"]]
    assert all(b2 >= b1 for b1, b2 in zip(best, best[1:], strict=False)), best  # elitism keeps the best
    assert best[-1] > best[0] and np.mean(mean[-3:]) > mean[0], (best, mean)  # it climbs, it does not descend
    # the winner is the fittest candidate, judged afresh
    task = {"plan": {"hidden": E.PREFIX + res["best"]["functions"]["all"]}}
    assert _closeness_to_relu(task)["fitness"] == pytest.approx(res["best"]["fitness"])
    assert res["best"]["fitness"] >= max(
        _closeness_to_relu({"plan": {"hidden": E.PREFIX + t}})["fitness"]
        for t in ("tanh(x)", "x", "abs(x)", "softplus(x)", "elu(x)")
    )


def test_tournament_picks_the_fitter():
    import random

    random.seed(1)
    pset = G.make_pset()
    tb = G.make_toolbox(pset, tournament=3)
    pop = G.ramped_population(tb, 30)
    for i, ind in enumerate(pop):
        G.set_fitness(ind, i / 30)
    picks = [p for _ in range(50) for p in tb.select(pop, 30)]
    pop_mean, pick_mean = G.selected_fitness(pop, picks)
    assert pick_mean > pop_mean + 0.15  # tournament of 3: expected 0.73 vs 0.48
    nxt = G.vary(tb, pop, elite=2, cxpb=0.5, mutpb=0.5)
    assert [G.tree_text(t) for t in nxt[:2]] == [G.tree_text(pop[29]), G.tree_text(pop[28])]  # the two best kept
    # a candidate promoted to a higher fidelity ranks above every one that was not, whatever their fitness
    G.set_fitness(pop[3], 0.05, fidelity=1)
    nxt = G.vary(tb, pop, elite=2, cxpb=0.5, mutpb=0.5)
    assert [G.tree_text(t) for t in nxt[:2]] == [G.tree_text(pop[3]), G.tree_text(pop[29])]
    assert G.fidelity(pop[3]) == 1 and G.score(pop[3]) == 0.05
    hof = G.HallOfFame(2)
    hof.update(
        [
            {"key": "a", "slots": ["x"], "fitness": 0.9, "status": "ok", "nodes": 1, "generation": 0, "rungs": [0.9]},
            {
                "key": "b",
                "slots": ["x"],
                "fitness": 0.6,
                "status": "ok",
                "nodes": 1,
                "generation": 0,
                "rungs": [0.5, 0.6],
            },
        ]
    )
    assert [h["key"] for h in hof.items] == ["b", "a"]


# --------------------------------------------------------------- before training: checks, cache
@pytest.mark.parametrize(
    "text,reason",
    [
        ("exp(exp(x))", "not finite"),
        ("x - x", "constant"),
        ("relu(neg(abs(x)))", "constant"),
        ("div(x, 0.0) * 1e33", "not finite"),
    ],
)
def test_checks_reject_hopeless_candidates_without_training(text, reason):
    c = G.check(E.parse(text))
    assert not c.ok and reason in c.reason


def test_equivalent_candidates_are_trained_once_and_share_the_fitness(tmp_path):
    calls = []

    def count(task):
        calls.append(task["plan"]["hidden"])
        return {"fitness": 0.5, "status": "ok"}

    cfg = EvolveConfig(**SMALL)
    evo = Evolution(cfg, Fitness(evaluator=count), progress=False)
    cands = [[E.parse(t)] for t in ("relu(x)", "max(x, 0.0)", "max(0.0, x) + x - x", "tanh(x)", "x - x")]
    records, counts = evo.evaluate(cands, 0)
    assert len(calls) == 2 and counts["evaluations"] == 2  # relu-like once, tanh once
    assert counts["cache_hits"] == 2 and counts["rejected"] == 1
    assert [r["fitness"] for r in records] == [0.5, 0.5, 0.5, 0.5, 0.0]
    records, counts = evo.evaluate([[E.parse("relu(x)")]], 1)
    assert len(calls) == 2 and counts["cache_hits"] == 1  # later generations ask the cache too
    # equal functions whose zeros differ in sign only (x * |0| is -0.0 where 0 * |x| is 0.0) are one behaviour
    assert G.check(E.parse("x * abs(hardshrink(x))")).key == G.check(E.parse("hardshrink(x) * abs(x)")).key


def test_a_candidate_that_makes_nans_is_recorded_failed_with_fitness_zero(tmp_path):
    cfg = EvolveConfig(**SMALL)
    task = make_task(cfg, {"input": "expr:exp(square(x))", "hidden": "expr:exp(x)"}, lr=50.0, optimizer="sgd")
    with Runner() as runner:
        (r,) = Fitness(runner).map([task])
    assert r["fitness"] == 0.0 and r["status"] == "diverged"
    assert sanitise({"fitness": float("nan")})["fitness"] == 0.0 and sanitise(None)["status"].startswith("failed")

    def sometimes_nan(t):
        return {"fitness": float("nan") if "exp" in t["plan"]["hidden"] else 0.3, "status": "ok"}

    res = run_evolution(
        EvolveConfig(**{**SMALL, "final_seeds": 0, "population": 12}),
        tmp_path / "nan",
        progress=False,
        evaluator=sometimes_nan,
    )
    assert all(0.0 <= h["fitness"] <= 1.0 for h in res["hall_of_fame"])
    ck = json.loads((tmp_path / "nan" / "checkpoint.json").read_text())
    failed = [v for v in ck["cache"].values() if v["status"].startswith("failed")]
    assert all(v["fitness"] == 0.0 for v in failed)


# ------------------------------------------------------------------------ kill and resume
def _generation(path: Path) -> int:
    try:
        return json.loads(path.read_text())["generation"]
    except (OSError, ValueError, KeyError):
        return -1


def test_sigkill_then_resume_loses_nothing_and_ends_as_an_uninterrupted_run(tmp_path):
    """With successive halving and the surrogate on: a kill may land between fidelities of a
    generation, and the surrogate is fit again from the checkpoint's trainings."""
    i = SMALL_CLI.index("--epochs")
    args = [
        *SMALL_CLI[:i],
        *SMALL_CLI[i + 2 :],
        "--fidelities",
        "1:0.5,3",
        "--surrogate",
        "3",
        "--generations",
        "5",
        "--final-seeds",
        "0",
    ]
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = subprocess.Popen(
        [*CLI, "evolve", *args, "--out", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stopped = stopped_when(proc.pid, lambda: _generation(killed / "checkpoint.json") >= 1)
        assert stopped, "no checkpoint: " + (proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = json.loads((killed / "checkpoint.json").read_text())
    assert 1 <= before["generation"] < 4 and not (killed / "results.json").exists()

    r = actlab_cli("evolve", *args, "--out", str(killed))  # without --resume: refused, nothing touched
    one_line_error(r, "--resume")
    r = actlab_cli("evolve", *args[:-2], "--final-seeds", "0", "--population", "8", "--out", str(killed), "--resume")
    one_line_error(r, "other settings")
    r = actlab_cli("evolve", "--out", str(killed), "--resume", "--quiet")  # the checkpoint's settings
    assert r.returncode == 0, r.stderr[-3000:]
    r2 = actlab_cli("evolve", *args, "--out", str(whole))
    assert r2.returncode == 0, r2.stderr[-3000:]
    a = json.loads((killed / "results.json").read_text())
    b = json.loads((whole / "results.json").read_text())
    assert [h["generation"] for h in a["history"]] == [0, 1, 2, 3, 4]
    assert (
        a["history"][: before["generation"] + 1] == before["history"]
    )  # the checkpointed generations kept as they were
    assert len(a["sessions"]) == 2 and len(b["sessions"]) == 1
    strip = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "session")}  # noqa: E731
    assert [strip(h) for h in a["history"]] == [strip(h) for h in b["history"]]
    assert a["hall_of_fame"] == b["hall_of_fame"] and a["totals"] == b["totals"]
    assert all(h["promoted"] for h in a["history"]) and len(a["hall_of_fame"][0]["rungs"]) == 2
    screened = [h["surrogate"] for h in a["history"] if h.get("surrogate")]
    assert screened and all(s["pool"] > s["trained"] >= s["at_random"] >= 1 for s in screened)


def test_successive_halving_promotes_the_best_to_longer_training_on_more_data(tmp_path):
    """Without overlap, so that the checkpoint holds every fidelity of the generation (with it, see
    test_evolve_overlap)."""
    cfg = EvolveConfig(
        **{**SMALL, "population": 9, "generations": 1, "final_seeds": 0, "fidelities": [[1, 0.5], [2, 1.0], [3, 1.0]]},
        overlap=False,
    )
    res = run_evolution(cfg, tmp_path / "sh", progress=False)
    h = res["history"][0]
    trained = [
        v for v in json.loads((tmp_path / "sh" / "checkpoint.json").read_text())["cache"].values() if v.get("rungs")
    ]
    assert len(trained) == h["evaluations"] >= 7
    ok = [v for v in trained if v["status"] == "ok"]
    n1 = math.ceil(len(ok) / 3)
    assert h["promoted"] == [n1, math.ceil(n1 / 3)]
    up = [v for v in trained if len(v["rungs"]) >= 2]
    assert len(up) == n1 and len([v for v in trained if len(v["rungs"]) == 3]) == h["promoted"][1]
    assert min(v["rungs"][0] for v in up) >= max(v["rungs"][0] for v in ok if v not in up)  # the best go on
    assert all(v["fitness"] == v["rungs"][-1] for v in trained)  # fitness: that of the highest fidelity reached
    top = res["hall_of_fame"][0]
    assert len(top["rungs"]) == 3 and res["best"] == top
    # the first fidelity trained on half of the training split, the others on all of it
    units = [json.loads(f.read_text())["unit"] for f in (tmp_path / "sh" / "units").glob("*.json")]
    epochs = sorted(u["train"]["epochs"] for u in units)
    assert epochs == [1] * len(trained) + [2] * n1 + [3] * h["promoted"][1]
    assert all(u["data_options"].get("train_fraction") == (0.5 if u["train"]["epochs"] == 1 else None) for u in units)
    with pytest.raises(ActlabError, match="fidelities must rise"):
        EvolveConfig(fidelities=[[4, 1.0], [2, 1.0]])


# ------------------------------------------------------------ worker processes and Dask
def test_worker_processes_and_a_dask_cluster_give_the_serial_result(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = EvolveConfig(**{**SMALL, "generations": 2, "final_seeds": 0})
    serial = run_evolution(cfg, tmp_path / "serial", progress=False)
    procs = run_evolution(cfg, tmp_path / "procs", workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = run_evolution(cfg, tmp_path / "dask", dask=cluster.scheduler_address, progress=False)
    for other in (procs, dask):
        assert other["hall_of_fame"] == serial["hall_of_fame"]
        assert [h["best"] for h in other["history"]] == [h["best"] for h in serial["history"]]
    assert dask["sessions"][0]["executor"].startswith("Dask at tcp://")
    assert procs["sessions"][0]["executor"] == "2 worker processes"


def test_unreachable_dask_address_is_one_line(tmp_path):
    r = actlab_cli(
        "evolve", *SMALL_CLI, "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "2", "--out", str(tmp_path / "d")
    )
    one_line_error(r, "cannot reach the Dask scheduler")


# ------------------------------------------------------------------------- the command line
def test_cli_end_to_end_then_show_best_json(tmp_path):
    out = tmp_path / "cli"
    r = actlab_cli("evolve", *SMALL_CLI, "--generations", "2", "--mode", "triple", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "hall of fame" in r.stdout and "evolved" in r.stdout and str(out / "report.html") in r.stdout
    r = actlab_cli("show", str(out / "best.json"), "--out", str(tmp_path / "best.png"))
    assert r.returncode == 0, r.stderr
    for slot in ("input", "hidden", "output"):
        assert f"[{slot} slot]" in r.stdout and (tmp_path / f"best-{slot}.png").stat().st_size > 0


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--unary", "relu,nosuch"], ["unknown unary primitive 'nosuch'"]),
        (["--binary", "add,tanh"], ["'tanh' takes one argument"]),
        (["--population", "2", "--tournament", "3"], ["smaller than the tournament"]),
        (["--mutations", "uniform,teleport"], ["unknown mutation 'teleport'"]),
        (["--dataset", "nosuch"], ["unknown dataset"]),
        (["--catalogue", "elu,nosuch"], ["unknown activation 'nosuch'"]),
        (["--workers", "0"], ["--workers must be at least 1"]),
    ],
)
def test_bad_input_is_one_line(tmp_path, extra, words):
    one_line_error(actlab_cli("evolve", *SMALL_CLI, *extra, "--out", str(tmp_path / "bad")), *words)


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--threads", "-1"], ["threads must be at least 1"]),
        (["--threads", "100000"], ["threads must be at most"]),
        (["--population", "1000000000000"], ["population must be at most"]),
        (["--generations", "1000000000000"], ["generations must be at most"]),
        (["--tournament", "0"], ["tournament size must be at least 1"]),
        (["--elite", "-1"], ["elite must be at least 0"]),
        (["--elite", "16"], ["elite must be from 0 to population - 1"]),
        (["--hof", "1000000000000"], ["hall of fame size must be at most"]),
        (["--cxpb", "nan"], ["cxpb must be a finite number"]),
        (["--mutpb", "1.5"], ["mutpb must be at most 1"]),
        (["--init-min", "-1"], ["init-min must be at least 0"]),
        (["--init-min", "3", "--init-max", "2"], ["init-min <= init-max <= max height"]),
        (["--init-max", "5", "--max-height", "4"], ["init-min <= init-max <= max height"]),
        (["--max-height", "1000000000000"], ["max height must be at most 7"]),
        (["--seed", "-1"], ["seed must be at least 0"]),
        (["--data-seed", "1000000000000"], ["data seed must be at most"]),
        (["--epochs", "1000000000000"], ["epochs must be at most"]),
        (["--batch-size", "0"], ["batch size must be at least 1"]),
        (["--lr", "inf"], ["learning rate must be a finite number"]),
        (["--pack", "1000000000000"], ["--pack must be at most"]),
        (["--final-seeds", "-1"], ["final seeds must be at least 0"]),
        (["--final-epochs", "0"], ["final epochs must be at least 1"]),
        (["--workers", "1000000000000"], ["--workers must be at most"]),
        (["--dask-timeout", "nan"], ["--dask-timeout must be a finite number"]),
        (["--dask-timeout", "0"], ["--dask-timeout must be greater than 0"]),
        (["--width", "1000000000000"], ["mlp width must be at most"]),
        (["--layers", "1000000000000"], ["mlp depth must be at most"]),
        (["--limit", "-1"], ["limit must be a positive integer"]),
    ],
)
def test_every_numeric_option_is_checked_in_one_line(tmp_path, capsys, extra, words):
    """Through the command's own entry point, in this process (fast): exit 2, one line."""
    from actlab.cli import main

    code = main(["evolve", *SMALL_CLI, *extra, "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    assert not (tmp_path / "bad" / "checkpoint.json").exists()


TINY_CLI = [
    "--dataset",
    "iris",
    "--population",
    "2",
    "--tournament",
    "1",
    "--generations",
    "1",
    "--epochs",
    "1",
    "--pack",
    "2",
    "--final-seeds",
    "0",
    "--quiet",
]


def test_resume_before_the_first_checkpoint_starts_the_evolution(tmp_path):
    out = tmp_path / "early"
    r = actlab_cli("evolve", *TINY_CLI, "--resume", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no checkpoint" in r.stderr and "starting" in r.stderr
    assert (out / "checkpoint.json").exists() and (out / "best.json").exists()


def test_an_out_holding_another_commands_results_is_refused_unless_forced(tmp_path, capsys):
    """The commands run in this process (``actlab.cli.main``, fast), as the command line runs them."""
    from actlab.cli import main

    def actlab_cli(*args: str) -> subprocess.CompletedProcess:
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    out = tmp_path / "shared"
    compare = [
        "compare",
        "--dataset",
        "iris",
        "--activations",
        "relu",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]
    assert actlab_cli(*compare).returncode == 0
    before = {n: (out / n).read_bytes() for n in ("results.json", "report.html")}
    one_line_error(
        actlab_cli("evolve", *TINY_CLI, "--out", str(out)), "'actlab compare'", "results.json, report.html", "--force"
    )
    one_line_error(
        actlab_cli("search", "--dataset", "iris", "--trials", "1", "--quiet", "--out", str(out)),
        "'actlab compare'",
        "--force",
    )
    assert {n: (out / n).read_bytes() for n in before} == before and not (out / "checkpoint.json").exists()
    r = actlab_cli(*compare[:-1], str(out))  # the same command on its own folder resumes, as always
    assert r.returncode == 0 and "already done, skipped" not in r.stdout
    r = actlab_cli("evolve", *TINY_CLI, "--force", "--out", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((out / "results.json").read_text())["format"] == "actlab-evolve-results"
    one_line_error(actlab_cli(*compare), "'actlab evolve'", "results.json, report.html")


@pytest.mark.parametrize(
    "spec,words",
    [
        ("expr:max(x,", ["cannot read expression", "ends too early"]),
        ("expr:foo(x)", ["unknown function 'foo'"]),
        ("expr:__import__('os')", ["cannot read expression"]),
    ],
)
def test_bad_expressions_are_one_line_everywhere(tmp_path, spec, words):
    one_line_error(actlab_cli("show", spec, "--no-plot"), *words)
    one_line_error(
        actlab_cli(
            "compare",
            "--dataset",
            "iris",
            "--activations",
            f"relu,{spec}",
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "c"),
        ),
        *words,
    )
    assert not (tmp_path / "c" / "results.json").exists()


# --------------------------------------------------------- expr: specs in compare, search, swap
def test_expr_specs_work_in_compare_search_and_swap(tmp_path):
    spec = "expr:max(x, x*tanh(x))"
    r = actlab_cli(
        "compare",
        "--dataset",
        "iris",
        "--activations",
        f"relu,{spec}",
        "--seeds",
        "2",
        "--epochs",
        "3",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "c"),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    runs = json.loads((tmp_path / "c" / "results.json").read_text())
    row = next(a for a in runs["summary"] if a["activation"] == spec)
    assert len(row["test_accuracy"]) == 2 and row["mean"] > 0.5 and not row["diverged"]  # iris: 3 classes
    r = actlab_cli(
        "search",
        "--dataset",
        "iris",
        "--layers",
        "3",
        "--candidates",
        f"relu,{spec}",
        "--trials",
        "3",
        "--epochs",
        "3",
        "--final-seeds",
        "0",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / "s"),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert spec in (tmp_path / "s" / "results.json").read_text()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.randn(16, 4)
    before = model(x).detach()
    swapped = actlab.swap_activations(model, spec)
    assert swapped and not torch.allclose(model(x), before)
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 3, (16,)))
    loss.backward()
    assert model[0].weight.grad.abs().sum() > 0


# ------------------------------------------------------- damaged checkpoints and best.json files
def _fake_fitness(task):
    """No training: a fitness from the plan's text (the files, not the numbers, are under test)."""
    return {"fitness": len(json.dumps(task["plan"])) % 7 / 7, "status": "ok"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A real checkpoint of each mode, after generation 1 of 3 (iris, no training)."""
    root = tmp_path_factory.mktemp("ck")
    out = {}
    for mode in ("single", "triple", "coevolution"):
        cfg = EvolveConfig(mode=mode, dataset="iris", data_options={}, population=4, generations=3, final_seeds=0)
        run_evolution(cfg, root / mode, evaluator=_fake_fitness, progress=False, stop_after=1)
        out[mode] = json.loads((root / mode / "checkpoint.json").read_text())
    return out


def _damaged(d: dict, how: str) -> dict:
    d = json.loads(json.dumps(d))
    if how == "no generation":
        del d["generation"]
    elif how == "generation 10**6":
        d["generation"] = 10**6
    elif how == "generation as text":
        d["generation"] = "1"
    elif how == "bad random state":
        d["random_state"] = [3, [1, 2, 3], None]
    elif how == "random state of floats":
        d["random_state"][1] = [0.5] * len(d["random_state"][1])
    elif how == "cache as text":
        d["cache"] = "abc"
    elif how == "history cut short":
        d["history"] = d["history"][:1]
    elif how == "no config":
        del d["config"]
    elif how == "config as a list":
        d["config"] = [1, 2]
    elif how == "population of text":
        d["config"]["population"] = "4"
    elif how == "an unknown primitive":
        d["populations"][0][0]["slots"] = ["nosuch(x)"] * len(d["populations"][0][0]["slots"])
    elif how == "fitness as text":
        d["populations"][0][0]["fitness"] = "0.5"
    elif how == "hall of fame of junk":
        d["hall_of_fame"] = [{"key": 1}]
    return d


DAMAGES = [
    "no generation",
    "generation 10**6",
    "generation as text",
    "bad random state",
    "random state of floats",
    "cache as text",
    "history cut short",
    "no config",
    "config as a list",
    "population of text",
    "an unknown primitive",
    "fitness as text",
    "hall of fame of junk",
]


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("mode", ["single", "coevolution"])
def test_a_damaged_checkpoint_is_one_line_in_the_library(checkpoints, tmp_path, mode, how):
    from actlab.studies.evolve.checkpoint import check_checkpoint, read_checkpoint

    good = checkpoints[mode]
    assert check_checkpoint(good).mode == mode
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(_damaged(good, how)))
    with pytest.raises(actlab.ActlabError) as e:
        read_checkpoint(path)
    assert "\n" not in str(e.value) and "checkpoint" in str(e.value)
    evo = Evolution(EvolveConfig.from_dict(good["config"]), Fitness(evaluator=_fake_fitness), progress=False)
    with pytest.raises(actlab.ActlabError):
        evo.restore(_damaged(good, how))


def test_a_good_checkpoint_restores_in_every_mode(checkpoints):
    for mode, d in checkpoints.items():
        evo = Evolution(EvolveConfig.from_dict(d["config"]), Fitness(evaluator=_fake_fitness), progress=False)
        evo.restore(d)
        assert evo.generation == 1 and len(evo.pops) == (3 if mode == "coevolution" else 1)


@pytest.mark.parametrize("how", ["no generation", "generation 10**6", "bad random state", "cache as text"])
def test_resume_from_a_damaged_checkpoint_is_one_line_and_changes_nothing(
    checkpoints, tmp_path, monkeypatch, capsys, how
):
    from actlab.cli import main

    out = tmp_path / "ev"
    out.mkdir()
    text = json.dumps(_damaged(checkpoints["single"], how))
    (out / "checkpoint.json").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert main(["evolve", "--out", str(out), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actlab: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    assert (out / "checkpoint.json").read_text() == text and sorted(p.name for p in tmp_path.rglob("*")) == [
        "checkpoint.json",
        "ev",
    ]


BEST = {
    "format": "actlab-evolve-best",
    "version": 1,
    "mode": "triple",
    "functions": {"input": "x * sigmoid(x)", "hidden": "relu(x)", "output": "x"},
}


@pytest.mark.parametrize(
    "change,words",
    [
        ({"functions": 3}, "no evolved functions"),
        ({"functions": {}}, "no evolved functions"),
        ({"functions": None}, "no evolved functions"),
        ({"functions": {"../../x": "x", "hidden": "x", "output": "x"}}, "slots"),
        ({"functions": {"input": "x", "hidden": "x", "output": "x", "all": "x"}}, "slots"),
        ({"functions": {"input": 1, "hidden": "x", "output": "x"}}, "not expression text"),
        ({"functions": {"input": "max(x,", "hidden": "x", "output": "x"}}, "cannot read expression"),
        ({"functions": {"input": "1/0", "hidden": "x", "output": "x"}}, "is a constant"),
        ({"mode": "quadruple"}, "mode"),
        ({"mode": ["single"]}, "mode"),
        ({"format": "something else"}, "not the best.json"),
    ],
)
def test_a_bad_best_json_is_one_line(tmp_path, change, words):
    path = tmp_path / "best.json"
    path.write_text(json.dumps({**BEST, **change}))
    with pytest.raises(actlab.ActlabError, match=words) as e:
        actlab.load(path)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "content",
    [
        {"format": "actlab-evolve-results"},  # no config, no best
        {"format": "actlab-evolve-results", "config": {"mode": "single"}},
        {"format": "actlab-evolve-results", "best": {"functions": {"all": "x"}}},
        {"format": "actlab-evolve-results", "config": 3, "best": {"functions": {"all": "x"}}},
        [1, 2],
        "text",
        None,
        3.5,
    ],
)
def test_a_results_json_without_a_best_function_is_one_line(tmp_path, content):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(content))
    with pytest.raises(actlab.ActlabError):
        actlab.load(path)


def test_a_good_best_json_loads_and_its_results_json_too(tmp_path):
    (tmp_path / "best.json").write_text(json.dumps(BEST))
    mods = actlab.load(tmp_path / "best.json")
    assert set(mods) == {"input", "hidden", "output"} and mods["hidden"].text == "relu(x)"
    (tmp_path / "results.json").write_text(
        json.dumps(
            {
                "format": "actlab-evolve-results",
                "config": {"mode": "single"},
                "best": {"functions": {"all": "x * tanh(x)"}},
            }
        )
    )
    assert actlab.load(tmp_path / "results.json").text == "x * tanh(x)"


@pytest.mark.parametrize("out", [None, "plots/p.png"])
def test_show_of_a_best_json_with_path_slot_names_writes_nothing_outside(tmp_path, monkeypatch, capsys, out):
    from actlab.cli import main

    work = tmp_path / "work"
    work.mkdir()
    bad = {**BEST, "functions": {"../../evil": "x", "hidden": "x", "output": "x", "/tmp/abs": "x"}}
    (work / "best.json").write_text(json.dumps(bad))
    monkeypatch.chdir(work)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert main(["show", "best.json", *(["--out", out] if out else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actlab: error:") and err.count("\n") == 1 and "slots" in err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # no PNG, no folder, anywhere


def test_mode_slots_agree_with_the_evolution():
    from actlab.studies.evolve import MODE_SLOTS, SLOT_NAMES
    from actlab.studies.evolve.modes import MODES, SLOTS

    assert set(MODE_SLOTS) == set(MODES) and MODE_SLOTS["triple"] == MODE_SLOTS["coevolution"] == SLOTS
    assert set(SLOT_NAMES) == {"all", *SLOTS} and EvolveConfig().slots == MODE_SLOTS["single"]


# ------------------------------------------------------------ new behaviours, budget
def test_every_generation_trains_new_behaviours(tmp_path):
    """Offspring that repeat a behaviour already trained (unchanged copies of their parents too),
    or another offspring's, are varied again: each generation trains at least 70% of the
    population as new functions, and the population stays diverse."""
    cfg = EvolveConfig(**{**SMALL, "population": 10, "generations": 5, "final_seeds": 0})
    res = run_evolution(cfg, tmp_path / "new", progress=False)
    hist = res["history"]
    assert len(hist) == 5
    for h in hist:
        assert h["evaluations"] >= 0.7 * cfg.population, h
        assert h["distinct"] >= 0.7 * cfg.population, h
    assert sum(h["replaced"] for h in hist[1:]) > 0  # without renewal, copies and repeats would have filled slots
    keys = list(json.loads((tmp_path / "new" / "checkpoint.json").read_text())["cache"])
    assert len(keys) == len(set(keys)) >= sum(h["evaluations"] for h in hist)  # every training a new behaviour


def test_a_budget_ends_the_evolution_in_time_and_runs_the_final_evaluation(tmp_path):
    """From the command line: a budget of a millisecond (no generation trains in half of one) ends
    the evolution after its first generation, which always runs, and the final evaluation follows."""
    out = tmp_path / "budget"
    r = actlab_cli(
        "evolve",
        "--dataset",
        "iris",
        "--population",
        "4",
        "--generations",
        "500",
        "--epochs",
        "1",
        "--budget",
        "0.001s",
        "--final-seeds",
        "2",
        "--final-epochs",
        "2",
        "--catalogue",
        "elu",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out / "results.json").read_text())
    assert res["ended_by"] == "budget" and len(res["history"]) == 1 and res["history"][0]["seconds"] > 0
    assert "budget left 0.0 min" in r.stderr and "the evolution ends after generation 0" in r.stderr
    assert res["final"]["contenders"][0]["name"] == "evolved"
    one_line_error(actlab_cli("evolve", "--budget", "soon", "--out", str(tmp_path / "x")), "duration")


def test_a_budget_counts_the_generations_of_every_session(tmp_path):
    """With a counted clock every generation takes one second: a budget of 3.5 s runs 3 generations
    (after the third, 3 s spent and one more would overrun), and a resumed run with 5.5 s goes on
    from the checkpoint to 5, its first two kept as they were."""
    ticks = iter(range(10**6))  # each generation reads the clock twice: it takes exactly 1 s
    cfg = {
        "dataset": "iris",
        "population": 4,
        "generations": 500,
        "final_seeds": 0,
        "catalogue": ["elu"],
        "train": TrainConfig(
            epochs=1, batch_size=32, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
        ),
    }
    out = tmp_path / "counted"
    res = run_evolution(EvolveConfig(**cfg, budget=3.5), out, progress=False, clock=lambda: next(ticks))
    assert res["ended_by"] == "budget" and [h["seconds"] for h in res["history"]] == [1, 1, 1]
    more = run_evolution(EvolveConfig(**cfg, budget=5.5), out, resume=True, progress=False, clock=lambda: next(ticks))
    assert more["ended_by"] == "budget" and len(more["history"]) == 5 and more["history"][:3] == res["history"]
    assert [h["session"] for h in more["history"]] == [0, 0, 0, 1, 1]
    done = run_evolution(
        EvolveConfig(**{**cfg, "generations": 6}, budget=100),
        out,
        resume=True,
        progress=False,
        clock=lambda: next(ticks),
    )
    assert done["ended_by"] == "generations" and len(done["history"]) == 6


def test_learnable_constants_train_and_survive_best_json_and_load(tmp_path):
    """Bingham & Miikkulainen's parametric functions: each layer trains its own constants with the
    weights; best.json keeps the values of the final run best on validation, actlab.load rebuilds them."""
    from actlab.studies.evolve.final import final_evaluation
    from actlab.studies.evolve.results import best_json

    text = "max(x, 0.3 * x) + 0.5 * tanh(1.5 * x)"
    cfg = EvolveConfig(**{**SMALL, "final_seeds": 2, "final_epochs": 3, "catalogue": ["elu"], "learn_constants": True})
    assert make_task(cfg, {"hidden": "x"})["plan"] == {"hidden": "x"}
    hof = [
        {
            "rank": 1,
            "key": "k",
            "slots": [text],
            "functions": {"all": text},
            "fitness": 0.5,
            "rungs": [0.5],
            "formulas": {"all": E.simplified(E.parse(text))},
        }
    ]
    runner = Runner(threads=1)
    final = final_evaluation(cfg, hof, Fitness(runner), progress=False, folder=tmp_path / "final")
    runner.close()
    evolved = final["contenders"][0]
    assert evolved["plan"] == {"input": "pexpr:" + text, "hidden": "pexpr:" + text}
    learned = evolved["learned"]
    assert [sorted(x) for x in learned] == [["hidden_1", "input"]] * 2  # per layer (the 3-layer MLP has 2 slots)
    for x in learned:
        for layer in ("input", "hidden_1"):
            assert len(x[layer]["constants"]) == 3
            assert any(
                abs(a - b) > 1e-4 for a, b in zip(x[layer]["constants"], [0.3, 0.5, 1.5], strict=True)
            )  # they trained
    assert learned[0]["input"] != learned[0]["hidden_1"]  # each layer its own
    best = best_json({"config": cfg.to_dict(), "best": hof[0], "final": final})
    i = max(range(2), key=lambda i: evolved["val_accuracy"][i])
    assert best["learned"] == learned[i] and best["learned_from"]["seed"] == evolved["seeds"][i]
    (tmp_path / "best.json").write_text(json.dumps(best))
    mods = actlab.load(tmp_path / "best.json")
    assert set(mods) == {"input", "hidden_1"}
    for layer, m in mods.items():
        assert m.constants.requires_grad and m.constants.tolist() == pytest.approx(learned[i][layer]["constants"])
        x = torch.linspace(-3, 3, 7)
        ref = E.Expression(m.learned_text)(x)
        torch.testing.assert_close(m(x), ref, atol=1e-5, rtol=1e-5)
    model = actlab.models.build("mlp", (40,), 10, mods)
    assert model(torch.randn(2, 40)).shape == (2, 10)
    best["learned"]["input"]["constants"] = [1.0]  # not one value per constant: one line
    (tmp_path / "bad.json").write_text(json.dumps(best))
    with pytest.raises(ActlabError, match="not 3 finite number"):
        actlab.load(tmp_path / "bad.json")


def test_fitness_trainings_skip_final_scores_and_final_runs_and_other_studies_keep_them():
    from actlab.execution import Task
    from actlab.studies.compare.config import CompareConfig
    from actlab.studies.screen.config import ScreenConfig
    from actlab.studies.search.config import SearchConfig

    cfg = EvolveConfig(dataset="iris")
    fitness = make_task(cfg, {"input": "relu", "hidden": "relu"})
    final = make_task(cfg, {"input": "relu", "hidden": "relu"}, fidelity=None, score_test=True, epochs=3)
    assert fitness["train"]["final_scores"] is False and "final_scores" not in final["train"]
    task = Task.of(cfg)  # on, the default, leaves a unit's key as it always was
    assert task.unit("u", "relu", final_scores=True).key() == task.unit("u", "relu").key()
    assert task.unit("u", "relu", final_scores=False).key() != task.unit("u", "relu").key()
    off = {"final_scores": False}
    for make, study in (
        (lambda: CompareConfig(activations=["relu"], train=TrainConfig(**off)), "compare"),
        (lambda: SearchConfig(train=off), "search"),
        (lambda: ScreenConfig(train=off), "screen"),
    ):
        with pytest.raises(ActlabError, match=f"^{study} reports each run's test scores: leave final_scores true$"):
            make()
