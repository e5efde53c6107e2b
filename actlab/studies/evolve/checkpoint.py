"""The checkpoint of an evolution (``out/checkpoint.json``), written atomically after every
generation, and its reader.

It holds the config and its run key, the last generation done, the populations as expression
text with their fitness (``rung``: the highest fidelity an individual was trained at), the
coevolution's representatives, the hall of fame, the cache of trained candidates (behaviour key
-> fitness record; ``rungs``: the fitness at each fidelity reached, lowest first), the history,
the sessions (runs of the command), Python's ``random`` state and, with overlap, the behaviours
promoted to the last fidelity that train with the next generation (``pending``). A resumed run reads it back and
ends with exactly the result of an uninterrupted run.

:func:`check_checkpoint` checks everything a resumed run reads, field by field, against the
checkpoint's own settings: a damaged or foreign file is one :class:`~actlab.ActlabError` line,
never a later traceback.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from actlab._errors import ActlabError
from actlab._io import finite_float, oversized, read_json
from actlab.catalogue import expr as E
from actlab.studies.evolve import gp as G
from actlab.studies.evolve.config import EvolveConfig

CHECKPOINT = "checkpoint.json"
FORMAT_CHECKPOINT = "actlab-evolve-checkpoint"
VERSION = 1
MAX_SESSIONS = 100_000  # runs of the command that one checkpoint remembers


# ------------------------------------------------------------------------- state <-> JSON
def individual_json(ind) -> dict[str, Any]:
    """An individual as the checkpoint holds it: its slots as text, its fitness and fidelity."""
    d = {"slots": [E.to_text(n) for n in G.nodes(ind)], "fitness": G.score(ind) if ind.fitness.valid else None}
    if ind.fitness.valid and G.fidelity(ind):
        d["rung"] = G.fidelity(ind)
    return d


def individual_from_json(d: Mapping[str, Any], pset, mode: str):
    """The individual of :func:`individual_json`'s table (``pset``: the run's primitive set)."""
    trees = [G.text_to_tree(t, pset) for t in d["slots"]]
    ind = G.creator.ActlabTriple(trees) if mode == "triple" else trees[0]
    if d.get("fitness") is not None:
        G.set_fitness(ind, float(d["fitness"]), int(d.get("rung", 0)))
    return ind


def random_state_to_json(state) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def random_state_from_json(d) -> tuple:
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


def state(evo) -> dict[str, Any]:
    """The checkpoint of an :class:`~actlab.studies.evolve.loop.Evolution` after its last generation."""
    return {
        "format": FORMAT_CHECKPOINT,
        "version": VERSION,
        "config": evo.config.to_dict(),
        "run_key": evo.config.run_key(),
        "generation": evo.generation,
        "populations": [[individual_json(ind) for ind in p] for p in evo.pops],
        "representatives": [G.tree_text(r) for r in evo.reps] if evo.reps else None,
        "hall_of_fame": evo.hof.items,
        "cache": evo.cache,
        "history": evo.history,
        "sessions": evo.sessions,
        "random_state": random_state_to_json(random.getstate()),
        **({"pending": list(evo.pending.values())} if evo.pending else {}),
    }


def restore(evo, d: Mapping[str, Any]) -> None:
    """Set ``evo`` (and Python's ``random``) to a checkpoint's content, checked first."""
    check_checkpoint(d)
    evo.generation = int(d["generation"])
    evo.pops = [[individual_from_json(x, evo.pset, evo.config.mode) for x in p] for p in d["populations"]]
    if d.get("representatives"):
        evo.reps = [G.text_to_tree(t, evo.pset) for t in d["representatives"]]
    evo.hof.items = list(d["hall_of_fame"])
    evo.cache = dict(d["cache"])
    evo.history = list(d["history"])
    evo.sessions = list(d.get("sessions") or [])
    evo.pending = {b["key"]: dict(b) for b in d.get("pending") or []}
    random.setstate(random_state_from_json(d["random_state"]))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The content of a checkpoint, checked by :func:`check_checkpoint` (one line for anything else)."""
    d = read_json(path, "checkpoint", "start again with a new --out")
    check_checkpoint(d, repr(str(path)))
    return {**d, "config": EvolveConfig.saved(d["config"])}


# ------------------------------------------------------------------------------- the checks
def _is_num(v: Any, finite: bool = True) -> bool:
    """A number of a checkpoint: a finite one (or NaN, infinity where not ``finite``); never a
    whole number beyond a float's range, which no sum or report can take."""
    return finite_float(v) is not None or (not finite and isinstance(v, float))


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _any_num(v: Any) -> bool:
    return _is_num(v, finite=False)


def _count(v: Any) -> bool:
    return _is_int(v) and v >= 0


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or test(v)


def _accuracies(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= 10**6 and all(a is None or _any_num(a) for a in v)


def _per_task(v: Any) -> bool:
    """Several tasks: task name -> a score, or a list of scores (one per fidelity)."""
    return isinstance(v, Mapping) and all(
        isinstance(k, str) and (_is_num(x) or isinstance(x, list) and all(_is_num(a) for a in x)) for k, x in v.items()
    )


# field -> test, for each kind of record a checkpoint holds (fitness per fidelity apart: it
# depends on the run's fidelities)
HALL_OF_FAME_ENTRY = {
    "key": _text,
    "fitness": _is_num,
    "status": _text,
    "nodes": _is_int,
    "generation": _is_int,
    "tasks": _optional(_per_task),
}
CACHE_ENTRY = {
    "fitness": _is_num,
    "status": _text,
    "seconds": _optional(_any_num),
    "val_accuracy": _optional(_accuracies),
    "tasks": _optional(_per_task),
}
HISTORY_ENTRY = {
    "seconds": _any_num,
    "best": _any_num,
    "mean": _any_num,
    "hof_best": _optional(_any_num),
    "hof_tasks": _optional(_per_task),
    "restart": _optional(lambda v: v is True),
    **dict.fromkeys(("candidates", "evaluations", "cache_hits", "rejected", "failed"), _count),
}
SLOT_HISTORY = {"best": _any_num, "mean": _any_num}
PENDING_ENTRY = {"key": _text, "nodes": _is_int, "generation": _is_int}


def _fits(record: Any, table: Mapping[str, Callable[[Any], bool]]) -> bool:
    return isinstance(record, Mapping) and all(test(record.get(k)) for k, test in table.items())


class _Checks:
    """The checks of a checkpoint's fields against its settings ``config``; one method per
    field (see :data:`FIELDS`), each raising the one-line error of ``where``."""

    def __init__(self, config: EvolveConfig, where: str, generation: int):
        self.config, self.where, self.generation = config, where, generation
        self.allowed = set(config.unary) | set(config.binary)

    def bad(self, what: str) -> ActlabError:
        return bad_checkpoint(self.where, what)

    def expression(self, text: Any, what: str) -> None:
        c = self.config
        if not isinstance(text, str):
            raise self.bad(f"{what} is {type(text).__name__}, not expression text")
        try:
            node = E.parse(text)
        except ActlabError as e:
            raise self.bad(f"{what}: {e}") from None
        extra = E.primitives_used(node) - self.allowed
        if extra:
            raise self.bad(f"{what} uses {sorted(extra)[0]!r}, which is not among the run's primitives")
        if not c.constants and _has_const(node):
            raise self.bad(f"{what} has a constant, and the run has none")
        if E.height(node) > max(c.max_height, c.init_max):
            raise self.bad(f"{what} is taller than the run's max height {c.max_height}")

    def slots(self, v: Any, what: str, n: int) -> None:
        if not isinstance(v, list) or len(v) != n:
            raise self.bad(f"{what} has no list of {n} slot function(s)")
        for t in v:
            self.expression(t, what)

    def fitness_per_fidelity(self, v: Any) -> bool:
        n = len(self.config.fidelity_levels())
        return v is None or isinstance(v, list) and len(v) <= n and all(_is_num(a) for a in v)

    def populations(self, pops: Any) -> None:
        c = self.config
        n_pops = len(c.slots) if c.mode == "coevolution" else 1
        if not isinstance(pops, list) or len(pops) != n_pops:
            raise self.bad(f"not {n_pops} population(s)")
        for pop in pops:
            if not isinstance(pop, list) or len(pop) != c.population:
                raise self.bad(f"a population that does not hold {c.population} individuals")
            for ind in pop:
                self.individual(ind)

    def individual(self, ind: Any) -> None:
        if not isinstance(ind, Mapping):
            raise self.bad("an individual that is not a table")
        self.slots(ind.get("slots"), "an individual", len(self.config.slots) if self.config.mode == "triple" else 1)
        if ind.get("fitness") is not None and not _is_num(ind.get("fitness")):
            raise self.bad("an individual's fitness is not a finite number")
        fidelity = ind.get("rung")
        if fidelity is not None and not (_is_int(fidelity) and 0 <= fidelity < len(self.config.fidelity_levels())):
            raise self.bad("an individual's fidelity is not one of the run's")

    def representatives(self, reps: Any) -> None:
        if self.config.mode != "coevolution":
            if reps not in (None, []):
                raise self.bad("representatives in a run without coevolution")
            return
        n = len(self.config.slots)
        if not isinstance(reps, list) or len(reps) != n:
            raise self.bad(f"not {n} representatives")
        for t in reps:
            self.expression(t, "a representative")

    def hall_of_fame(self, hof: Any) -> None:
        size = self.config.hall_of_fame
        if not isinstance(hof, list) or len(hof) > size:
            raise self.bad(f"a hall of fame that is not a list of at most {size}")
        for item in hof:
            if not _fits(item, HALL_OF_FAME_ENTRY):
                raise self.bad("a hall-of-fame entry without key, slots, fitness, status, nodes and generation")
            self.slots(item.get("slots"), "a hall-of-fame entry", len(self.config.slots))  # coevolution: every slot
            if not self.fitness_per_fidelity(item.get("rungs")):
                raise self.bad("a hall-of-fame entry whose fitness per fidelity is not a list of finite numbers")

    def cache(self, cache: Any) -> None:
        if not isinstance(cache, Mapping):
            raise self.bad("the cache of trained candidates is not a table")
        for k, v in cache.items():
            if not (isinstance(k, str) and _fits(v, CACHE_ENTRY) and self.fitness_per_fidelity(v.get("rungs"))):
                raise self.bad("a cache entry without a finite fitness and a status")

    def history(self, history: Any) -> None:
        g = self.generation
        if not isinstance(history, list) or len(history) != g + 1:
            raise self.bad(f"a history that does not hold the {g + 1} generation(s) done")
        for i, h in enumerate(history):
            if not (_fits(h, HISTORY_ENTRY) and h.get("generation") == i):
                raise self.bad(f"the history of generation {i} is incomplete")
            if self.config.mode == "coevolution" and not (
                isinstance(h.get("slots"), Mapping)
                and all(_fits(h["slots"].get(s), SLOT_HISTORY) for s in self.config.slots)
            ):
                raise self.bad(f"the history of generation {i} lacks the best of each population")

    def pending(self, pending: Any, cache: Any) -> None:
        """With overlap: behaviours waiting for the last fidelity, each in the cache one fidelity below it."""
        if pending is None:
            return
        if not self.config.overlap or not isinstance(pending, list) or len(pending) > len(cache):
            raise self.bad("pending candidates in a run without overlap, or more than the cache holds")
        below = len(self.config.fidelity_levels()) - 1
        for b in pending:
            if not (_fits(b, PENDING_ENTRY) and len((cache.get(b["key"]) or {}).get("rungs") or [0]) == below):
                raise self.bad("a pending candidate that is not in the cache one fidelity below the last")
            self.slots(b.get("slots"), "a pending candidate", len(self.config.slots))

    def sessions(self, sessions: Any) -> None:
        if sessions is not None and (
            not isinstance(sessions, list)
            or len(sessions) > MAX_SESSIONS
            or not all(isinstance(x, Mapping) and len(x) <= 20 for x in sessions)
        ):
            raise self.bad(f"the sessions are not a list of at most {MAX_SESSIONS:,} small tables")

    def random_state(self, d: Any) -> None:
        try:
            random.Random().setstate(random_state_from_json(d))
        except (TypeError, ValueError, OverflowError, IndexError, KeyError):
            raise self.bad("Python's random state") from None


FIELDS = ("populations", "representatives", "hall_of_fame", "cache", "history", "sessions", "random_state")


def bad_checkpoint(where: str, what: str) -> ActlabError:
    return ActlabError(f"{where} is not a usable actlab evolve checkpoint ({what}); start again with a new --out")


def check_checkpoint(d: Any, where: str = "the checkpoint") -> EvolveConfig:
    """Check everything a resumed run reads from a checkpoint's content, against the
    checkpoint's own settings (types, sizes, generation within its generations, expression texts
    that read and use only the run's primitives, Python's random state); returns those settings.
    A damaged or foreign file is one :class:`ActlabError` line, never a later traceback."""
    if not isinstance(d, Mapping) or d.get("format") != FORMAT_CHECKPOINT:
        raise bad_checkpoint(where, "not a checkpoint")
    too_large = oversized(d)  # nothing larger than a run writes is carried into results and reports
    if too_large:
        raise bad_checkpoint(where, too_large)
    if not _is_int(d.get("version", VERSION)) or d.get("version", VERSION) != VERSION:
        raise bad_checkpoint(where, f"version {str(d.get('version'))[:20]!r}; this actlab reads version {VERSION}")
    config = _settings(d.get("config"), where)
    if not isinstance(d.get("run_key"), str):
        raise bad_checkpoint(where, "no run key")
    g = d.get("generation")
    if not _is_int(g) or not 0 <= g < config.generations:
        raise bad_checkpoint(
            where, f"generation {str(g)[:20]}, not a generation from 0 to {config.generations - 1} of its run"
        )
    checks = _Checks(config, where, g)
    for name in FIELDS:
        getattr(checks, name)(d.get(name))
    checks.pending(d.get("pending"), d["cache"])
    return config


NOT_SETTINGS = (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError)


def _settings(raw: Any, where: str) -> EvolveConfig:
    """The checkpoint's config, checked as a new run's is."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("train", {}), Mapping):
        raise bad_checkpoint(where, "no settings")
    try:
        config = EvolveConfig.from_dict(EvolveConfig.saved(raw))
    except ActlabError as e:
        raise bad_checkpoint(where, f"its settings: {e}") from None
    except NOT_SETTINGS:
        raise bad_checkpoint(where, "its settings are not those of an evolution") from None
    if not isinstance(config.model_options, dict) or not isinstance(config.data_options, dict):
        raise bad_checkpoint(where, "model or data options are not tables")
    try:
        config.run_key()
    except NOT_SETTINGS:
        raise bad_checkpoint(where, "its settings are not those of an evolution") from None
    return config


def _has_const(node: E.Node) -> bool:
    return isinstance(node, E.Const) or (isinstance(node, E.Call) and any(_has_const(a) for a in node.args))


__all__ = [
    "CHECKPOINT",
    "FORMAT_CHECKPOINT",
    "check_checkpoint",
    "individual_from_json",
    "individual_json",
    "random_state_from_json",
    "random_state_to_json",
    "read_checkpoint",
    "restore",
    "state",
]
