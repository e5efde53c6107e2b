"""evolve --overlap: each generation's last fidelity trains with the next generation's first."""

from __future__ import annotations

import hashlib
import json
import random

import pytest

import actlab
from actlab._errors import ActlabError
from actlab.catalogue import expr as E
from actlab.execution import Runner
from actlab.studies.evolve import gp as G
from actlab.studies.evolve import loop
from actlab.studies.evolve.checkpoint import check_checkpoint
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import Fitness, Started, make_task, plan_for
from actlab.studies.evolve.loop import Evolution, last_first
from actlab.studies.evolve.run import run_evolution

FIDELITIES = [[1, 0.5], [2, 1.0], [3, 1.0]]
FAKE = {
    "dataset": "iris",
    "data_options": {},
    "population": 12,
    "generations": 5,
    "final_seeds": 0,
    "fidelities": FIDELITIES,
    "overlap": True,
}


def _fit(task):
    """No training: a fitness from the plan's text that changes with the epochs, so that the order
    of candidates at one fidelity is not the order at the next."""
    text = json.dumps(task["plan"], sort_keys=True)
    h = [int(hashlib.sha1(f"{text}{i}".encode()).hexdigest()[:8], 16) / 16**8 for i in range(2)]
    return {"fitness": round(0.2 + 0.5 * h[0] + 0.1 * task["train"]["epochs"] * h[1], 6), "status": "ok"}


class Recorder:
    """An executor that scores with :func:`_fit` and keeps the epochs of each list it was given, in
    the order started, and the order in which their records were waited for."""

    name = "recorder"

    def __init__(self):
        self.lists: list[list[int]] = []
        self.waited: list[int] = []

    def start(self, tasks):
        i = len(self.lists)
        self.lists.append([t["train"]["epochs"] for t in tasks])
        records = [_fit(t) for t in tasks]
        return Started(lambda: self.waited.append(i) or records)


def _strip(results):
    return [{k: v for k, v in h.items() if k not in ("seconds", "session")} for h in results["history"]]


@pytest.mark.parametrize("at_once", [True, False])
def test_the_last_fidelity_trains_with_the_next_generations_first(monkeypatch, at_once):
    monkeypatch.setattr(loop, "last_first", lambda fidelities, counts, surrogate: at_once)
    rec = Recorder()
    evo = Evolution(EvolveConfig(**FAKE), rec, progress=False)
    random.seed(0)
    for g in range(4):
        stats = evo.step(g)
        promoted = stats["promoted"]
        assert [len(v["rungs"]) for k, v in evo.cache.items() if k in evo.pending] == [2] * promoted[-1]
        for ind in evo.pops[0]:  # every individual holds its behaviour's newest fitness
            r = evo.cache[evo._key(ind)]
            assert G.score(ind) == r["fitness"] and G.fidelity(ind) == len(r["rungs"]) - 1
        if g:
            assert stats["carried"] == evo.history[g - 1]["promoted"][-1] >= 1
    assert len(evo.hof.best()["rungs"]) == 3  # climbed in a later generation
    pending = list(evo.pending)
    finished = evo.finish()
    assert [r["key"] for r in finished] == pending and not evo.pending
    assert all(len(evo.cache[k]["rungs"]) == 3 for k in pending)
    assert evo.history[-1]["finished"] == len(pending) and evo.history[-1]["hof_best"] == evo.hof.best()["fitness"]
    # each generation starts one list per fidelity, the last one's when its own two end (at once)
    # or right after the next generation's first starts: it trains while the next generation's
    # first two do, and is waited for after them
    assert all(len(set(n)) == 1 for n in rec.lists)
    if at_once:
        assert [n[0] for n in rec.lists] == [1, 2, 3] * 4
        assert rec.waited == [0, 1] + [i for g in range(1, 4) for i in (3 * g, 3 * g + 1, 3 * g - 1)] + [11]
    else:
        assert [n[0] for n in rec.lists] == [1, 2] + [1, 3, 2] * 3 + [3]
        assert rec.waited == [0, 1] + [i for g in range(1, 4) for i in (3 * g - 1, 3 * g + 1, 3 * g)] + [11]
    assert [len(n) for n in rec.lists if n[0] == 3] == [h["promoted"][-1] for h in evo.history]
    # the hall of fame's best reached the last fidelity, as without overlap
    assert len(evo.hof.best()["rungs"]) == 3


def test_when_the_last_fidelity_starts_never_changes_the_evolution(tmp_path, monkeypatch):
    """The last fidelity's training starts at once or after the next generation's first: the same
    records, hall of fame and history either way."""
    cfg = EvolveConfig(**FAKE)
    runs = []
    for at_once in (True, False):
        monkeypatch.setattr(loop, "last_first", lambda fidelities, counts, surrogate, a=at_once: a)
        runs.append(run_evolution(cfg, tmp_path / str(at_once), evaluator=_fit, progress=False))
    assert _strip(runs[0]) == _strip(runs[1]) and runs[0]["hall_of_fame"] == runs[1]["hall_of_fame"]
    assert runs[0]["totals"] == runs[1]["totals"]


@pytest.mark.parametrize(
    "fidelities, trained, at_once",
    [
        ([[2, 0.5], [4, 1.0], [10, 1.0]], [24, 8, 3], False),  # the demo's: 30 of 86 member-epochs last
        ([[4, 0.25], [15, 0.5], [50, 1.0]], [32, 11, 4], True),  # the discovery run's: 200 of 314
        ([[1, 1.0], [2, 1.0]], [4, 2], True),  # 4 and 4: the longest first on a tie
    ],
)
def test_the_last_fidelity_starts_at_once_where_it_costs_as_much_as_the_others(fidelities, trained, at_once):
    counts = {"evaluations": trained[0], "promoted": trained[1:]}
    assert last_first([tuple(f) for f in fidelities], counts) is at_once
    assert last_first([tuple(f) for f in fidelities], counts, surrogate=True) is True  # long breeding


def test_a_surrogate_starts_the_last_fidelity_at_once(monkeypatch, tmp_path):
    """The surrogate's fit, between generations, is work the last fidelity trains through."""
    asked = []
    monkeypatch.setattr(loop, "last_first", lambda fidelities, counts, surrogate: asked.append(surrogate) or True)
    for surrogate in (0, 4):
        cfg = EvolveConfig(**{**FAKE, "generations": 2, "surrogate": surrogate})
        run_evolution(cfg, tmp_path / str(surrogate), evaluator=_fit, progress=False)
    assert asked == [False, False, True, True]


def test_a_stopped_overlapped_evolution_resumes_as_an_uninterrupted_one(tmp_path):
    cfg = EvolveConfig(**FAKE)
    whole = run_evolution(cfg, tmp_path / "whole", evaluator=_fit, progress=False)
    run_evolution(cfg, tmp_path / "cut", evaluator=_fit, progress=False, stop_after=2)
    saved = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert saved["pending"] and all(len(saved["cache"][p["key"]]["rungs"]) == 2 for p in saved["pending"])
    again = run_evolution(cfg, tmp_path / "cut", evaluator=_fit, progress=False, resume=True)
    assert _strip(again) == _strip(whole)
    assert again["hall_of_fame"] == whole["hall_of_fame"] and again["totals"] == whole["totals"]
    assert all(len(item["rungs"]) == 3 for item in whole["hall_of_fame"][:1])
    # overlap is part of what the evolution is: a checkpoint of one does not resume as the other
    with pytest.raises(ActlabError, match="other settings"):
        run_evolution(EvolveConfig(**{**FAKE, "overlap": False}), tmp_path / "cut", evaluator=_fit, resume=True)


@pytest.mark.parametrize("mode", ["triple", "coevolution"])
def test_overlap_in_the_other_modes_resumes_exactly(tmp_path, mode):
    """Coevolution trains population x slots candidates: more may wait for the last fidelity than a
    population holds."""
    cfg = EvolveConfig(**{**FAKE, "mode": mode, "population": 4, "reduction_factor": 2, "fidelities": FIDELITIES[1:]})
    whole = run_evolution(cfg, tmp_path / "whole", evaluator=_fit, progress=False)
    run_evolution(cfg, tmp_path / "cut", evaluator=_fit, progress=False, stop_after=1)
    saved = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert saved["pending"] and (mode == "triple" or len(saved["pending"]) > cfg.population)
    again = run_evolution(cfg, tmp_path / "cut", evaluator=_fit, progress=False, resume=True)
    assert _strip(again) == _strip(whole) and again["hall_of_fame"] == whole["hall_of_fame"]
    assert all(h.get("carried") for h in whole["history"][1:]) and whole["history"][-1]["finished"]


def test_overlap_is_the_default_and_a_checkpoint_from_before_it_resumes_without(tmp_path):
    plain = {k: v for k, v in FAKE.items() if k != "overlap"}
    assert EvolveConfig(**plain).overlap is True
    assert EvolveConfig(**plain).run_key() != EvolveConfig(**{**plain, "overlap": False}).run_key()
    assert Evolution(EvolveConfig(**{**FAKE, "fidelities": None}), Recorder(), progress=False).overlap is False
    with pytest.raises(ActlabError, match="overlap is true or false"):
        EvolveConfig(**{**FAKE, "overlap": "yes"})
    # a checkpoint written before the setting existed: its config has no "overlap", it ran without
    out = tmp_path / "old"
    opts = {"dataset": "iris", "population": 4, "generations": 3, "final_seeds": 0, "quiet": True}
    actlab.evolve(**opts, fidelities="1:0.5,2", no_overlap=True, out=str(out))
    whole = json.loads((out / "results.json").read_text())
    (out / "results.json").unlink()
    path = out / "checkpoint.json"
    d = json.loads(path.read_text())
    del d["config"]["overlap"]
    d["generation"], d["history"] = 1, d["history"][:2]  # as if stopped after generation 1
    path.write_text(json.dumps(d))
    again = actlab.evolve(out=str(out), resume=True, quiet=True).results
    assert again["config"]["overlap"] is False and not any(h.get("carried") for h in again["history"])
    assert again["history"][:2] == whole["history"][:2]


@pytest.mark.parametrize(
    "how,words",
    [
        ("without overlap", "run without overlap"),
        ("not in the cache", "not in the cache one fidelity below"),
        ("at the last fidelity", "not in the cache one fidelity below"),
        ("bad slots", "pending candidate"),
    ],
)
def test_a_damaged_pending_list_is_one_line(tmp_path, how, words):
    run_evolution(EvolveConfig(**FAKE), tmp_path / "o", evaluator=_fit, progress=False, stop_after=1)
    d = json.loads((tmp_path / "o" / "checkpoint.json").read_text())
    check_checkpoint(d)
    first = d["pending"][0]
    if how == "without overlap":
        d["config"]["overlap"] = False
    elif how == "not in the cache":
        first["key"] = "nowhere"
    elif how == "at the last fidelity":
        d["cache"][first["key"]]["rungs"].append(0.5)
    else:
        first["slots"] = ["x +"]
    with pytest.raises(ActlabError, match=words):
        check_checkpoint(d)


def test_the_hall_of_fame_takes_the_higher_fidelity_and_keeps_the_smaller_expression():
    hof = G.HallOfFame(3)
    small = {"key": "k", "slots": ["x"], "nodes": 1, "generation": 0, "status": "ok"}
    big = {**small, "slots": ["x + 0.0"], "nodes": 3, "generation": 1}
    hof.update(
        [
            {**small, "fitness": 0.5, "rungs": [0.4, 0.5]},
            {"key": "o", "slots": ["-x"], "nodes": 2, "generation": 0, "status": "ok", "fitness": 0.9, "rungs": [0.9]},
        ]
    )
    assert [i["key"] for i in hof.items] == ["k", "o"]
    hof.update([{**big, "fitness": 0.6, "rungs": [0.4, 0.5, 0.6]}])  # climbed, found again as a bigger one
    top = hof.best()
    assert top["slots"] == ["x"] and top["rungs"] == [0.4, 0.5, 0.6] and top["fitness"] == 0.6
    hof.update([{**big, "fitness": 0.5, "rungs": [0.4, 0.5]}])  # an older record changes nothing
    assert hof.best() == top


def test_overlapped_real_training_on_two_workers_gives_the_serial_result(tmp_path):
    cfg = EvolveConfig(
        dataset="mnist1d",
        data_options={"limit": 300},
        model_options={"width": 16},
        population=6,
        generations=3,
        final_seeds=0,
        fidelities=[[1, 0.5], [2, 1.0]],
        overlap=True,
    )
    serial = run_evolution(cfg, tmp_path / "serial", progress=False)
    procs = run_evolution(cfg, tmp_path / "procs", workers=2, progress=False)
    assert procs["hall_of_fame"] == serial["hall_of_fame"] and _strip(procs) == _strip(serial)
    assert all(h.get("carried") for h in serial["history"][1:])
    files = (tmp_path / "serial" / "units").glob("*.json")
    epochs = [json.loads(f.read_text())["unit"]["train"]["epochs"] for f in files]
    assert epochs.count(2) == sum(h["promoted"][-1] for h in serial["history"])  # the last generation's too


def test_work_meanwhile_runs_once_while_the_trainings_handed_over_are_in_flight():
    """``Fitness.meanwhile``: work for this process, done at its next wait for trainings, before it
    collects them (they are still in flight then), each once and in order."""
    cfg = EvolveConfig(**FAKE)
    tasks = [make_task(cfg, plan_for("single", {"all": f}), fidelity=0) for f in ("x", "tanh(x)", "abs(x)")]
    seen = []
    with Runner(workers=2) as runner:
        fit = Fitness(runner)
        fit.meanwhile(lambda: seen.append(("a", len(runner._flight))), lambda: seen.append(("b", len(runner._flight))))
        started = fit.start(tasks)
        assert seen == []  # handing over is not waiting
        records = started.wait()
        assert [w for w, _ in seen] == ["a", "b"] and all(n > 0 for _, n in seen), seen
        assert fit.map(tasks[:1])[0]["status"] == "ok" and len(seen) == 2  # once
    assert all(r["status"] == "ok" for r in records)
    scored = Fitness(evaluator=_fit)  # the test evaluator's scores too
    scored.meanwhile(lambda: seen.append(("c", 0)))
    later = scored.start(tasks)
    assert len(seen) == 2 and later.wait() == [_fit(t) for t in tasks] and seen[-1] == ("c", 0)


@pytest.mark.parametrize("overlap", [True, False])
def test_the_callers_work_and_the_formulas_are_done_while_the_last_fidelity_trains(tmp_path, overlap):
    """With overlap, the last generation's last fidelity trains after the generations: meanwhile,
    the evolution simplifies the formulas the results may hold and does its caller's work. Without
    anything left to train (and no final evaluation), the caller's work is not done by the
    evolution; the formulas are the same either way."""
    calls = []
    out = tmp_path / str(overlap)
    cfg = EvolveConfig(**{**FAKE, "generations": 3, "overlap": overlap})
    res = run_evolution(
        cfg, out, evaluator=_fit, progress=False, meanwhile=lambda: calls.append((out / "results.json").exists())
    )
    assert calls == ([False] if overlap else [])
    for item in res["hall_of_fame"]:
        assert item["formulas"] == {s: E.simplified(E.parse(t)) for s, t in item["functions"].items()}
