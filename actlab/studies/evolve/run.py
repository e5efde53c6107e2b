"""Run an evolution: the session around the generation loop (checkpoint or fresh start, where
candidates train, the budget, progress lines), then the final evaluation, ``results.json`` and
``best.json``.

After every generation ``out/checkpoint.json`` is written atomically
(:mod:`~actlab.studies.evolve.checkpoint`). ``resume=True`` continues after the last checkpointed
generation and ends with exactly the result of an uninterrupted run.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import own_out, prepare_out, write_json_atomic
from actlab._refs import is_ref
from actlab.catalogue import expr as E
from actlab.data import load
from actlab.execution import Runner
from actlab.models import build, model_summary
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.best import slots_text
from actlab.studies.evolve.checkpoint import CHECKPOINT, read_checkpoint
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.final import final_evaluation
from actlab.studies.evolve.fitness import Fitness, plan_for
from actlab.studies.evolve.loop import Evolution
from actlab.studies.evolve.modes import MAX_GROUPS, SLOTS, check_groups
from actlab.studies.evolve.results import best_json, collect, formulas
from actlab.surrogate import Surrogate
from actlab.training import few_steps


def run_evolution(
    config: EvolveConfig,
    out: str | Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    dask_timeout: float = 10.0,
    resume: bool = False,
    progress: bool = True,
    final: bool = True,
    evaluator: Callable[[dict], dict] | None = None,
    stop_after: int | None = None,
    force: bool = False,
    clock: Callable[[], float] = time.perf_counter,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Evolve, checkpointing after every generation; then the final evaluation, ``results.json``
    and ``best.json`` in ``out``. Returns the results; the report is written by the caller
    (``actlab.report.evolve.write_evolve_report``).

    ``resume=True`` continues the checkpoint in ``out``, or starts the evolution where there is
    none yet (killed before its first generation ended). A folder holding another command's
    results is refused unless ``force``. ``evaluator(task) -> {"fitness", "status"}`` replaces
    the training (tests); ``stop_after`` ends after that generation without the final step (as a
    kill would, but cleanly). ``clock()`` gives the seconds that generations take and the budget
    counts (tests pass a counted one). ``meanwhile()``: the caller's work for after the evolution
    (what its report needs), done in this process while the last trainings run, where any do."""
    out = prepare_out(out)
    own_out(out, "evolve", force)
    saved = _saved(out, config, resume)
    data, model = _tasks(config)
    runner = Runner(  # a bad --dask: one line, before the model is described
        workers=workers, dask=dask, pack=config.pack, threads=config.train.threads, dask_timeout=dask_timeout
    )
    if progress:
        print(model, file=sys.stderr, flush=True)
    try:
        executor = Fitness(runner, evaluator, folder=out / "units")
        # sympy loads while the first trainings run, not while this process and the workers' server load torch;
        # the hall of fame's formulas need it at the end
        executor.meanwhile(E.start_sympy)
        evo = Evolution(config, executor, progress, clock)
        _start(evo, saved, data, out)
        ended = _generations(evo, out / CHECKPOINT, stop_after)
        if ended is None:
            return {"stopped_after": evo.generation}
        if evo.pending and progress:
            n, g = len(evo.pending), evo.generation
            _say(f"training at the last fidelity the {n} candidates generation {g} promoted to it")
        known: dict[str, dict[str, Any]] = {}  # formulas, simplified while the last fidelity trains
        executor.meanwhile(lambda: formulas(evo, known), *([meanwhile] if meanwhile else []))
        evo.finish()
        results = collect(evo, data, known)
        results["ended_by"] = ended
        if final and config.final_seeds > 0 and evo.hof.best() is not None:
            results["final"] = final_evaluation(
                config.task_configs()[0],
                _on_first_task(config, results["hall_of_fame"]),
                executor,
                progress=progress,
                folder=out / "final",
                standing=evo.standing,
            )
            results["best"] = results["hall_of_fame"][results["final"]["chosen"]["hall_of_fame_rank"] - 1]
    finally:
        runner.close()
    write_json_atomic(out / "results.json", results)
    write_json_atomic(out / "best.json", best_json(results))
    return results


def _slot_groups(config: EvolveConfig, data) -> list[str] | None:
    """Triple and coevolution: a model of the user's gets a function per slot group (returned, read
    from the model built); a built-in model is built with a function per slot (None)."""
    if not is_ref(config.model):
        plan = plan_for(config.mode, dict.fromkeys(config.slots, "x"))
        build(config.model, data.input_shape, data.n_classes, plan, **config.model_options)
        return None
    slots = build(config.model, data.input_shape, data.n_classes, "relu", **config.model_options).slots
    if not 2 <= len(slots) <= MAX_GROUPS:
        raise ActlabError(
            f"{config.mode} mode evolves a function for each slot of {config.model}, which has {len(slots)} "
            f"({slots_text(list(slots))}); "
            + (
                "evolve one function with --mode single"
                if len(slots) < 2
                else f"group them into 2 to {MAX_GROUPS} with --slots, e.g. 'features.*=conv,classifier.*=head'"
            )
        )
    if config.learn_constants:
        raise ActlabError(f"--learn-constants in {config.mode} mode on a model of your own: use --mode single")
    return list(check_groups(slots, config.model))


def _tasks(config: EvolveConfig):
    """The first task's data and the description of every task's model; a bad dataset or a model
    whose slots cannot take one function each: one line, before any work."""
    first, lines = None, []
    for c, name in zip(config.task_configs(), config.task_names(), strict=True):
        data = load(c.dataset, seed=c.data_seed, **c.data_options)
        model = model_summary(c.model, data.input_shape, data.n_classes, **c.model_options)
        if c.mode != "single":
            groups = _slot_groups(c, data)
            if first is not None and groups != config.groups:
                raise ActlabError(
                    f"{config.mode} mode evolves a function per slot, and the tasks' models have other slots "
                    f"({name}: {slots_text(groups or list(SLOTS))}); give every task a model with the same slots"
                )
            config.groups = groups
        first = data if first is None else first
        lines.append(model if config.tasks is None else f"{name}: {model}")
    return first, "\n".join(lines)


def _on_first_task(config: EvolveConfig, hall_of_fame: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hall of fame as the final evaluation on the first task reads it: with several tasks,
    each member's fitness is its score on that task (as the catalogue's will be)."""
    if config.tasks is None:
        return hall_of_fame
    first = config.task_names()[0]
    out = []
    for item in hall_of_fame:  # a member rejected before training has no scores: 0, as a failed training
        scores = (item.get("tasks") or {}).get(first) or [0.0]
        out.append({**item, "rungs": scores, "fitness": scores[-1]})
    return out


def _saved(out: Path, config: EvolveConfig, resume: bool) -> dict[str, Any] | None:
    """The checkpoint in ``out`` to resume (checked, and made with ``config``'s run key), or None."""
    path = out / CHECKPOINT
    if not path.exists():
        if resume:
            _say(f"actlab: note: no checkpoint in {str(out)!r} yet; starting the evolution")
        return None
    if not resume:
        raise ActlabError(
            f"{str(out)!r} already holds an evolution; add --resume to continue it, or choose a new --out"
        )
    saved = read_checkpoint(path)
    if saved.get("run_key") != config.run_key():
        diff = config.changed(EvolveConfig.from_dict(saved["config"]))
        raise ActlabError(
            f"the checkpoint in {str(out)!r} was made with other settings ({', '.join(diff[:4])}); "
            "resume with the same options, or choose a new --out"
        )
    return saved


def _start(evo: Evolution, saved: dict[str, Any] | None, data, out: Path) -> None:
    """``evo`` ready for its next generation: its surrogate, the checkpoint ``saved`` restored (or
    Python's ``random`` seeded), this session recorded."""
    config = evo.config
    if config.surrogate:  # features are kept in out/surrogate: a resumed run computes none again
        evo.surrogate = Surrogate(config.surrogate_task(), data, folder=out / "surrogate")
    if saved is not None:
        evo.restore(saved)
    else:
        random.seed(config.seed)
    evo.sessions.append(
        {
            "after_generation": evo.generation,
            "pid": os.getpid(),
            "executor": evo.executor.name,
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
    )
    if evo.progress and saved is not None:
        _say(f"resuming after generation {evo.generation} from {out / CHECKPOINT}")
    if few := few_steps(len(data.train), config.train):  # after every check: bad input is one line
        _say(few)


def _generations(evo: Evolution, path: Path, stop_after: int | None) -> str | None:
    """The generations left, each checkpointed to ``path``; how they ended: ``"generations"`` (all
    done), ``"budget"`` (the next would likely overrun it), None (stopped after ``stop_after``)."""
    for g in range(evo.generation + 1, evo.config.generations):
        if _over_budget(evo):
            return "budget"
        stats = evo.step(g)
        write_json_atomic(path, evo.state())
        if evo.progress:
            _say(progress_line(evo.config, stats, evo.hof, evo.history))
        if stop_after is not None and g >= stop_after:
            return None
    return "generations"


def _over_budget(evo: Evolution) -> bool:
    """Would the next generation, as long as the last, overrun the budget? (Says so, when it would.)"""
    budget = evo.config.budget
    if budget is None or not evo.history:
        return False
    spent, last = _spent(evo.history), evo.history[-1]["seconds"]
    if spent + last <= budget:
        return False
    if evo.progress:
        _say(
            f"budget: {spent:.0f} s of {budget:.0f} s spent, and a generation takes about "
            f"{last:.0f} s: the evolution ends after generation {evo.generation}"
        )
    return True


def _spent(history: list[dict[str, Any]]) -> float:
    return sum(h["seconds"] for h in history)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def progress_line(config: EvolveConfig, stats: dict[str, Any], hof: G.HallOfFame, history: list | None = None) -> str:
    """One generation in one line: fitness, what was trained, the hall of fame's best, the budget left."""
    best = hof.best()
    text = " | ".join(best["slots"]) if best else ""
    kept = f"  not renewed after 8 tries {stats['kept']}" if stats.get("kept") else ""
    if stats.get("promoted") is not None:
        kept += f"  promoted {'/'.join(str(n) for n in stats['promoted']) or 0}"
    if stats.get("carried"):
        kept += f"  last fidelity of gen {stats['generation'] - 1}: {stats['carried']}"
    if stats.get("surrogate"):
        sg = stats["surrogate"]
        rho = f"{sg['spearman']:+.2f}" if sg["spearman"] is not None else "n/a"
        kept += f"  surrogate: {sg['trained']} of {sg['pool']} offspring (rank corr. {rho})"
    if stats.get("restart"):
        kept += "  restarted (stagnation)"
    left = ""
    if stats.get("hof_tasks"):
        left += "  | per task " + ", ".join(f"{n} {v:.3f}" for n, v in stats["hof_tasks"].items())
    if config.budget is not None and history:
        left += f"  | budget left {max(0.0, config.budget - _spent(history)) / 60:.1f} min"
    return (
        f"gen {stats['generation']}/{config.generations - 1}: best {stats['best']:.3f}  mean {stats['mean']:.3f}  "
        f"trained {stats['evaluations']}  duplicates replaced {stats.get('replaced', 0)}  distinct "
        f"{stats.get('distinct', '?')}/{config.population}  cache hits {stats['cache_hits']}  "
        f"rejected {stats['rejected']}  failed {stats['failed']}{kept}  {stats['seconds']:.1f}s  | hall of fame best "
        + (f"{best['fitness']:.3f}: {text[:70]}" if best else "none yet")
        + left
    )


__all__ = ["progress_line", "run_evolution"]
