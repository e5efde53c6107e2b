"""The generation loop: one :class:`Evolution` holds the populations, the hall of fame, the cache
of trained candidates and the history, and steps from one generation to the next.

* ``single`` and ``triple`` mode: one population; generation 0 is random (ramped half-and-half),
  every later one is varied from the last (tournament, crossover, mutation, elite kept).
* ``coevolution``: one population per slot (three, or a user's model's groups); each individual is
  scored together with the current best (the *representative*) of the other populations. In
  generation 0 the representatives are random members; after every generation each population's
  best becomes its representative. Since the partners change, every individual is scored again each generation
  (the cache answers for combinations already trained).
* Offspring that repeat a behaviour already trained are varied again (:func:`~actlab.studies.evolve.gp.renew`).
* With a surrogate (single mode), the population is varied several times and the offspring it
  predicts best are trained (:meth:`Evolution._screen`).
* Successive halving over the config's fidelities: every new behaviour trains at the first, the
  best ``1 / reduction_factor`` of those trained at a fidelity go on to the next (:meth:`Evolution.evaluate`).
* With ``overlap`` (and several fidelities), the training of the behaviours promoted to the last
  fidelity (:meth:`~actlab.execution.Runner.start`) goes on while the next generation is bred and
  trains its lower fidelities, so that several workers have work while the longest trainings run:
  the next generation is bred while their fitness is still the one of the fidelity below
  (:attr:`Evolution.pending`), and they climb at its end; :meth:`Evolution.finish` takes in what
  is left after the last generation. Every generation waits for the one before, so the result
  still never depends on the workers or on when a training ends. Which starts first is chosen
  from the generation's shape (:func:`last_first`): the last fidelity at once where it alone
  costs as much as the lower fidelities together (the longest work first), or where a surrogate
  makes the breeding long; else right after the next generation's first fidelity, whose
  promotions the workers would otherwise wait for.
* With several tasks, a candidate trains on each, and its fitness is its mean standing against
  ReLU there (:mod:`~actlab.studies.evolve.tasks`).
* With ``stagnation`` G: when the hall of fame's best fitness has not risen for G generations, the
  next generation restarts: the hall of fame's best (``elite`` of them, at least one) and fresh
  random individuals (:meth:`Evolution.stagnant`). Read from the history alone, so a resumed run
  restarts where an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from actlab.catalogue import expr as E
from actlab.stats import rank_correlation
from actlab.studies.evolve import checkpoint
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import make_task, plan_for, sanitise
from actlab.studies.evolve.tasks import WORST, Standing

COUNTS = ("candidates", "evaluations", "cache_hits", "rejected", "failed")  # per generation, summed in the totals
KEPT = ("fitness", "status", "val_accuracy", "seconds", "tasks")  # of a fitness record, in the cache


class Evolution:
    """The state of one evolution and its generation step."""

    def __init__(
        self, config: EvolveConfig, executor, progress: bool = True, clock: Callable[[], float] = time.perf_counter
    ):
        self.config = config
        self.fidelities = config.fidelity_levels()
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
        self.standing = Standing(config, self._train) if config.tasks else None  # several tasks
        self.failed = WORST if config.tasks else 0.0  # the fitness of a failed or rejected candidate
        # With overlap: behaviours promoted to the last fidelity, not trained there yet (key -> base
        # record: key, slots, nodes, generation), in the order promoted; their training starts at
        # once or with the next generation's first fidelity (``_carrying``, the wait for its
        # records, once started) and is taken in by the next generation.
        self.overlap = bool(config.overlap) and len(self.fidelities) > 1
        self.pending: dict[str, dict[str, Any]] = {}
        self._carrying: Callable[[], list[dict[str, Any]]] | None = None

    # -- checkpoints
    def state(self) -> dict[str, Any]:
        """The checkpoint after the last generation (:mod:`~actlab.studies.evolve.checkpoint`)."""
        return checkpoint.state(self)

    def restore(self, d: Mapping[str, Any]) -> None:
        """Continue from a checkpoint's content (checked first: a damaged one is one line)."""
        checkpoint.restore(self, d)

    def totals(self) -> dict[str, int]:
        return {k: int(sum(h.get(k, 0) for h in self.history)) for k in COUNTS}

    # -- evaluation
    @staticmethod
    def _behaviour(nodes: list[E.Node]) -> str | None:
        """The behaviour key of a candidate (its outputs on the probe inputs, slot by slot), or None
        if it fails the checks before training."""
        checks = [G.check(n) for n in nodes]
        return "|".join(c.key for c in checks) if all(c.ok for c in checks) else None

    def _key(self, ind) -> str | None:
        return self._behaviour(G.nodes(ind))

    def evaluate(self, candidates: list[list[E.Node]], generation: int) -> tuple[list[dict], dict[str, int]]:
        """Records for candidates (node lists, one per slot): cache, checks, then one training per
        distinct behaviour, on the executor; with several fidelities, successive halving: every new
        behaviour at the first, the best ``1 / reduction_factor`` of those trained at a fidelity
        promoted to the next. With overlap, the last fidelity of the behaviours promoted to it in the
        generation before trains while this one's fidelities do (their records climb at the end, and
        the hall of fame and the populations take them in), and this generation's promoted wait in
        :attr:`pending`, their training started."""
        counts = dict.fromkeys(COUNTS, 0)
        counts["candidates"] = len(candidates)
        records: list[dict | None] = [None] * len(candidates)
        bases, todo = self._triage(candidates, generation, records, counts)
        carried, started = self._take_pending()
        if carried:
            counts["carried"] = len(carried)

        def carry() -> None:  # their training handed over, where it is not yet
            nonlocal started
            if started is None and carried:
                started = self._begin(self._last_jobs(carried))

        done, deferred = self._halving(todo, counts, then=carry)
        carry()  # nothing new trained in this generation
        finished = dict(zip(carried, started(), strict=True)) if started is not None else {}
        for key, (_, idx) in todo.items():
            res = done[key]
            if self.config.surrogate:  # what the surrogate learns from
                res["slots"] = bases[idx[0]]["slots"]
            self.cache[key] = res
            counts["failed"] += res["status"] != "ok"
            for i in idx:
                records[i] = {**bases[i], **res}
        climbed = self._climb_carried(carried, finished, counts)
        for i, r in enumerate(records):  # a candidate answered by the cache while its behaviour was pending
            if r is not None and r["key"] in finished:
                records[i] = {**bases[i], **self.cache[r["key"]]}
        self._refresh(climbed)
        self.pending = {key: bases[todo[key][1][0]] for key in deferred}
        if self.pending and last_first(self.fidelities, counts, bool(self.config.surrogate)):
            self._carrying = self._begin(self._last_jobs(self.pending))
        return records, counts  # type: ignore[return-value]

    def _last_jobs(self, behaviours: Mapping[str, dict[str, Any]]) -> list[tuple[dict[str, str], int]]:
        """The trainings of ``behaviours`` (base records) at the last fidelity."""
        return [(self._plan(b["slots"]), len(self.fidelities) - 1) for b in behaviours.values()]

    def _take_pending(self) -> tuple[dict[str, dict[str, Any]], Callable[[], list[dict[str, Any]]] | None]:
        """The :attr:`pending` behaviours (emptied) and the wait for their training at the last
        fidelity where it has started; None where it has not (its turn had not come, or a run
        resumed from a checkpoint)."""
        carried, started = self.pending, self._carrying
        self.pending, self._carrying = {}, None
        return carried, started

    def _climb_carried(
        self, carried: Mapping[str, dict[str, Any]], finished: Mapping[str, dict[str, Any]], counts: dict
    ) -> list[dict[str, Any]]:
        """The behaviours ``carried`` over from the generation before, trained at the last fidelity
        (``finished``): their cache records climb; returns them as records of their own generation."""
        last = len(self.fidelities) - 1
        out = []
        for key, base in carried.items():
            old = self.cache[key]
            _climb(self.cache, key, finished[key], last)
            if "slots" in old:
                self.cache[key]["slots"] = old["slots"]
            counts["failed"] += finished[key]["status"] != "ok"
            out.append({**base, **self.cache[key]})
        return out

    def finish(self) -> list[dict[str, Any]]:
        """After the last generation: the behaviours still :attr:`pending` trained at the last
        fidelity; the hall of fame, the populations and the last generation's record (``finished``:
        how many, its hall of fame's best) given their fitness there. Not part of the checkpoint: a
        resumed run trains them with its next generation, as an uninterrupted one does. Returns
        their records."""
        if not self.pending:
            return []
        carried, started = self._take_pending()
        carrying = started or self._begin(self._last_jobs(carried))
        counts = {"failed": 0}
        climbed = self._climb_carried(carried, dict(zip(carried, carrying(), strict=True)), counts)
        self._refresh(climbed)
        record = self.history[-1]  # the last generation's record says what ended it
        record["finished"], record["failed"] = len(climbed), record["failed"] + counts["failed"]
        self._hof_stats(record)
        return climbed

    def _refresh(self, records: list[dict[str, Any]]) -> None:
        """The hall of fame and every individual of the populations (single and triple mode) given
        the newest ``records``."""
        if not records:
            return
        self.hof.update(records)
        if self.config.mode == "coevolution":  # scored again with new partners every generation
            return
        by_key = {r["key"]: r for r in records}
        for ind in self.pops[0] if self.pops else []:
            r = by_key.get(self._key(ind)) if ind.fitness.valid else None
            if r is not None:
                G.set_fitness(ind, r["fitness"], _fidelity_reached(r))

    def _plan(self, texts: Sequence[str]) -> dict[str, str]:
        """The activation plan of a candidate's slot texts."""
        functions = dict(zip(self.config.slots, texts, strict=True))
        return plan_for(self.config.mode, functions, self.config.learn_constants)

    def _triage(
        self, candidates: list[list[E.Node]], generation: int, records: list, counts: dict[str, int]
    ) -> tuple[list[dict[str, Any]], dict[str, tuple[dict[str, str], list[int]]]]:
        """Each candidate answered by the cache (``records``), rejected by the checks before
        training, or to train. Returns every candidate's base record and the behaviours to train:
        key -> (plan, the candidates that share it)."""
        bases, todo = [], {}
        for i, nodes in enumerate(candidates):
            checks = [G.check(n) for n in nodes]
            key = "|".join(c.key for c in checks)
            texts = [E.to_text(n) for n in nodes]
            bases.append({"key": key, "slots": texts, "nodes": sum(E.size(n) for n in nodes), "generation": generation})
            bad = next(((s, c) for s, c in zip(self.config.slots, checks, strict=True) if not c.ok), None)
            if key in todo:  # another candidate of this generation behaves alike
                todo[key][1].append(i)
                counts["cache_hits"] += 1
                continue
            if key in self.cache:
                counts["cache_hits"] += 1
            elif bad is not None:
                where = f" ({bad[0]})" if len(nodes) > 1 else ""
                self.cache[key] = {"fitness": self.failed, "status": f"rejected: {bad[1].reason}{where}"}
                counts["rejected"] += 1
            else:
                todo[key] = (self._plan(texts), [i])
                continue
            records[i] = {**bases[i], **self.cache[key]}
        return bases, todo

    def _halving(
        self,
        todo: Mapping[str, tuple[dict[str, str], list[int]]],
        counts: dict,
        then: Callable[[], None] = lambda: None,
    ) -> tuple[dict[str, dict], list[str]]:
        """Successive halving of the behaviours ``todo``: key -> fitness record, ``rungs`` its
        fitness at each fidelity reached. ``counts`` gets the behaviours trained and (with several
        fidelities) the number promoted to each higher fidelity. With overlap, those promoted to the
        last fidelity are returned, not trained. ``then()`` is called once the first fidelity's
        list is handed to the executor, before it is waited for."""
        done: dict[str, dict[str, Any]] = {}
        promoted = list(todo)
        counts["evaluations"] = len(promoted)  # new behaviours (promotions are counted apart)
        last = len(self.fidelities) - 1
        if last:
            counts["promoted"] = []
        for fidelity in range(last + 1):
            if fidelity:  # the best of those trained at the last fidelity (ties: the first met), the failed never
                ok = [k for k in promoted if done[k]["status"] == "ok"]
                n = math.ceil(len(ok) / self.config.reduction_factor)
                promoted = sorted(ok, key=lambda k: -done[k]["fitness"])[:n]
                counts["promoted"].append(len(promoted))
                if fidelity == last and self.overlap:
                    return done, promoted
            if not promoted:
                break
            wait = self._begin([(todo[key][0], fidelity) for key in promoted])
            if fidelity == 0:
                then()
            results = wait()
            for key, res in zip(promoted, results, strict=True):
                _climb(done, key, res, fidelity)
        return done, []

    def _begin(self, jobs: list[tuple[dict[str, str], int]]) -> Callable[[], list[dict[str, Any]]]:
        """The training of ``jobs`` (plan, fidelity), in one list, handed to the executor now: on
        the task, or on every task and combined. Returns the wait for their fitness records."""
        if self.standing is None:
            return self._start([make_task(self.config, plan, fidelity=f) for plan, f in jobs])
        standing, n = self.standing, len(self.standing.names)
        wait = self._start([t for plan, f in jobs for t in standing.tasks(plan, f)])

        def combined() -> list[dict[str, Any]]:
            records = wait()
            return [standing.combine(records[i * n : (i + 1) * n], f) for i, (_, f) in enumerate(jobs)]

        return combined

    def _start(self, tasks: list[dict[str, Any]]) -> Callable[[], list[dict[str, Any]]]:
        """``tasks`` handed to the executor now, where they train while this process goes on (and
        while later lists are waited for); returns the wait for their sanitised records. The
        evolution's random stream never depends on where or when candidates train: the trainer
        reseeds Python's random, and Dask's client draws from it."""
        if not tasks:
            return list
        with _own_random():
            started = self.executor.start(tasks)

        def wait() -> list[dict[str, Any]]:
            with _own_random():
                return [sanitise(r) for r in started.wait()]

        return wait

    def _train(self, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._start(tasks)()

    def _score(self, individuals: Sequence, candidates: list[list[E.Node]], g: int) -> tuple[list[dict], dict]:
        """Train (or look up) ``candidates``, one per individual; the individuals get their fitness
        and the hall of fame the records."""
        records, counts = self.evaluate(candidates, g)
        for ind, r in zip(individuals, records, strict=True):
            G.set_fitness(ind, r["fitness"], _fidelity_reached(r))
        self.hof.update(records)
        return records, counts

    # -- one generation
    def step(self, g: int) -> dict[str, Any]:
        t0 = self.clock()
        restart = self.stagnant()
        if self.config.mode == "coevolution":
            stats = self._step_coevolution(g, restart)
        else:
            stats = self._step_population(g, restart)
        stats.update({"generation": g, "seconds": self.clock() - t0, "session": len(self.sessions) - 1})
        self._hof_stats(stats)
        if restart:
            stats["restart"] = True
        self.history.append(stats)
        self.generation = g
        return stats

    def _hof_stats(self, stats: dict[str, Any]) -> None:
        """The hall of fame's best in a generation's ``stats``: its fitness, and with several tasks
        its score on each at its highest fidelity."""
        best = self.hof.best()
        stats["hof_best"] = best["fitness"] if best else None
        if best and best.get("tasks"):
            stats["hof_tasks"] = {n: v[-1] for n, v in best["tasks"].items()}

    def stagnant(self) -> bool:
        """Should the next generation restart? With ``stagnation`` G: the hall of fame's best
        fitness has not risen over the last G generations, none of which restarted."""
        n = self.config.stagnation
        if not n or len(self.history) <= n:
            return False
        before, *last = self.history[-(n + 1) :]
        if before.get("hof_best") is None or any(h.get("restart") for h in last):
            return False
        return all(h.get("hof_best") is not None and h["hof_best"] <= before["hof_best"] for h in last)

    def _kept(self) -> list[dict[str, Any]]:
        """The hall-of-fame members a restart keeps: the ``elite`` best, at least one."""
        return self.hof.items[: max(self.config.elite, 1)]

    def _restarted(self) -> list:
        """A restarted population: the hall of fame's best (with their fitness), then random individuals."""
        c = self.config
        keep = [
            checkpoint.individual_from_json(
                {"slots": item["slots"], "fitness": item["fitness"], "rung": len(item.get("rungs") or [0]) - 1},
                self.pset,
                c.mode,
            )
            for item in self._kept()
        ]
        return keep + G.ramped_population(self.tb, c.population - len(keep), slots=len(c.slots))

    def _step_population(self, g: int, restart: bool = False) -> dict[str, Any]:
        """A generation of single or triple mode: one population."""
        c = self.config
        elite = c.elite if g else 0
        if g == 0:
            pop = G.ramped_population(self.tb, c.population, slots=len(c.slots))
        elif restart:
            pop = self._restarted()
            elite = len(self._kept())
        else:
            pop = G.vary(self.tb, self.pops[0], elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb)
        pop, renewed = G.renew(self.tb, pop, self._key, self.cache, elite=elite)
        screened = self._screen(pop) if c.surrogate and g and not restart else None
        if screened is not None:
            pop, screen = screened
            renewed["screened"] = screen["pool"]
        self.pops = [pop]
        invalid = [ind for ind in pop if not ind.fitness.valid]
        records, counts = self._score(invalid, [G.nodes(ind) for ind in invalid], g)
        stats = {
            **counts,
            **renewed,
            "distinct": len({self._key(ind) for ind in pop}),
            **_spread([G.score(ind) for ind in pop]),
        }
        if screened is not None:
            stats["surrogate"] = _surrogate_stats(screen, records)
        return stats

    def _screen(self, pop: list) -> tuple[list, dict[str, Any]] | None:
        """The population with its offspring chosen by the surrogate: ``surrogate`` - 1 more
        rounds of variation fill a pool of new behaviours; of the ``population - elite`` offspring
        trained, a quarter (at least one) are drawn at random from the pool, the others are the
        pool's best predicted. None while fewer than 8 functions were trained (nothing to fit)."""
        c = self.config
        trained = [(v["slots"][0], v["rungs"][0]) for v in self.cache.values() if v.get("rungs") and v.get("slots")]
        if len(trained) < 8:
            return None
        elite, pool = pop[: c.elite], self._pool(pop)
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
            "keys": [self._key(pool[i]) for i in chosen],
            "predicted": [float(mean[i]) for i in chosen],
        }

    def _pool(self, pop: list) -> list:
        """The offspring of ``pop`` and of ``surrogate`` - 1 more rounds of variation, one per new behaviour."""
        c = self.config
        pool, keys = [], set(self.cache)
        for round_ in range(c.surrogate):
            if round_:
                more = G.vary(self.tb, self.pops[0], elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb)
                pop, _ = G.renew(self.tb, more, self._key, self.cache, elite=c.elite)
            for ind in pop[c.elite :]:
                key = self._key(ind)
                if key is not None and key not in keys:
                    keys.add(key)
                    pool.append(ind)
        return pool

    def _step_coevolution(self, g: int, restart: bool = False) -> dict[str, Any]:
        """A generation of coevolution: each population's individuals scored with the others' representatives."""
        renewed = self._next_populations(g, restart)
        rep_nodes = [G.tree_to_node(r) for r in self.reps]
        cands, owners = [], []
        for s, pop in enumerate(self.pops):
            for ind in pop:
                nodes = list(rep_nodes)
                nodes[s] = G.tree_to_node(ind)
                cands.append(nodes)
                owners.append(ind)
        _, counts = self._score(owners, cands, g)
        per_slot = {}
        for s, pop in zip(self.config.slots, self.pops, strict=True):
            spread = _spread([G.score(ind) for ind in pop])
            per_slot[s] = {"best": spread["best"], "mean": spread["mean"]}
        self.reps = [G.clone(max(p, key=lambda ind: ind.fitness)) for p in self.pops]
        return {
            **counts,
            **renewed,
            "distinct": len({self._behaviour(n) for n in cands}),
            **_spread([G.score(ind) for p in self.pops for ind in p]),
            "slots": per_slot,
            "representatives": [G.tree_text(r) for r in self.reps],
        }

    def _next_populations(self, g: int, restart: bool = False) -> dict[str, int]:
        """Coevolution's populations of generation ``g``, each without repeated behaviours; in
        generation 0 the representatives drawn at random, later every fitness cleared (the partners
        changed). A restart keeps each slot of the hall of fame's best in its population. Returns
        how many offspring were replaced and kept."""
        c = self.config
        if g == 0:
            self.pops = [G.ramped_population(self.tb, c.population) for _ in c.slots]
        elif restart:
            kept = self._kept()
            self.pops = [
                [G.text_to_tree(k["slots"][s], self.pset) for k in kept]
                + G.ramped_population(self.tb, c.population - len(kept))
                for s in range(len(c.slots))
            ]
        else:
            self.pops = [G.vary(self.tb, p, elite=c.elite, cxpb=c.cxpb, mutpb=c.mutpb) for p in self.pops]
        renewed = {"replaced": 0, "kept": 0}
        for i, p in enumerate(self.pops):  # within a population, every offspring behaves differently
            self.pops[i], r = G.renew(self.tb, p, self._key, (), elite=c.elite if g else 0)
            renewed = {k: renewed[k] + r[k] for k in renewed}
        if g == 0:
            self.reps = [G.clone(random.choice(p)) for p in self.pops]
        else:
            for p in self.pops:
                for ind in p:
                    del ind.fitness.values
        return renewed


@contextlib.contextmanager
def _own_random() -> Iterator[None]:
    """Python's random as it was before the block, whatever the block drew from it."""
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


def last_first(fidelities: Sequence[tuple[int, float]], counts: Mapping[str, Any], surrogate: bool = False) -> bool:
    """With overlap: whether the training of the behaviours a generation promoted to the last
    fidelity starts at once (True), or once the next generation's first fidelity is handed over.
    Judged from that generation's counts (behaviours x epochs x share of the split, at each
    fidelity): at once where the last fidelity costs at least as much as the lower ones together,
    since it is then the longest work and a later start lengthens the generation; else after, since
    the workers would otherwise wait for the first fidelity, which the others follow. At once, too,
    where a ``surrogate`` screens the next generation's offspring: this process then works for a
    second or more between generations (fitting it), which the last fidelity would otherwise wait
    out. Where they train never changes a result, only when."""
    if surrogate:
        return True
    trained = [counts["evaluations"], *counts["promoted"]]  # behaviours at each fidelity
    cost = [n * epochs * share for n, (epochs, share) in zip(trained, fidelities, strict=False)]
    return cost[-1] >= sum(cost[:-1])


def _climb(done: dict[str, dict[str, Any]], key: str, result: Mapping[str, Any], fidelity: int) -> None:
    """Record ``result``, the training of behaviour ``key`` at ``fidelity``, in ``done``: its fitness
    appended to ``rungs``; a failure at a higher fidelity keeps the lower one's fitness, noted."""
    res = {k: result[k] for k in KEPT if k in result}
    res.setdefault("seconds", 0.0)
    old = done.get(key)
    if old is not None and res["status"] != "ok":
        old["note"] = f"{res['status']} at fidelity {fidelity + 1}"
        old["seconds"] += res["seconds"]
        return
    res["rungs"] = (old["rungs"] if old else []) + [res["fitness"]]
    if old and "tasks" in res:  # each task's score at every fidelity reached
        res["tasks"] = {n: old["tasks"][n] + v for n, v in res["tasks"].items()}
    res["seconds"] += old["seconds"] if old else 0.0
    done[key] = res


def _fidelity_reached(record: Mapping[str, Any]) -> int:
    """The highest fidelity a record's candidate was trained at (0 when not trained)."""
    return max(len(record.get("rungs") or ()) - 1, 0)


def _spread(fitness: Sequence[float]) -> dict[str, float]:
    return {"best": max(fitness), "mean": float(np.mean(fitness)), "median": float(np.median(fitness))}


def _surrogate_stats(screen: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Did the surrogate rank the offspring it chose as their training (at the first fidelity) did?"""
    first = {r["key"]: (r.get("rungs") or [r["fitness"]])[0] for r in records}
    got = [first.get(k) for k in screen["keys"]]
    return {
        **rank_correlation(screen["predicted"], got),
        "pool": screen["pool"],
        "trained": len(screen["keys"]),
        "at_random": screen["at_random"],
    }


__all__ = ["Evolution"]
