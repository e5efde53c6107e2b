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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._io import finite_float, oversized, own_out, prepare_out, read_json, write_json_atomic
from actlab.catalogue import expr as E
from actlab.execution import WHERE_ONLY, Runner
from actlab.stats import rank_correlation
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.final import final_evaluation
from actlab.studies.evolve.fitness import Fitness, catalogue_plan, make_task, plan_for, sanitise
from actlab.training import TrainConfig, few_steps

MODES = ("single", "triple", "coevolution")
SLOTS = ("input", "hidden", "output")
CATALOGUE = ("leaky_relu", "elu", "selu", "gelu", "silu", "mish", "tanh", "softplus")
CHECKPOINT = "checkpoint.json"
NOT_IN_KEY = ("generations", "budget", "final_seeds", "final_epochs", "catalogue")  # may change on --resume
FORMAT_CHECKPOINT = "actlab-evolve-checkpoint"
FORMAT_BEST = "actlab-evolve-best"
FORMAT_RESULTS = "actlab-evolve-results"
MAX_POPULATION = 100_000
# The tallest tree whose every shape fits the expression language's node limit (a full binary tree
# of height h has 2^(h+1) - 1 nodes): checkpoints and best.json store individuals as text.
MAX_HEIGHT = (E.MAX_NODES + 1).bit_length() - 2


def _fitness_training() -> TrainConfig:
    return TrainConfig(
        epochs=4, batch_size=32, lr=3e-3, patience=None, monitor="val_accuracy", diagnostics=False, threads=1
    )


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
    budget: float | None = None  # wall-clock seconds for the generations, all sessions together; None: no limit
    # Successive halving: [[epochs, share of the training split], ...], rising; None: one fidelity,
    # train.epochs on the whole split. Every new candidate trains at the first; the best
    # 1 / reduction_factor of those trained at one fidelity are promoted to the next.
    fidelities: list[list[float]] | None = None
    reduction_factor: int = 3
    learn_constants: bool = False  # the constants of a candidate are trained per layer with the weights
    # With a surrogate (single mode): every generation varies ``surrogate`` times the population, and
    # trains the offspring predicted best (a quarter of them at random, so the surrogate keeps learning).
    surrogate: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ActlabError(f"unknown mode {self.mode!r}; choose one of: {', '.join(MODES)}")
        self.population = V.integer("population", self.population, 2, MAX_POPULATION)
        if self.budget is not None:
            self.budget = V.number("--budget", self.budget, 0, 10**7, lo_open=True)
        self.tournament = V.integer("tournament size", self.tournament, 1, V.MAX_COUNT)
        if self.population < self.tournament:
            raise ActlabError(
                f"population {self.population} is smaller than the tournament size {self.tournament}; "
                "raise --population or lower --tournament"
            )
        self.elite = V.integer("elite", self.elite, 0, V.MAX_COUNT)
        if self.elite >= self.population:
            raise ActlabError(f"elite must be from 0 to population - 1 ({self.population - 1}), got {self.elite}")
        self.generations = V.integer("generations", self.generations, 1, V.MAX_COUNT)
        V.number("cxpb", self.cxpb, 0, 1)  # kept as given (0 and 0.0 must give one run key)
        V.number("mutpb", self.mutpb, 0, 1)
        self.init_min = V.integer("init-min", self.init_min, 0, MAX_HEIGHT)
        self.init_max = V.integer("init-max", self.init_max, 0, MAX_HEIGHT)
        self.max_height = V.integer("max height", self.max_height, 0, MAX_HEIGHT)
        if not self.init_min <= self.init_max <= self.max_height:
            raise ActlabError(
                f"tree heights need init-min <= init-max <= max height, got {self.init_min}, "
                f"{self.init_max}, {self.max_height}"
            )
        self.hall_of_fame = V.integer("hall of fame size", self.hall_of_fame, 1, 10_000)
        self.pack = V.integer("--pack", self.pack, 1, V.MAX_PACK)
        self.reduction_factor = V.integer("--reduction-factor", self.reduction_factor, 2, 1000)
        self.surrogate = V.integer("--surrogate", self.surrogate, 0, 100)
        if self.surrogate and self.mode != "single":
            raise ActlabError("--surrogate ranks one function per candidate: use it with --mode single")
        if self.fidelities is not None:
            self.fidelities = check_fidelities(self.fidelities)
        self.final_seeds = V.integer("final seeds", self.final_seeds, 0, V.MAX_SEEDS)
        self.final_epochs = V.integer("final epochs", self.final_epochs, 1, V.MAX_EPOCHS)
        self.seed = V.integer("seed", self.seed, 0, V.MAX_SEED)
        self.data_seed = V.integer("data seed", self.data_seed, 0, V.MAX_SEED)
        if isinstance(self.train, Mapping):
            self.train = TrainConfig.from_dict(self.train)
        self.unary = [E.primitive_name(n, what="unary primitive") for n in self.unary]
        self.binary = [E.primitive_name(n, what="binary primitive") for n in self.binary]
        G.make_pset(self.unary, self.binary, self.constants)  # arity mistakes, empty set: one line now
        bad = [m for m in self.mutations if m not in G.MUTATIONS]
        if bad or not self.mutations:
            raise ActlabError(f"unknown mutation {(bad or [''])[0]!r}; choose from: {', '.join(G.MUTATIONS)}")
        from actlab.catalogue import get

        for c in self.catalogue:
            get(c)

    @property
    def rungs(self) -> list[tuple[int, float]]:
        """The fidelities as ``(epochs, share of the training split)``, lowest first."""
        if not self.fidelities:
            return [(int(self.train.epochs), 1.0)]
        return [(int(e), float(f)) for e, f in self.fidelities]

    @property
    def slots(self) -> tuple[str, ...]:
        return ("all",) if self.mode == "single" else SLOTS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = self.train.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EvolveConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def run_key(self) -> str:
        """What a resumed run must share with the checkpoint (all but how long it runs and the final
        evaluation)."""
        d = {k: v for k, v in self.to_dict().items() if k not in NOT_IN_KEY}
        for part, names in WHERE_ONLY.items():  # where the data is and where it runs: not what it is
            d[part] = {k: v for k, v in d[part].items() if k not in names}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


MAX_FIDELITIES = 8


def check_fidelities(value: Any) -> list[list[float]]:
    """``[[epochs, share], ...]`` checked: 1 to 8 fidelities, epochs a whole number of at least 1,
    the share of the training split in (0, 1], each fidelity at least as long and on at least as
    much data as the one before, and more of one of them."""
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_FIDELITIES:
        raise ActlabError(f"--fidelities takes 1 to {MAX_FIDELITIES} fidelities, e.g. 2:0.25,6:0.5,15")
    out = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ActlabError("each fidelity is EPOCHS or EPOCHS:SHARE, e.g. 2:0.25,6:0.5,15")
        e = V.integer("fidelity epochs", item[0], 1, V.MAX_EPOCHS)
        f = V.number("fidelity share of the training split", item[1], 0, 1, lo_open=True)
        out.append([e, float(f)])
    for (e0, f0), (e1, f1) in zip(out, out[1:]):
        if e1 < e0 or f1 < f0 or (e1, f1) == (e0, f0):
            raise ActlabError(
                f"fidelities must rise: {e1}:{f1:g} after {e0}:{f0:g}; give each longer or on more data "
                "than the one before, e.g. 2:0.25,6:0.5,15"
            )
    return out


# --------------------------------------------------------------------------------- evolution
class Evolution:
    """The state of one evolution and its generation step."""

    def __init__(
        self, config: EvolveConfig, executor, progress: bool = True, clock: Callable[[], float] = time.perf_counter
    ):
        self.config = config
        self.executor = executor
        self.progress = progress
        self.clock = clock  # seconds; what a generation's "seconds" and the budget count
        self.pset = G.make_pset(config.unary, config.binary, config.constants)
        self.tb = G.make_toolbox(
            self.pset,
            init=(config.init_min, config.init_max),
            max_height=config.max_height,
            tournament=config.tournament,
            mutations=config.mutations,
        )
        self.generation = -1
        self.pops: list[list] = []
        self.reps: list | None = None
        self.hof = G.HallOfFame(config.hall_of_fame)
        self.cache: dict[str, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.sessions: list[dict[str, Any]] = []
        self.surrogate = None  # a actlab.surrogate.features.Surrogate for the task, when config.surrogate

    # -- individuals <-> text
    def _nodes(self, ind) -> list[E.Node]:
        if isinstance(ind, G.creator.ActlabTriple):
            return [G.tree_to_node(t) for t in ind]
        return [G.tree_to_node(ind)]

    def _dump_ind(self, ind) -> dict[str, Any]:
        d = {"slots": [E.to_text(n) for n in self._nodes(ind)], "fitness": G.score(ind) if ind.fitness.valid else None}
        if ind.fitness.valid and G.rung(ind):
            d["rung"] = G.rung(ind)
        return d

    def _load_ind(self, d: Mapping[str, Any]):
        trees = [G.text_to_tree(t, self.pset) for t in d["slots"]]
        ind = G.creator.ActlabTriple(trees) if self.config.mode == "triple" else trees[0]
        if d.get("fitness") is not None:
            G.set_fitness(ind, float(d["fitness"]), int(d.get("rung", 0)))
        return ind

    # -- evaluation
    @staticmethod
    def _behaviour(nodes: list[E.Node]) -> str | None:
        """The behaviour key of a candidate (its outputs on the probe inputs, slot by slot), or None
        if it fails the checks before training."""
        checks = [G.check(n) for n in nodes]
        return "|".join(c.key for c in checks) if all(c.ok for c in checks) else None

    def evaluate(self, candidates: list[list[E.Node]], generation: int) -> tuple[list[dict], dict[str, int]]:
        """Records for candidates (node lists, one per slot): cache, checks, then one training per
        distinct behaviour, on the executor; with several fidelities, successive halving: every new
        behaviour at the first, the best ``1 / reduction_factor`` of those trained at a fidelity
        promoted to the next."""
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
                res = {
                    "fitness": 0.0,
                    "status": f"rejected: {bad[1].reason}" + (f" ({bad[0]})" if len(nodes) > 1 else ""),
                }
                self.cache[key] = res
                records[i] = {**base, **res}
                counts["rejected"] += 1
            elif key in todo:
                todo[key][1].append(i)
                counts["cache_hits"] += 1
            else:
                todo[key] = (
                    plan_for(self.config.mode, dict(zip(self.config.slots, texts)), self.config.learn_constants),
                    [i],
                )
        done: dict[str, dict[str, Any]] = {}
        promoted = list(todo)
        counts["promoted"] = []
        for r in range(len(self.config.rungs)):
            if r:  # the best of those trained at the last fidelity (ties: the first met), the failed never
                ok = [k for k in promoted if done[k]["status"] == "ok"]
                n = math.ceil(len(ok) / self.config.reduction_factor)
                promoted = sorted(ok, key=lambda k: -done[k]["fitness"])[:n]
                counts["promoted"].append(len(promoted))
            if not promoted:
                break
            for key, res in zip(
                promoted, self._train([make_task(self.config, todo[key][0], rung=r) for key in promoted])
            ):
                res = {k: res[k] for k in ("fitness", "status", "val_accuracy", "seconds") if k in res}
                res.setdefault("seconds", 0.0)
                old = done.get(key)
                if old is not None and res["status"] != "ok":  # failed at a higher fidelity: it keeps the lower one's
                    old["note"] = f"{res['status']} at fidelity {r + 1}"
                    old["seconds"] += res.get("seconds", 0.0)
                    continue
                res["rungs"] = (old["rungs"] if old else []) + [res["fitness"]]
                res["seconds"] += old["seconds"] if old else 0.0
                done[key] = res
                counts["evaluations"] += r == 0  # new behaviours trained (promotions are counted apart)
        if len(self.config.rungs) == 1:
            del counts["promoted"]
        for key, (_, idx) in todo.items():
            res = done[key]
            if self.config.surrogate:  # what the surrogate learns from
                res["slots"] = bases[idx[0]]["slots"]
            self.cache[key] = res
            counts["failed"] += res["status"] != "ok"
            for i in idx:
                records[i] = {**bases[i], **res}
        return records, counts  # type: ignore[return-value]

    def _train(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state = random.getstate()  # the evolution's random stream must not depend on where candidates train
        try:  # (the trainer reseeds Python's random; Dask's client draws from it)
            return [sanitise(r) for r in self.executor.map(tasks)] if tasks else []
        finally:
            random.setstate(state)

    # -- one generation
    def step(self, g: int) -> dict[str, Any]:
        t0 = self.clock()
        c = self.config
        if c.mode == "coevolution":
            stats = self._step_coevolution(g)
        else:
            if g == 0:
                pop = G.ramped_population(self.tb, c.population, slots=1 if c.mode == "single" else 3)
            else:
                pop = G.vary(self.tb, self.pops[0], elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb)
            behaviour = lambda ind: self._behaviour(self._nodes(ind))  # noqa: E731
            pop, renewed = G.renew(self.tb, pop, behaviour, self.cache, elite=c.elite if g else 0)
            screened = self._screen(pop, behaviour) if c.surrogate and g else None
            if screened is not None:
                pop, screen = screened
                renewed["screened"] = screen["pool"]
            self.pops = [pop]
            invalid = [ind for ind in pop if not ind.fitness.valid]
            records, counts = self.evaluate([self._nodes(ind) for ind in invalid], g)
            for ind, r in zip(invalid, records):
                G.set_fitness(ind, r["fitness"], _rung(r))
            self.hof.update(records)
            fit = [G.score(ind) for ind in pop]
            stats = {
                **counts,
                **renewed,
                "distinct": len({self._behaviour(self._nodes(ind)) for ind in pop}),
                "best": max(fit),
                "mean": float(np.mean(fit)),
                "median": float(np.median(fit)),
            }
            if screened is not None:  # did the surrogate rank them as the training did?
                first = {r["key"]: (r.get("rungs") or [r["fitness"]])[0] for r in records}
                got = [first.get(k) for k in screen["keys"]]
                stats["surrogate"] = {
                    **rank_correlation(screen["predicted"], got),
                    "pool": screen["pool"],
                    "trained": len(screen["keys"]),
                    "at_random": screen["at_random"],
                }
        best = self.hof.best()
        stats.update(
            {
                "generation": g,
                "seconds": self.clock() - t0,
                "session": len(self.sessions) - 1,
                "hof_best": best["fitness"] if best else None,
            }
        )
        self.history.append(stats)
        self.generation = g
        return stats

    def _screen(self, pop: list, behaviour) -> tuple[list, dict[str, Any]] | None:
        """The population with its offspring chosen by the surrogate: ``surrogate`` - 1 more
        rounds of variation fill a pool of new behaviours; of the ``population - elite`` offspring
        trained, a quarter (at least one) are drawn at random from the pool, the others are the
        pool's best predicted. None while fewer than 8 functions were trained (nothing to fit)."""
        c = self.config
        trained = [(v["slots"][0], v["rungs"][0]) for v in self.cache.values() if v.get("rungs") and v.get("slots")]
        if len(trained) < 8:
            return None
        elite, pool, keys = pop[: c.elite], [], set(self.cache)
        for round_ in range(c.surrogate):
            if round_:
                more = G.vary(self.tb, self.pops[0], elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb)
                pop, _ = G.renew(self.tb, more, behaviour, self.cache, elite=c.elite)
            for ind in pop[c.elite :]:
                key = behaviour(ind)
                if key is not None and key not in keys:
                    keys.add(key)
                    pool.append(ind)
        n = c.population - c.elite
        specs = [E.PREFIX + G.tree_text(ind) for ind in pool]
        self.surrogate.fit([E.PREFIX + t for t, _ in trained], [f for _, f in trained], pool=specs)
        mean, _ = self.surrogate.predict(specs)
        order = sorted(range(len(pool)), key=lambda i: (-mean[i], i))
        k = max(1, round(n / 4)) if len(pool) > n else 0
        chosen = sorted(order[: n - k] + random.sample(order[n - k :], k))
        pick = [pool[i] for i in chosen]
        while len(elite) + len(pick) < c.population:  # a pool smaller than the population: fill as renew would
            pick.append(G.ramped_population(self.tb, 1)[0])
        return elite + pick, {
            "pool": len(pool),
            "at_random": k,
            "keys": [behaviour(pool[i]) for i in chosen],
            "predicted": [float(mean[i]) for i in chosen],
        }

    def _step_coevolution(self, g: int) -> dict[str, Any]:
        c = self.config
        if g == 0:
            self.pops = [G.ramped_population(self.tb, c.population) for _ in SLOTS]
        else:
            self.pops = [G.vary(self.tb, p, elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb) for p in self.pops]
        renewed = {"replaced": 0, "kept": 0}
        for i, p in enumerate(self.pops):  # within a population, every offspring behaves differently
            self.pops[i], r = G.renew(
                self.tb, p, lambda ind: self._behaviour([G.tree_to_node(ind)]), (), elite=c.elite if g else 0
            )
            renewed = {k: renewed[k] + r[k] for k in renewed}
        if g == 0:
            self.reps = [G.clone(random.choice(p)) for p in self.pops]
        else:
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
            G.set_fitness(ind, r["fitness"], _rung(r))
        self.hof.update(records)
        per_slot = {}
        for s, pop in zip(SLOTS, self.pops):
            fit = [G.score(ind) for ind in pop]
            per_slot[s] = {"best": max(fit), "mean": float(np.mean(fit))}
        self.reps = [G.clone(max(p, key=lambda ind: ind.fitness)) for p in self.pops]
        fit = [G.score(ind) for p in self.pops for ind in p]
        return {
            **counts,
            **renewed,
            "distinct": len({self._behaviour(n) for n in cands}),
            "best": max(fit),
            "mean": float(np.mean(fit)),
            "median": float(np.median(fit)),
            "slots": per_slot,
            "representatives": [G.tree_text(r) for r in self.reps],
        }

    # -- checkpoints
    def state(self) -> dict[str, Any]:
        return {
            "format": FORMAT_CHECKPOINT,
            "version": 1,
            "config": self.config.to_dict(),
            "run_key": self.config.run_key(),
            "generation": self.generation,
            "populations": [[self._dump_ind(ind) for ind in p] for p in self.pops],
            "representatives": [G.tree_text(r) for r in self.reps] if self.reps else None,
            "hall_of_fame": self.hof.items,
            "cache": self.cache,
            "history": self.history,
            "sessions": self.sessions,
            "random_state": _random_state_to_json(random.getstate()),
        }

    def restore(self, d: Mapping[str, Any]) -> None:
        """Continue from a checkpoint's content (checked first: a damaged one is one line)."""
        check_checkpoint(d)
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


def _rung(record: Mapping[str, Any]) -> int:
    """The highest fidelity a record's candidate was trained at (0 when not trained)."""
    return max(len(record.get("rungs") or ()) - 1, 0)


def _random_state_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _random_state_from_json(d) -> tuple:
    if not (
        isinstance(d, list)
        and len(d) == 3
        and isinstance(d[1], list)
        and all(_is_int(v) for v in d[1])
        and _is_int(d[0])
        and (d[2] is None or _is_num(d[2]))
    ):
        raise ValueError("not a random state")
    return (d[0], tuple(d[1]), d[2])


MAX_SESSIONS = 100_000  # runs of the command that one checkpoint remembers


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The content of a checkpoint, checked by :func:`check_checkpoint` (one line for anything else)."""
    d = read_json(path, "checkpoint", "start again with a new --out")
    check_checkpoint(d, repr(str(path)))
    return d


def _is_num(v: Any, finite: bool = True) -> bool:
    """A number of a checkpoint: a finite one (or NaN, infinity where not ``finite``); never a
    whole number beyond a float's range, which no sum or report can take."""
    return finite_float(v) is not None or (not finite and isinstance(v, float))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_checkpoint(d: Any, where: str = "the checkpoint") -> EvolveConfig:
    """Check everything a resumed run reads from a checkpoint's content, against the
    checkpoint's own settings (types, sizes, generation within its generations, expression texts
    that read and use only the run's primitives, Python's random state); returns those settings.
    A damaged or foreign file is one :class:`ActlabError` line, never a later traceback."""

    def bad(what: str) -> ActlabError:
        return ActlabError(f"{where} is not a usable actlab evolve checkpoint ({what}); start again with a new --out")

    if not isinstance(d, Mapping) or d.get("format") != FORMAT_CHECKPOINT:
        raise bad("not a checkpoint")
    too_large = oversized(d)  # nothing larger than a run writes is carried into results and reports
    if too_large:
        raise bad(too_large)
    if not _is_int(d.get("version", 1)) or d.get("version", 1) != 1:
        raise bad(f"version {str(d.get('version'))[:20]!r}; this actlab reads version 1")
    raw = d.get("config")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("train", {}), Mapping):
        raise bad("no settings")
    try:
        config = EvolveConfig.from_dict(raw)
        if not isinstance(config.model_options, dict) or not isinstance(config.data_options, dict):
            raise bad("model or data options are not tables")
        config.run_key()
    except ActlabError as e:
        raise bad(f"its settings: {e}") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError):
        raise bad("its settings are not those of an evolution") from None
    if not isinstance(d.get("run_key"), str):
        raise bad("no run key")
    g = d.get("generation")
    if not _is_int(g) or not 0 <= g < config.generations:
        raise bad(f"generation {str(g)[:20]}, not a generation from 0 to {config.generations - 1} of its run")
    allowed = set(config.unary) | set(config.binary)
    n_slots = 3 if config.mode == "triple" else 1

    def expression(text: Any, what: str) -> None:
        if not isinstance(text, str):
            raise bad(f"{what} is {type(text).__name__}, not expression text")
        try:
            node = E.parse(text)
        except ActlabError as e:
            raise bad(f"{what}: {e}") from None
        extra = E.primitives_used(node) - allowed
        if extra:
            raise bad(f"{what} uses {sorted(extra)[0]!r}, which is not among the run's primitives")
        if not config.constants and _has_const(node):
            raise bad(f"{what} has a constant, and the run has none")
        if E.height(node) > max(config.max_height, config.init_max):
            raise bad(f"{what} is taller than the run's max height {config.max_height}")

    def slots(v: Any, what: str, n: int) -> None:
        if not isinstance(v, list) or len(v) != n:
            raise bad(f"{what} has no list of {n} slot function(s)")
        for t in v:
            expression(t, what)

    def fidelity_scores(v: Any) -> bool:
        return v is None or isinstance(v, list) and len(v) <= len(config.rungs) and all(_is_num(a) for a in v)

    pops = d.get("populations")
    n_pops = 3 if config.mode == "coevolution" else 1
    if not isinstance(pops, list) or len(pops) != n_pops:
        raise bad(f"not {n_pops} population(s)")
    for pop in pops:
        if not isinstance(pop, list) or len(pop) != config.population:
            raise bad(f"a population that does not hold {config.population} individuals")
        for ind in pop:
            if not isinstance(ind, Mapping):
                raise bad("an individual that is not a table")
            slots(ind.get("slots"), "an individual", n_slots)
            if ind.get("fitness") is not None and not _is_num(ind.get("fitness")):
                raise bad("an individual's fitness is not a finite number")
            if ind.get("rung") is not None and not (_is_int(ind["rung"]) and 0 <= ind["rung"] < len(config.rungs)):
                raise bad("an individual's fidelity is not one of the run's")
    reps = d.get("representatives")
    if config.mode == "coevolution" and g >= 0:
        if not isinstance(reps, list) or len(reps) != 3:
            raise bad("not 3 representatives")
        for t in reps:
            expression(t, "a representative")
    elif reps not in (None, []):
        raise bad("representatives in a run without coevolution")
    hof = d.get("hall_of_fame")
    if not isinstance(hof, list) or len(hof) > config.hall_of_fame:
        raise bad(f"a hall of fame that is not a list of at most {config.hall_of_fame}")
    for item in hof:
        if not (
            isinstance(item, Mapping)
            and isinstance(item.get("key"), str)
            and _is_num(item.get("fitness"))
            and isinstance(item.get("status"), str)
            and _is_int(item.get("nodes"))
            and _is_int(item.get("generation"))
        ):
            raise bad("a hall-of-fame entry without key, slots, fitness, status, nodes and generation")
        slots(item.get("slots"), "a hall-of-fame entry", len(config.slots))  # coevolution: the whole combination
        if not fidelity_scores(item.get("rungs")):
            raise bad("a hall-of-fame entry whose fitness per fidelity is not a list of finite numbers")
    cache = d.get("cache")
    if not isinstance(cache, Mapping):
        raise bad("the cache of trained candidates is not a table")
    for k, v in cache.items():
        if not (
            isinstance(k, str)
            and isinstance(v, Mapping)
            and _is_num(v.get("fitness"))
            and isinstance(v.get("status"), str)
            and (v.get("seconds") is None or _is_num(v.get("seconds"), finite=False))
            and (
                v.get("val_accuracy") is None
                or isinstance(v.get("val_accuracy"), list)
                and len(v["val_accuracy"]) <= 10**6
                and all(a is None or _is_num(a, finite=False) for a in v["val_accuracy"])
            )
            and fidelity_scores(v.get("rungs"))
        ):
            raise bad("a cache entry without a finite fitness and a status")
    history = d.get("history")
    if not isinstance(history, list) or len(history) != g + 1:
        raise bad(f"a history that does not hold the {g + 1} generation(s) done")
    for i, h in enumerate(history):
        if not (
            isinstance(h, Mapping)
            and h.get("generation") == i
            and _is_num(h.get("seconds"), finite=False)
            and all(_is_num(h.get(f), finite=False) for f in ("best", "mean"))
            and (h.get("hof_best") is None or _is_num(h.get("hof_best"), finite=False))
            and all(
                _is_int(h.get(f)) and h.get(f) >= 0
                for f in ("candidates", "evaluations", "cache_hits", "rejected", "failed")
            )
        ):
            raise bad(f"the history of generation {i} is incomplete")
        if config.mode == "coevolution" and not (
            isinstance(h.get("slots"), Mapping)
            and all(
                isinstance(h["slots"].get(s), Mapping)
                and all(_is_num(h["slots"][s].get(f), finite=False) for f in ("best", "mean"))
                for s in SLOTS
            )
        ):
            raise bad(f"the history of generation {i} lacks the best of each population")
    sessions = d.get("sessions")
    if sessions is not None and (
        not isinstance(sessions, list)
        or len(sessions) > MAX_SESSIONS
        or not all(isinstance(x, Mapping) and len(x) <= 20 for x in sessions)
    ):
        raise bad(f"the sessions are not a list of at most {MAX_SESSIONS:,} small tables")
    try:
        random.Random().setstate(_random_state_from_json(d.get("random_state")))
    except (TypeError, ValueError, OverflowError, IndexError, KeyError):
        raise bad("Python's random state") from None
    return config


def _has_const(node: E.Node) -> bool:
    return isinstance(node, E.Const) or (isinstance(node, E.Call) and any(_has_const(a) for a in node.args))


def _progress_line(config: EvolveConfig, stats: dict[str, Any], hof: G.HallOfFame, history: list | None = None) -> str:
    best = hof.best()
    text = " | ".join(best["slots"]) if best else ""
    kept = f"  not renewed after 8 tries {stats['kept']}" if stats.get("kept") else ""
    if stats.get("promoted") is not None:
        kept += f"  promoted {'/'.join(str(n) for n in stats['promoted']) or 0}"
    if stats.get("surrogate"):
        sg = stats["surrogate"]
        rho = f"{sg['spearman']:+.2f}" if sg["spearman"] is not None else "n/a"
        kept += f"  surrogate: {sg['trained']} of {sg['pool']} offspring (rank corr. {rho})"
    return (
        f"gen {stats['generation']}/{config.generations - 1}: best {stats['best']:.3f}  mean {stats['mean']:.3f}  "
        f"trained {stats['evaluations']}  duplicates replaced {stats.get('replaced', 0)}  distinct "
        f"{stats.get('distinct', '?')}/{config.population}  cache hits {stats['cache_hits']}  rejected {stats['rejected']}  "
        f"failed {stats['failed']}{kept}  {stats['seconds']:.1f}s  | hall of fame best "
        + (f"{best['fitness']:.3f}: {text[:70]}" if best else "none yet")
        + _left(config, history)
    )


def _left(config: EvolveConfig, history: list | None) -> str:
    if config.budget is None or not history:
        return ""
    left = max(0.0, config.budget - sum(h["seconds"] for h in history))
    return f"  | budget left {left / 60:.1f} min"


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
) -> dict[str, Any]:
    """Evolve, checkpointing after every generation; then the final evaluation, ``results.json``
    and ``best.json`` in ``out``. Returns the results; the report is written by the caller
    (``actlab.report.evolve.write_evolve_report``).

    ``resume=True`` continues the checkpoint in ``out``, or starts the evolution where there is
    none yet (killed before its first generation ended). A folder holding another command's
    results is refused unless ``force``. ``evaluator(task) -> {"fitness", "status"}`` replaces
    the training (tests); ``stop_after`` ends after that generation without the final step (as a
    kill would, but cleanly). ``clock()`` gives the seconds that generations take and the budget
    counts (tests pass a counted one)."""
    out = prepare_out(out)
    own_out(out, "evolve", force)
    path = out / CHECKPOINT
    saved = None
    if path.exists():
        if not resume:
            raise ActlabError(
                f"{str(out)!r} already holds an evolution; add --resume to continue it, or choose a new --out"
            )
        saved = read_checkpoint(path)
        old = EvolveConfig.from_dict(saved["config"])
        if saved.get("run_key") != config.run_key():
            diff = [k for k, v in config.to_dict().items() if old.to_dict().get(k) != v and k not in NOT_IN_KEY]
            raise ActlabError(
                f"the checkpoint in {str(out)!r} was made with other settings ({', '.join(diff[:4])}); "
                "resume with the same options, or choose a new --out"
            )
    elif resume:
        print(f"actlab: note: no checkpoint in {str(out)!r} yet; starting the evolution", file=sys.stderr, flush=True)

    from actlab.data import load
    from actlab.models import build

    data = load(config.dataset, seed=config.data_seed, **config.data_options)  # bad dataset: one line, before any work
    build(config.model, data.input_shape, data.n_classes, "relu", **config.model_options)

    runner = Runner(
        workers=workers, dask=dask, pack=config.pack, threads=config.train.threads, dask_timeout=dask_timeout
    )
    surrogate = None
    if config.surrogate:  # features are kept in out/surrogate: a resumed run computes none again
        from actlab.surrogate.features import Surrogate, Task

        task = Task(
            dataset=config.dataset,
            model=config.model,
            data_seed=config.data_seed,
            model_options=dict(config.model_options),
            data_options=dict(config.data_options),
            loss=config.train.loss,
            seed=config.seed,
        )
        surrogate = Surrogate(task, data, folder=out / "surrogate")
    executor = Fitness(runner, evaluator, folder=out / "units")
    try:
        evo = Evolution(config, executor, progress, clock)
        evo.surrogate = surrogate
        if saved is not None:
            evo.restore(saved)
        else:
            random.seed(config.seed)
        evo.sessions.append(
            {
                "after_generation": evo.generation,
                "pid": os.getpid(),
                "executor": executor.name,
                "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
        if progress and saved is not None:
            print(f"resuming after generation {evo.generation} from {path}", file=sys.stderr, flush=True)
        if few := few_steps(len(data.train), config.train):  # after every check: bad input is one line
            print(few, file=sys.stderr, flush=True)
        ended = "generations"
        for g in range(evo.generation + 1, config.generations):
            if config.budget is not None and evo.history:
                spent, last = sum(h["seconds"] for h in evo.history), evo.history[-1]["seconds"]
                if spent + last > config.budget:  # the next generation would likely overrun the budget
                    ended = "budget"
                    if progress:
                        print(
                            f"budget: {spent:.0f} s of {config.budget:.0f} s spent, and a generation takes about "
                            f"{last:.0f} s: the evolution ends after generation {evo.generation}",
                            file=sys.stderr,
                            flush=True,
                        )
                    break
            stats = evo.step(g)
            write_json_atomic(path, evo.state())
            if progress:
                print(_progress_line(config, stats, evo.hof, evo.history), file=sys.stderr, flush=True)
            if stop_after is not None and g >= stop_after:
                return {"stopped_after": g}
        results = collect(evo, data)
        results["ended_by"] = ended
        if final and config.final_seeds > 0 and evo.hof.best() is not None:
            results["final"] = final_evaluation(
                config, results["hall_of_fame"], executor, progress=progress, folder=out / "final"
            )
            results["best"] = results["hall_of_fame"][results["final"]["chosen"]["hall_of_fame_rank"] - 1]
    finally:
        runner.close()
    write_json_atomic(out / "results.json", results)
    write_json_atomic(out / "best.json", best_json(results))
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
        "format": FORMAT_RESULTS,
        "config": config.to_dict(),
        "dataset": {
            "name": data.name,
            "n_classes": data.n_classes,
            "input_shape": list(data.input_shape),
            "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
        },
        "history": evo.history,
        "totals": evo.totals(),
        "sessions": evo.sessions,
        "hall_of_fame": hof,
        "best": best,
        "fitness": "best validation accuracy over a short training (higher is better)"
        + (
            "; with several fidelities, candidates rank first by the highest fidelity they reached, then by the "
            "fitness there"
            if len(config.rungs) > 1
            else ""
        ),
    }


def best_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """What ``best.json`` holds: the best functions, their formulas and how they did on test."""
    c = results["config"]
    b = results["best"]
    learn = bool(c.get("learn_constants"))
    d = {
        "format": FORMAT_BEST,
        "version": 1,
        "mode": c["mode"],
        "functions": b["functions"],
        "plan": plan_for(c["mode"], b["functions"], learn),
        "fitness": b["fitness"],
        "formulas": b["formulas"],
        "hall_of_fame_rank": b["rank"],
        "learn_constants": learn,
        "dataset": c["dataset"],
        "model": c["model"],
        "model_options": c["model_options"],
    }
    final = results.get("final")
    if final:
        d["final"] = {
            r["name"]: {"mean": r["mean"], "std": r["std"], "n": len(r["test_accuracy"])} for r in final["contenders"]
        }
        d["comparisons"] = final["comparisons"]
        evolved = final["contenders"][0]
        if learn and any(evolved.get("learned") or ()):  # the constants of the final run best on validation
            i = max(range(len(evolved["seeds"])), key=lambda i: evolved["val_accuracy"][i])
            d["learned"], d["learned_from"] = (
                evolved["learned"][i],
                {
                    "seed": evolved["seeds"][i],
                    "val_accuracy": evolved["val_accuracy"][i],
                    "test_accuracy": evolved["test_accuracy"][i],
                },
            )
    return d


__all__ = [
    "CATALOGUE",
    "EvolveConfig",
    "check_fidelities",
    "Evolution",
    "MODES",
    "SLOTS",
    "best_json",
    "catalogue_plan",
    "check_checkpoint",
    "read_checkpoint",
    "make_task",
    "plan_for",
    "run_evolution",
]
