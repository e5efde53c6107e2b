"""`actlab evolve --tasks` and `--stagnation`: the fitness over several tasks recomputed from the
trainings' own records, resume with both on, restarts after stagnant generations, and bad input."""

from __future__ import annotations

import json
import statistics

import pytest

import actlab
from actlab._errors import ActlabError
from actlab.execution import parse_tasks, task_name
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import Fitness, catalogue_plan, from_record, make_task, plan_for, unit_of
from actlab.studies.evolve.loop import Evolution
from actlab.studies.evolve.run import run_evolution
from actlab.studies.evolve.tasks import FLOOR, WORST
from actlab.training import TrainConfig

# Two small real tasks, two fidelities: iris and wine, an 8-wide MLP, 1 then 2 epochs.
TINY = {
    "tasks": ["iris", "wine"],
    "data_options": {},
    "model_options": {"width": 8},
    "population": 4,
    "generations": 2,
    "final_seeds": 0,
    "hall_of_fame": 10,  # every candidate trained
    "reference_seeds": 2,
    "fidelities": [[1, 0.5], [2, 1.0]],
    "reduction_factor": 2,
    "train": TrainConfig(
        epochs=2, batch_size=16, lr=1e-2, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
    ),
}


def _units(folder):
    """Every finished training in ``folder`` by its key: its record."""
    out = {}
    for path in folder.glob("*.json"):
        d = json.loads(path.read_text())
        out[d["key"]] = d
    return out


def _score(units, task):
    return from_record(units[unit_of(task, "x").key()], task)["fitness"]


def _strip(generation):
    """A generation's record without what differs between runs (its seconds, the session)."""
    return {k: v for k, v in generation.items() if k not in ("seconds", "session")}


def _members(results):
    """The hall of fame without its simplified formulas (sympy gives up after a time limit)."""
    return [{k: v for k, v in item.items() if k != "formulas"} for item in results["hall_of_fame"]]


def test_the_fitness_over_tasks_is_the_mean_standing_against_relu_and_resumes_exactly(tmp_path):
    """Recomputed from the trainings' own records; and a run stopped after its first generation
    and resumed ends as an uninterrupted one."""
    cfg = EvolveConfig(**TINY)
    run_evolution(cfg, tmp_path / "killed", progress=False, stop_after=0)
    a = run_evolution(cfg, tmp_path / "killed", progress=False, resume=True)
    res = run_evolution(cfg, tmp_path / "whole", progress=False)
    assert [_strip(h) for h in a["history"]] == [_strip(h) for h in res["history"]]
    assert _members(a) == _members(res) and a["tasks"] == res["tasks"] and len(a["sessions"]) == 2

    _recomputed(cfg, res, tmp_path / "whole", statistics.fmean)
    assert "mean over the tasks" in res["tasks"]["aggregate"]
    best = res["hall_of_fame"][0]
    assert set(best["tasks"]) == set(res["tasks"]["names"])
    assert res["history"][-1]["hof_tasks"] == {n: best["tasks"][n][-1] for n in res["tasks"]["names"]}


def test_the_worst_task_fitness_is_the_lowest_standing(tmp_path):
    cfg = EvolveConfig(**{**TINY, "generations": 1}, task_fitness="worst")
    res = run_evolution(cfg, tmp_path / "worst", progress=False)
    _recomputed(cfg, res, tmp_path / "worst", min)
    assert res["tasks"]["aggregate"].startswith("worst over the tasks")
    with pytest.raises(ActlabError, match="unknown --task-fitness 'best'; choose one of: mean, worst"):
        EvolveConfig(**TINY, task_fitness="best")


def _recomputed(cfg: EvolveConfig, res: dict, out, combine) -> None:
    """Every trained candidate's fitness at every fidelity, recomputed from the trainings' own
    records: ``combine`` of its standings (score - ReLU's mean) / ReLU's spread over the tasks."""
    units = _units(out / "units")
    configs, names = cfg.task_configs(), ["iris/mlp", "wine/mlp"]
    assert cfg.task_names() == names == res["tasks"]["names"]
    trained = [v for v in res["hall_of_fame"] if "rungs" in v]
    assert len(trained) >= 3 and any(len(v["rungs"]) == 2 for v in trained)
    for v in trained:
        plan = plan_for("single", {"all": v["slots"][0]})
        for f, fitness in enumerate(v["rungs"]):
            z = []
            for c, name in zip(configs, names, strict=True):
                relu = [
                    _score(units, make_task(c, catalogue_plan("relu"), fidelity=f, seed=c.seed + i)) for i in range(2)
                ]
                score = _score(units, make_task(c, plan, fidelity=f))
                assert v["tasks"][name][f] == pytest.approx(score)
                assert res["tasks"]["relu"][name][f]["scores"] == pytest.approx(relu)
                z.append((score - statistics.fmean(relu)) / max(statistics.stdev(relu), FLOOR))
            expected = combine(z) if v["status"] == "ok" else WORST
            assert fitness == pytest.approx(max(expected, WORST), rel=1e-9, abs=1e-9)


def test_with_tasks_and_transfer_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    """Stopped after its first generation and resumed, and again with half of its transfer runs
    lost: the final evaluation and its transfer table equal those of an uninterrupted run."""
    cfg = EvolveConfig(
        **{**TINY, "generations": 1, "hall_of_fame": 2, "final_seeds": 2, "final_epochs": 1},
        catalogue=["tanh", "sigmoid", "elu"],
        transfer_to="breast_cancer:80",
    )
    run_evolution(cfg, tmp_path / "killed", progress=False, stop_after=0)
    a = run_evolution(cfg, tmp_path / "killed", progress=False, resume=True)
    whole = run_evolution(cfg, tmp_path / "whole", progress=False)
    final = whole["final"]
    # chosen by the fitness over the tasks, as the evolution ranked: the final seeds see the first task alone
    assert final["chosen"]["hall_of_fame_rank"] == 1 and "fitness over the tasks" in final["chosen"]["by"]
    relu = {n: v[-1] for n, v in whole["tasks"]["relu"].items()}
    for row in final["catalogue_selection"]:
        z = [(row["tasks"][n] - relu[n]["mean"]) / max(relu[n]["spread"], FLOOR) for n in relu]
        assert row["standing"] == pytest.approx(statistics.fmean(z), rel=1e-9, abs=1e-9)
        assert row["tasks"]["iris/mlp"] == row["val_accuracy"]  # the records: the first task's
    by_standing = sorted(final["catalogue_selection"], key=lambda r: -r["standing"])
    assert final["catalogue_finalists"] == [r["activation"] for r in by_standing[:2]]
    assert final["best_catalogue"] == final["catalogue_finalists"][0]
    table = final["transfer"]
    assert [t["task"] for t in table["tasks"]] == ["breast_cancer:80/mlp"] and table["seeds"] == [1, 2]
    assert a["final"] == whole["final"] and _members(a) == _members(whole)
    runs = sorted((tmp_path / "whole" / "final" / "transfer").glob("*.json"))
    kept = {p: p.read_bytes() for p in runs[::2]}
    for p in runs[1::2]:
        p.unlink()
    again = run_evolution(cfg, tmp_path / "whole", progress=False, resume=True)
    assert again["final"]["transfer"] == table and sorted(p.name for p in runs) == sorted(
        p.name for p in (tmp_path / "whole" / "final" / "transfer").glob("*.json")
    )
    assert all(p.read_bytes() == b for p, b in kept.items())  # those left were not trained again


def _flat(task):
    """No training: every function scores alike, so the hall of fame never improves."""
    return {"fitness": 0.5, "status": "ok"}


def test_restarts_fire_after_the_stagnant_generations_and_keep_the_best(tmp_path):
    cfg = EvolveConfig(dataset="iris", data_options={}, population=4, generations=7, stagnation=2)
    res = run_evolution(cfg, tmp_path / "on", evaluator=_flat, progress=False, final=False)
    assert [h["generation"] for h in res["history"] if h.get("restart")] == [3, 6]
    # the restarted population: the hall of fame's best kept (not trained again), the others new
    assert [h["candidates"] for h in res["history"]] == [4, 3, 3, 3, 3, 3, 3]
    run_evolution(cfg, tmp_path / "cut", evaluator=_flat, progress=False, stop_after=4)  # between two restarts
    again = run_evolution(cfg, tmp_path / "cut", evaluator=_flat, progress=False, final=False, resume=True)
    assert [_strip(h) for h in again["history"]] == [_strip(h) for h in res["history"]]
    assert _members(again) == _members(res) and len(again["sessions"]) == 2
    off = EvolveConfig(dataset="iris", data_options={}, population=4, generations=5)
    res = run_evolution(off, tmp_path / "off", evaluator=_flat, progress=False, final=False)
    assert not any(h.get("restart") for h in res["history"])


@pytest.mark.parametrize("mode", ["triple", "coevolution"])
def test_restarts_in_the_other_modes(tmp_path, mode):
    cfg = EvolveConfig(mode=mode, dataset="iris", data_options={}, population=4, generations=3, stagnation=1)
    res = run_evolution(cfg, tmp_path / mode, evaluator=_flat, progress=False, final=False)
    assert [h["generation"] for h in res["history"] if h.get("restart")] == [2]
    kept = json.loads((tmp_path / mode / "checkpoint.json").read_text())["populations"]
    best = res["hall_of_fame"][0]["slots"]
    assert all(p[0]["slots"] == (best if mode == "triple" else [best[s]]) for s, p in enumerate(kept))


def test_a_rising_hall_of_fame_never_restarts():
    evo = Evolution(EvolveConfig(dataset="iris", stagnation=2), Fitness(evaluator=_flat), progress=False)
    evo.history = [{"hof_best": b} for b in (0.1, 0.2, 0.2, 0.3)]
    assert not evo.stagnant()
    evo.history = [{"hof_best": b} for b in (0.1, 0.3, 0.3, 0.3)]
    assert evo.stagnant()
    evo.history[-1]["restart"] = True
    assert not evo.stagnant()


def test_tasks_are_read_as_dataset_limit_and_model():
    got = parse_tasks("mnist1d, digits/cnn1d ,fashion-mnist:10000", "mlp")
    assert [task_name(t) for t in got] == ["mnist1d/mlp", "digits/cnn1d", "fashion-mnist:10000/mlp"]
    assert got[2]["limit"] == 10000
    assert [t["dataset"] for t in parse_tasks(["csv:data/x.csv", "a.py:load/mlp"], "cnn")] == [
        "csv:data/x.csv",
        "a.py:load",
    ]
    cfg = EvolveConfig(tasks="digits:300,wine/mlp", model="mlp")
    assert (cfg.dataset, [c.data_options.get("limit") for c in cfg.task_configs()]) == ("digits", [300, 2000])
    assert cfg.run_key() != EvolveConfig(model="mlp", dataset="digits").run_key()
    assert EvolveConfig().run_key() == EvolveConfig(stagnation=None, reference_seeds=3).run_key()


@pytest.mark.parametrize(
    ("tasks", "words"),
    [
        ("iris,iris", "twice"),
        ("", "1 to 32"),
        (",".join(["iris"] * 33), "1 to 32"),
        ("nosuch,iris", "no dataset"),
        (["iris", 3], "DATASET[:LIMIT][/MODEL]"),
    ],
)
def test_bad_tasks_are_one_line(tmp_path, tasks, words):
    with pytest.raises(ActlabError, match=words.replace("[", r"\[")):
        actlab.evolve(tasks=tasks, population=4, generations=1, out=str(tmp_path / "x"), quiet=True)
