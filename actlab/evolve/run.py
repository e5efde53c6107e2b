"""Run an evolution: modes, the generation loop, checkpoints, local workers and Dask.

Modes (Lapid & Sipper, GECCO 2022):

* ``single``: one function for every layer (every slot but ``output``, which stays linear so
  that the model returns logits, as everywhere in actlab);
* ``triple``: one individual holds three functions, for the ``input``, ``hidden`` and ``output``
  slots (the output function is applied to the logits);
* ``coevolution``: three populations, one per slot; each individual is scored together with
  the current best (the *representative*) of the other two populations. In generation 0 the
  representatives are random members; after every generation each population's best becomes its
  representative. Since the partners change, every individual is scored again each generation
  (the cache answers for combinations already trained).

After every generation ``out/checkpoint.json`` is written atomically: the populations as
expression text with their fitness, the hall of fame, the cache of trained candidates, the
history and Python's ``random`` state. ``resume=True`` continues after the last checkpointed
generation and ends with exactly the result of an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .._errors import ActlabError
from .._io import prepare_out, write_json_atomic
from ..training import TrainConfig
from . import expr as E
from . import gp as G
from .fitness import evaluate_tasks, init_worker, sanitise

MODES = ("single", "triple", "coevolution")
SLOTS = ("input", "hidden", "output")
CATALOGUE = ("leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "softplus")
CHECKPOINT = "checkpoint.json"
FORMAT_CHECKPOINT = "actlab-evolve-checkpoint"
FORMAT_BEST = "actlab-evolve-best"
FORMAT_RESULTS = "actlab-evolve-results"


def _fitness_training() -> TrainConfig:
    return TrainConfig(epochs=4, batch_size=32, lr=3e-3, patience=None, monitor="val_accuracy", diagnostics=False,
                       threads=1)


@dataclass
class EvolveConfig:
    """Everything that decides an evolution (saved in the checkpoint and in results.json)."""

    mode: str = "single"
    dataset: str = "mnist1d"
    model: str = "mlp"
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=lambda: {"limit": 2000})
    data_seed: int = 0
    population: int = 16
    generations: int = 5  # generation 0 (random) included
    tournament: int = 3
    elite: int = 1
    cxpb: float = 0.6
    mutpb: float = 0.3
    init_min: int = 1
    init_max: int = 3
    max_height: int = 6
    hall_of_fame: int = 5
    unary: list[str] = field(default_factory=lambda: list(E.DEFAULT_UNARY))
    binary: list[str] = field(default_factory=lambda: list(E.DEFAULT_BINARY))
    constants: bool = True
    mutations: list[str] = field(default_factory=lambda: list(G.MUTATIONS))
    seed: int = 0
    train: TrainConfig = field(default_factory=_fitness_training)
    final_seeds: int = 5
    final_epochs: int = 15
    catalogue: list[str] = field(default_factory=lambda: list(CATALOGUE))
    pack: int = 32  # candidates trained together in one packed model (MLP only; 1 = one by one)

    def __post_init__(self):
        if self.mode not in MODES:
            raise ActlabError(f"unknown mode {self.mode!r}; choose one of: {', '.join(MODES)}")
        if self.population < 2:
            raise ActlabError(f"population must be at least 2, got {self.population}")
        if self.tournament < 1:
            raise ActlabError(f"tournament size must be at least 1, got {self.tournament}")
        if self.population < self.tournament:
            raise ActlabError(f"population {self.population} is smaller than the tournament size {self.tournament}; "
                              "raise --population or lower --tournament")
        if not 0 <= self.elite < self.population:
            raise ActlabError(f"elite must be from 0 to population - 1 ({self.population - 1}), got {self.elite}")
        if self.generations < 1:
            raise ActlabError(f"generations must be at least 1, got {self.generations}")
        for name in ("cxpb", "mutpb"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ActlabError(f"{name} is a probability from 0 to 1, got {v}")
        if not 0 <= self.init_min <= self.init_max:
            raise ActlabError(f"initial tree heights need 0 <= min <= max, got {self.init_min}..{self.init_max}")
        if self.max_height < self.init_max:
            raise ActlabError(f"max height {self.max_height} is below the initial height {self.init_max}")
        if self.hall_of_fame < 1:
            raise ActlabError(f"the hall of fame holds at least 1, got {self.hall_of_fame}")
        if self.pack < 1:
            raise ActlabError(f"--pack must be at least 1, got {self.pack}")
        if self.final_seeds < 0 or self.final_epochs < 1:
            raise ActlabError("final seeds must be >= 0 and final epochs >= 1")
        if isinstance(self.train, Mapping):
            self.train = TrainConfig.from_dict(self.train)
        self.unary = [E.primitive_name(n, what="unary primitive") for n in self.unary]
        self.binary = [E.primitive_name(n, what="binary primitive") for n in self.binary]
        G.make_pset(self.unary, self.binary, self.constants)  # arity mistakes, empty set: one line now
        bad = [m for m in self.mutations if m not in G.MUTATIONS]
        if bad or not self.mutations:
            raise ActlabError(f"unknown mutation {(bad or [''])[0]!r}; choose from: {', '.join(G.MUTATIONS)}")
        from ..catalogue import get

        for c in self.catalogue:
            get(c)

    @property
    def slots(self) -> tuple[str, ...]:
        return ("all",) if self.mode == "single" else SLOTS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EvolveConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def run_key(self) -> str:
        """What a resumed run must share with the checkpoint (all but the number of generations
        and the final evaluation)."""
        d = {k: v for k, v in self.to_dict().items() if k not in ("generations", "final_seeds", "final_epochs", "catalogue")}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def plan_for(mode: str, functions: Mapping[str, str]) -> dict[str, str]:
    """The model's activation plan for evolved functions (spec strings ``expr:TEXT``)."""
    if mode == "single":
        t = E.PREFIX + functions["all"]
        return {"input": t, "hidden": t}
    return {s: E.PREFIX + functions[s] for s in SLOTS}


def catalogue_plan(spec: str) -> dict[str, str]:
    """A catalogue function in every slot but the output (logits), as compare and search use it."""
    return {"input": spec, "hidden": spec}


def make_task(config: EvolveConfig, plan: Mapping[str, str], *, score_test: bool = False, **train) -> dict[str, Any]:
    t = {**config.train.to_dict(), "seed": config.seed, **train}
    return {"plan": dict(plan), "dataset": config.dataset, "data_seed": config.data_seed,
            "data_options": dict(config.data_options), "model": config.model,
            "model_options": dict(config.model_options), "train": t, "score_test": score_test}


# --------------------------------------------------------------------------------- executors
def chunks(tasks: Sequence[dict], pack: int) -> list[list[dict]]:
    """Tasks in order, cut into balanced parts of at most ``pack`` (each part trains as one packed
    model). The parts depend only on the tasks and ``pack``, never on where they run, so every
    executor gives the same results."""
    tasks = list(tasks)
    if not tasks:
        return []
    n = max(1, math.ceil(len(tasks) / max(pack, 1)))
    size, extra = divmod(len(tasks), n)
    parts, i = [], 0
    for j in range(n):
        m = size + (j < extra)
        parts.append(tasks[i:i + m])
        i += m
    return parts


class _Executor:
    """``map(tasks) -> results``: the tasks cut into packs (:func:`chunks`), packs evaluated by
    :func:`~actlab.evolve.fitness.evaluate_tasks` wherever the executor runs them."""

    pack = 1
    name = ""

    def map(self, tasks: Sequence[dict]) -> list[dict]:
        return [r for part in self._map(chunks(tasks, self.pack)) for r in part]

    def _map(self, parts: list[list[dict]]) -> list[list[dict]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialExecutor(_Executor):
    """Evaluate in this process (``evaluator(task)``, when given, replaces the training: tests)."""

    def __init__(self, evaluator: Callable | None = None, pack: int = 1):
        self.evaluator, self.pack = evaluator, pack
        self.name = "this process"

    def _map(self, parts):
        if self.evaluator is not None:
            return [[self.evaluator(t) for t in part] for part in parts]
        return [evaluate_tasks(part) for part in parts]


class ProcessExecutor(_Executor):
    """``n`` spawned worker processes with one torch thread each."""

    def __init__(self, n: int, threads: int | None = 1, pack: int = 1):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"), initializer=init_worker,
                                        initargs=(threads,))
        self.pack = pack
        self.name = f"{n} worker processes"

    def _map(self, parts):
        from concurrent.futures.process import BrokenProcessPool

        try:
            return list(self.pool.map(evaluate_tasks, parts))
        except BrokenProcessPool:
            raise ActlabError("a worker process died; rerun the same command with --resume to continue") from None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(_Executor):
    """Evaluate on a Dask distributed cluster (``distributed.Client(address)``)."""

    def __init__(self, address: str, timeout: float = 10.0, pack: int = 1):
        try:
            from distributed import Client
        except ImportError:
            raise ActlabError("--dask needs the 'distributed' package: pip install 'actlab[dask]'") from None
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except Exception as e:  # OSError, TimeoutError, ValueError for a bad address...
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ActlabError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({first[:160]}); "
                              "start one with 'dask scheduler' or check --dask") from None
        self.pack = pack
        self.name = f"Dask at {address}"

    def _map(self, parts):
        return self.client.gather(self.client.map(evaluate_tasks, parts, pure=False))

    def close(self) -> None:
        self.client.close()


def make_executor(workers: int = 1, dask: str | None = None, dask_timeout: float = 10.0, threads: int | None = 1,
                  evaluator: Callable | None = None, pack: int = 1) -> _Executor:
    if evaluator is not None:
        return SerialExecutor(evaluator, pack)
    if dask:
        return DaskExecutor(dask, dask_timeout, pack)
    if workers < 1:
        raise ActlabError(f"--workers must be at least 1, got {workers}")
    return ProcessExecutor(workers, threads, pack) if workers > 1 else SerialExecutor(None, pack)


# --------------------------------------------------------------------------------- evolution
class Evolution:
    """The state of one evolution and its generation step."""

    def __init__(self, config: EvolveConfig, executor, progress: bool = True):
        self.config = config
        self.executor = executor
        self.progress = progress
        self.pset = G.make_pset(config.unary, config.binary, config.constants)
        self.tb = G.make_toolbox(self.pset, init=(config.init_min, config.init_max), max_height=config.max_height,
                                 tournament=config.tournament, mutations=config.mutations)
        self.generation = -1
        self.pops: list[list] = []
        self.reps: list | None = None
        self.hof = G.HallOfFame(config.hall_of_fame)
        self.cache: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []

    # -- individuals <-> text
    def _nodes(self, ind) -> list[E.Node]:
        if isinstance(ind, G.creator.ActlabTriple):
            return [G.tree_to_node(t) for t in ind]
        return [G.tree_to_node(ind)]

    def _dump_ind(self, ind) -> dict[str, Any]:
        return {"slots": [E.to_text(n) for n in self._nodes(ind)],
                "fitness": ind.fitness.values[0] if ind.fitness.valid else None}

    def _load_ind(self, d: Mapping[str, Any]):
        trees = [G.text_to_tree(t, self.pset) for t in d["slots"]]
        ind = G.creator.ActlabTriple(trees) if self.config.mode == "triple" else trees[0]
        if d.get("fitness") is not None:
            ind.fitness.values = (float(d["fitness"]),)
        return ind

    # -- evaluation
    def evaluate(self, candidates: list[list[E.Node]], generation: int) -> tuple[list[dict], dict[str, int]]:
        """Records for candidates (node lists, one per slot): cache, checks, then one training per
        distinct behaviour, on the executor."""
        counts = {"candidates": len(candidates), "evaluations": 0, "cache_hits": 0, "rejected": 0, "failed": 0}
        records: list[dict | None] = [None] * len(candidates)
        bases, todo = [], {}
        for i, nodes in enumerate(candidates):
            checks = [G.check(n) for n in nodes]
            key = "|".join(c.key for c in checks)
            texts = [E.to_text(n) for n in nodes]
            base = {"key": key, "slots": texts, "nodes": sum(E.size(n) for n in nodes), "generation": generation}
            bases.append(base)
            if key in self.cache:
                records[i] = {**base, **self.cache[key]}
                counts["cache_hits"] += 1
                continue
            bad = next(((s, c) for s, c in zip(self.config.slots, checks) if not c.ok), None)
            if bad is not None:
                res = {"fitness": 0.0, "status": f"rejected: {bad[1].reason}" + (f" ({bad[0]})" if len(nodes) > 1 else "")}
                self.cache[key] = res
                records[i] = {**base, **res}
                counts["rejected"] += 1
            elif key in todo:
                todo[key][1].append(i)
                counts["cache_hits"] += 1
            else:
                plan = plan_for(self.config.mode, dict(zip(self.config.slots, texts)))
                todo[key] = (make_task(self.config, plan), [i])
        state = random.getstate()  # the evolution's random stream must not depend on where candidates train
        try:  # (the trainer reseeds Python's random; Dask's client draws from it)
            results = self.executor.map([t for t, _ in todo.values()]) if todo else []
        finally:
            random.setstate(state)
        for (key, (_, idx)), res in zip(todo.items(), results):
            res = sanitise(res)
            res = {k: res[k] for k in ("fitness", "status", "val_accuracy", "seconds") if k in res}
            self.cache[key] = res
            counts["evaluations"] += 1
            counts["failed"] += res["status"] != "ok"
            for i in idx:
                records[i] = {**bases[i], **res}
        return records, counts  # type: ignore[return-value]

    # -- one generation
    def step(self, g: int) -> dict[str, Any]:
        t0 = time.perf_counter()
        c = self.config
        if c.mode == "coevolution":
            stats = self._step_coevolution(g)
        else:
            if g == 0:
                self.pops = [G.ramped_population(self.tb, c.population, slots=1 if c.mode == "single" else 3)]
            else:
                self.pops = [G.vary(self.tb, self.pops[0], elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb)]
            pop = self.pops[0]
            invalid = [ind for ind in pop if not ind.fitness.valid]
            records, counts = self.evaluate([self._nodes(ind) for ind in invalid], g)
            for ind, r in zip(invalid, records):
                ind.fitness.values = (r["fitness"],)
            self.hof.update(records)
            fit = [ind.fitness.values[0] for ind in pop]
            stats = {**counts, "best": max(fit), "mean": float(np.mean(fit)), "median": float(np.median(fit))}
        best = self.hof.best()
        stats.update({"generation": g, "seconds": time.perf_counter() - t0, "session": len(self.sessions) - 1,
                      "hof_best": best["fitness"] if best else None})
        self.history.append(stats)
        self.generation = g
        return stats

    def _step_coevolution(self, g: int) -> dict[str, Any]:
        c = self.config
        if g == 0:
            self.pops = [G.ramped_population(self.tb, c.population) for _ in SLOTS]
            self.reps = [G.clone(random.choice(p)) for p in self.pops]
        else:
            self.pops = [G.vary(self.tb, p, elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb) for p in self.pops]
            for p in self.pops:  # the partners changed: every individual is scored again
                for ind in p:
                    del ind.fitness.values
        rep_nodes = [G.tree_to_node(r) for r in self.reps]
        cands, owners = [], []
        for s, pop in enumerate(self.pops):
            for ind in pop:
                nodes = list(rep_nodes)
                nodes[s] = G.tree_to_node(ind)
                cands.append(nodes)
                owners.append(ind)
        records, counts = self.evaluate(cands, g)
        for ind, r in zip(owners, records):
            ind.fitness.values = (r["fitness"],)
        self.hof.update(records)
        per_slot = {}
        for s, pop in zip(SLOTS, self.pops):
            fit = [ind.fitness.values[0] for ind in pop]
            per_slot[s] = {"best": max(fit), "mean": float(np.mean(fit))}
        self.reps = [G.clone(max(p, key=lambda ind: ind.fitness.values[0])) for p in self.pops]
        fit = [ind.fitness.values[0] for p in self.pops for ind in p]
        return {**counts, "best": max(fit), "mean": float(np.mean(fit)), "median": float(np.median(fit)),
                "slots": per_slot, "representatives": [G.tree_text(r) for r in self.reps]}

    # -- checkpoints
    def state(self) -> dict[str, Any]:
        return {
            "format": FORMAT_CHECKPOINT, "version": 1, "config": self.config.to_dict(), "run_key": self.config.run_key(),
            "generation": self.generation,
            "populations": [[self._dump_ind(ind) for ind in p] for p in self.pops],
            "representatives": [G.tree_text(r) for r in self.reps] if self.reps else None,
            "hall_of_fame": self.hof.items, "cache": self.cache, "history": self.history, "sessions": self.sessions,
            "random_state": _random_state_to_json(random.getstate()),
        }

    def restore(self, d: Mapping[str, Any]) -> None:
        self.generation = int(d["generation"])
        self.pops = [[self._load_ind(x) for x in p] for p in d["populations"]]
        if d.get("representatives"):
            self.reps = [G.text_to_tree(t, self.pset) for t in d["representatives"]]
        self.hof.items = list(d["hall_of_fame"])
        self.cache = dict(d["cache"])
        self.history = list(d["history"])
        self.sessions = list(d.get("sessions") or [])
        random.setstate(_random_state_from_json(d["random_state"]))

    def totals(self) -> dict[str, int]:
        keys = ("candidates", "evaluations", "cache_hits", "rejected", "failed")
        return {k: int(sum(h.get(k, 0) for h in self.history)) for k in keys}


def _random_state_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _random_state_from_json(d) -> tuple:
    return (d[0], tuple(d[1]), d[2])


def read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ActlabError(f"cannot read checkpoint {str(path)!r} ({e}); start again with a new --out") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT_CHECKPOINT:
        raise ActlabError(f"{str(path)!r} is not an actlab evolve checkpoint")
    return d


def _progress_line(config: EvolveConfig, stats: dict[str, Any], hof: G.HallOfFame) -> str:
    best = hof.best()
    text = " | ".join(best["slots"]) if best else ""
    return (f"gen {stats['generation']}/{config.generations - 1}: best {stats['best']:.3f}  mean {stats['mean']:.3f}  "
            f"evaluations {stats['evaluations']}  cache hits {stats['cache_hits']}  rejected {stats['rejected']}  "
            f"failed {stats['failed']}  {stats['seconds']:.1f}s  | hall of fame best {best['fitness'] if best else math.nan:.3f}: "
            f"{text[:70]}")


def run_evolution(config: EvolveConfig, out: str | Path, *, workers: int = 1, dask: str | None = None,
                  dask_timeout: float = 10.0, resume: bool = False, progress: bool = True, final: bool = True,
                  evaluator: Callable[[dict], dict] | None = None, stop_after: int | None = None) -> dict[str, Any]:
    """Evolve, checkpointing after every generation; then the final evaluation, ``results.json``,
    ``best.json`` and ``report.html`` in ``out``. Returns the results.

    ``evaluator(task) -> {"fitness", "status"}`` replaces the training (tests); ``stop_after``
    ends after that generation without the final step (as a kill would, but cleanly)."""
    out = prepare_out(out)
    path = out / CHECKPOINT
    saved = None
    if path.exists():
        if not resume:
            raise ActlabError(f"{str(out)!r} already holds an evolution; add --resume to continue it, or choose a new --out")
        saved = read_checkpoint(path)
        old = EvolveConfig.from_dict(saved["config"])
        if saved.get("run_key") != config.run_key():
            diff = [k for k, v in config.to_dict().items() if old.to_dict().get(k) != v
                    and k not in ("generations", "final_seeds", "final_epochs", "catalogue")]
            raise ActlabError(f"the checkpoint in {str(out)!r} was made with other settings ({', '.join(diff[:4])}); "
                              "resume with the same options, or choose a new --out")
    elif resume:
        raise ActlabError(f"no checkpoint to resume in {str(out)!r}; run without --resume to start")

    from ..data import load
    from ..models import build

    data = load(config.dataset, seed=config.data_seed, **config.data_options)  # bad dataset: one line, before any work
    build(config.model, data.input_shape, data.n_classes, "relu", **config.model_options)

    executor = make_executor(workers, dask, dask_timeout, config.train.threads, evaluator, config.pack)
    try:
        evo = Evolution(config, executor, progress)
        if saved is not None:
            evo.restore(saved)
        else:
            random.seed(config.seed)
        evo.sessions.append({"after_generation": evo.generation, "pid": os.getpid(), "executor": executor.name,
                             "started": time.strftime("%Y-%m-%d %H:%M:%S")})
        if progress and saved is not None:
            print(f"resuming after generation {evo.generation} from {path}", file=sys.stderr, flush=True)
        for g in range(evo.generation + 1, config.generations):
            stats = evo.step(g)
            write_json_atomic(path, evo.state())
            if progress:
                print(_progress_line(config, stats, evo.hof), file=sys.stderr, flush=True)
            if stop_after is not None and g >= stop_after:
                return {"stopped_after": g}
        results = collect(evo, data)
        if final and config.final_seeds > 0 and evo.hof.best() is not None:
            from .final import final_evaluation

            results["final"] = final_evaluation(config, results["best"]["functions"], executor, progress=progress)
    finally:
        executor.close()
    write_json_atomic(out / "results.json", results)
    write_json_atomic(out / "best.json", best_json(results))
    from ..report.evolve import write_evolve_report

    write_evolve_report(results, out)
    return results


def collect(evo: Evolution, data) -> dict[str, Any]:
    """The results of the finished loop: hall of fame with simplified formulas, history, totals."""
    config = evo.config
    hof = []
    for rank, item in enumerate(evo.hof.items, 1):
        functions = dict(zip(config.slots, item["slots"]))
        formulas = {s: E.simplified(E.parse(t)) for s, t in functions.items()}
        hof.append({"rank": rank, **item, "functions": functions, "formulas": formulas})
    best = hof[0] if hof else None
    return {
        "format": FORMAT_RESULTS, "config": config.to_dict(),
        "dataset": {"name": data.name, "n_classes": data.n_classes, "input_shape": list(data.input_shape),
                    "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)}},
        "history": evo.history, "totals": evo.totals(), "sessions": evo.sessions, "hall_of_fame": hof,
        "best": best, "fitness": "best validation accuracy over a short training (higher is better)",
    }


def best_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """What ``best.json`` holds: the best functions, their formulas and how they did on test."""
    c = results["config"]
    b = results["best"]
    d = {"format": FORMAT_BEST, "version": 1, "mode": c["mode"], "functions": b["functions"],
         "plan": plan_for(c["mode"], b["functions"]), "fitness": b["fitness"], "formulas": b["formulas"],
         "dataset": c["dataset"], "model": c["model"], "model_options": c["model_options"]}
    final = results.get("final")
    if final:
        d["final"] = {r["name"]: {"mean": r["mean"], "std": r["std"], "n": len(r["test_accuracy"])} for r in final["contenders"]}
        d["comparisons"] = final["comparisons"]
    return d


__all__ = ["CATALOGUE", "EvolveConfig", "Evolution", "MODES", "SLOTS", "best_json", "catalogue_plan", "make_executor",
           "make_task", "plan_for", "run_evolution"]
