"""Genetic programming with DEAP: the primitive set, the variation operators, the cheap checks
made before training, the behaviour key that lets equivalent candidates share one training, and
the hall of fame.

Individuals are DEAP ``PrimitiveTree``\\ s over the primitives of :mod:`actlab.catalogue.expr`; they
are never compiled with ``gp.compile`` (which calls ``eval``): :func:`tree_to_node` turns a tree
into the expression tree, which has its own torch evaluator. Ephemeral constants are drawn from
Python's ``random`` (seeded, saved in checkpoints) as ``round(uniform(-2, 2), 2)`` and written
into expression text by value, so a tree survives a round trip through text exactly.
"""

from __future__ import annotations

import hashlib
import operator
import random
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from deap import base, creator, gp, tools

from actlab._errors import ActlabError, first_line
from actlab.catalogue import expr as E

MUTATIONS = ("uniform", "node", "shrink", "ephemeral")
CONST_RANGE = (-2.0, 2.0)

# Probe inputs: a grid over [-10, 10] shifted off special points (0, +-0.5, +-3), where
# piecewise primitives switch and mathematically equal candidates could round differently.
PROBE = np.linspace(-10.0, 10.0, 201) + 0.00731


def ephemeral_constant() -> float:
    """A new ephemeral constant (module-level so that DEAP can name and pickle it)."""
    return round(random.uniform(*CONST_RANGE), 2)


if not hasattr(creator, "ActlabFitness"):
    # (fidelity, validation accuracy), compared in that order: a candidate trained at a higher
    # fidelity (longer, on more data) ranks above one that was not promoted there; within a
    # fidelity the higher accuracy wins. DEAP maximises objectives with positive weights and
    # compares fitnesses lexicographically.
    creator.create("ActlabFitness", base.Fitness, weights=(1.0, 1.0))
if not hasattr(creator, "ActlabTree"):
    creator.create("ActlabTree", gp.PrimitiveTree, fitness=creator.ActlabFitness)
if not hasattr(creator, "ActlabTriple"):
    creator.create("ActlabTriple", list, fitness=creator.ActlabFitness)


def set_fitness(ind, fitness: float, fidelity: int = 0) -> None:
    """Give ``ind`` its validation accuracy ``fitness``, reached at fidelity ``fidelity`` (0: the first)."""
    ind.fitness.values = (int(fidelity), float(fitness))


def score(ind) -> float:
    """The validation accuracy of ``ind`` (at the highest fidelity it reached)."""
    return ind.fitness.values[-1]


def fidelity(ind) -> int:
    """The highest fidelity ``ind`` was trained at (0: the first)."""
    return int(ind.fitness.values[0]) if len(ind.fitness.values) > 1 else 0


def make_pset(
    unary: Sequence[str] = E.DEFAULT_UNARY, binary: Sequence[str] = E.DEFAULT_BINARY, constants: bool = True
) -> gp.PrimitiveSet:
    """DEAP's primitive set over ``x`` with the named primitives (and ephemeral constants)."""
    unary = [E.primitive_name(n, what="unary primitive") for n in unary]
    binary = [E.primitive_name(n, what="binary primitive") for n in binary]
    for n in unary:
        if E.PRIMITIVES[n].arity != 1:
            raise ActlabError(f"{n!r} takes two arguments; list it with the binary primitives")
    for n in binary:
        if E.PRIMITIVES[n].arity != 2:
            raise ActlabError(f"{n!r} takes one argument; list it with the unary primitives")
    if not unary and not binary:
        raise ActlabError("no primitives to build functions from; give at least one unary or binary primitive")
    pset = gp.PrimitiveSet("actlab", 1)
    pset.renameArguments(ARG0="x")
    for n in dict.fromkeys(unary):
        pset.addPrimitive(E.PRIMITIVES[n].numpy, 1, name=n)
    for n in dict.fromkeys(binary):
        pset.addPrimitive(E.PRIMITIVES[n].numpy, 2, name=n)
    if constants:
        pset.addEphemeralConstant("const", ephemeral_constant)
    return pset


# ------------------------------------------------------------------------ trees <-> expressions
def tree_to_node(tree: Sequence) -> E.Node:
    """The expression tree of a DEAP tree (prefix order)."""
    it = iter(tree)

    def build() -> E.Node:
        n = next(it)
        if isinstance(n, gp.Primitive):
            return E.Call(n.name, tuple(build() for _ in range(n.arity)))
        if isinstance(type(n), gp.MetaEphemeral):
            return E.Const(float(n.value))
        if n.value == "x":  # the argument (DEAP keeps its name ARG0 after renaming; value is "x")
            return E.X
        raise ValueError(f"unexpected node {n.name!r} in a tree")

    return build()


def tree_text(tree: Sequence) -> str:
    return E.to_text(tree_to_node(tree))


def nodes(ind) -> list[E.Node]:
    """The expression trees of an individual, one per slot (three in triple mode, else one)."""
    if isinstance(ind, creator.ActlabTriple):
        return [tree_to_node(t) for t in ind]
    return [tree_to_node(ind)]


def node_to_tree(node: E.Node, pset: gp.PrimitiveSet, cls=None) -> gp.PrimitiveTree:
    """A DEAP tree for an expression, using ``pset``'s own primitive objects."""
    out: list = []

    def walk(n: E.Node) -> None:
        if isinstance(n, E.Var):
            out.append(pset.mapping["x"])
        elif isinstance(n, E.Const):
            eph = pset.mapping.get("const")
            if eph is None:
                raise ActlabError(f"expression has the constant {n.value!r}, but this run has no constants")
            term = eph.__new__(eph)
            term.value = float(n.value)
            out.append(term)
        else:
            prim = pset.mapping.get(n.name)
            if prim is None:
                raise ActlabError(f"expression uses {n.name!r}, which is not among this run's primitives")
            out.append(prim)
            for a in n.args:
                walk(a)

    walk(node)
    return (cls or creator.ActlabTree)(out)


def text_to_tree(text: str, pset: gp.PrimitiveSet, cls=None) -> gp.PrimitiveTree:
    return node_to_tree(E.parse(text), pset, cls)


# ------------------------------------------------------------------------------ the toolbox
def make_toolbox(
    pset: gp.PrimitiveSet,
    *,
    init: tuple[int, int] = (1, 3),
    max_height: int = 6,
    tournament: int = 3,
    mutations: Sequence[str] = MUTATIONS,
) -> base.Toolbox:
    """Ramped half-and-half initialisation, tournament selection, subtree crossover and the
    chosen mutations, crossover and mutation limited to ``max_height``."""
    bad = [m for m in mutations if m not in MUTATIONS]
    if bad or not mutations:
        raise ActlabError(f"unknown mutation {bad[0] if bad else ''!r}; choose from: {', '.join(MUTATIONS)}")
    tb = base.Toolbox()
    tb.register("expr", gp.genHalfAndHalf, pset=pset, min_=init[0], max_=init[1])
    tb.register("tree", tools.initIterate, creator.ActlabTree, tb.expr)
    tb.register("select", tools.selTournament, tournsize=tournament)
    tb.register("mate", gp.cxOnePoint)
    tb.register("expr_mut", gp.genFull, min_=0, max_=2)
    ops = {
        "uniform": lambda t: gp.mutUniform(t, expr=tb.expr_mut, pset=pset),
        "node": lambda t: gp.mutNodeReplacement(t, pset=pset),
        "shrink": gp.mutShrink,
        "ephemeral": lambda t: gp.mutEphemeral(t, "one"),
    }
    chosen = [ops[m] for m in mutations]

    def mutate(t):
        return random.choice(chosen)(t)

    tb.register("mutate", mutate)
    limit = gp.staticLimit(key=operator.attrgetter("height"), max_value=max_height)
    tb.decorate("mate", limit)
    tb.decorate("mutate", limit)
    tb.pset = pset
    return tb


def ramped_population(tb: base.Toolbox, n: int, slots: int = 1) -> list:
    """``n`` individuals, ramped half-and-half (``slots`` trees each when more than one)."""
    if slots == 1:
        return [tb.tree() for _ in range(n)]
    return [creator.ActlabTriple(tb.tree() for _ in range(slots)) for _ in range(n)]


def clone(ind):
    """A copy with its own fitness (DEAP's ``toolbox.clone`` is ``copy.deepcopy``)."""
    import copy

    return copy.deepcopy(ind)


def vary(tb: base.Toolbox, population: list, *, elite: int, cxpb: float, mutpb: float) -> list:
    """Next generation: the ``elite`` best unchanged, the rest chosen by tournament, then subtree
    crossover (probability ``cxpb`` per pair) and mutation (``mutpb`` per individual). Changed
    individuals lose their fitness. For three-slot individuals, crossover exchanges subtrees in
    each slot with probability 1/2 (at least one slot) and mutation changes one random slot."""
    ranked = sorted(range(len(population)), key=lambda i: tuple(-w for w in population[i].fitness.wvalues))
    elites = [clone(population[i]) for i in ranked[:elite]]
    offspring = [clone(ind) for ind in tb.select(population, len(population) - elite)]
    multi = isinstance(population[0], creator.ActlabTriple)
    for i in range(1, len(offspring), 2):
        if random.random() < cxpb:
            a, b = offspring[i - 1], offspring[i]
            if multi:
                first = random.randrange(len(a))
                for s in range(len(a)):
                    if s == first or random.random() < 0.5:
                        a[s], b[s] = tb.mate(a[s], b[s])
            else:
                a, b = tb.mate(a, b)  # the height limit may hand back a copy of a parent
                offspring[i - 1], offspring[i] = a, b
            del a.fitness.values, b.fitness.values
    for j, ind in enumerate(offspring):
        if random.random() < mutpb:
            if multi:
                s = random.randrange(len(ind))
                (ind[s],) = tb.mutate(ind[s])
            else:
                (ind,) = tb.mutate(ind)
                offspring[j] = ind
            del ind.fitness.values
    return elites + offspring


def renew(
    tb: base.Toolbox,
    population: list,
    behaviour: Callable[[Any], str | None],
    evaluated: Container[str],
    elite: int = 0,
    tries: int = 8,
) -> tuple[list, dict[str, int]]:
    """Every offspring (all but the first ``elite`` individuals) trains a new behaviour: one whose
    ``behaviour(ind)`` is None (it fails the checks), was ``evaluated`` before (an unchanged copy
    of its parent, too), or equals another offspring's is mutated again (half the ``tries``), then
    replaced by a fresh random individual, until it is new. Returns the population and counts:
    ``replaced`` offspring, and ``kept`` duplicates that no try could make new (the search space
    is nearly exhausted)."""
    multi = isinstance(population[0], creator.ActlabTriple)
    seen: set[str] = set()
    out, counts = [], {"replaced": 0, "kept": 0}
    for i, ind in enumerate(population):
        key = behaviour(ind)
        if i < elite:
            seen.add(key)
            out.append(ind)
            continue
        if key is not None and key not in evaluated and key not in seen and not ind.fitness.valid:
            seen.add(key)
            out.append(ind)
            continue
        counts["replaced"] += 1
        for t in range(tries):
            if t < tries // 2:
                ind = clone(ind)
                if multi:
                    s = random.randrange(len(ind))
                    (ind[s],) = tb.mutate(ind[s])
                else:
                    (ind,) = tb.mutate(ind)
            else:
                ind = ramped_population(tb, 1, slots=len(ind) if multi else 1)[0]
            if ind.fitness.valid:
                del ind.fitness.values
            key = behaviour(ind)
            if key is not None and key not in evaluated and key not in seen:
                break
        else:
            counts["kept"] += 1
        if key is not None:
            seen.add(key)
        out.append(ind)
    return out, counts


# --------------------------------------------------------------------------- checks and keys
@dataclass(frozen=True)
class Check:
    ok: bool
    reason: str | None
    key: str


_CHECKED: dict[str, Check] = {}  # expression text -> its check (the text is exact: it reads back as the same tree)
MAX_CHECKED = 200_000


def check(node: E.Node) -> Check:
    """:func:`check_now`, remembered by the expression's text: an evolution checks the same
    expressions again and again (parents kept, duplicates renewed, each candidate before training)."""
    text = E.to_text(node)
    got = _CHECKED.get(text)
    if got is None:
        if len(_CHECKED) >= MAX_CHECKED:
            _CHECKED.clear()
        got = _CHECKED[text] = check_now(node)
    return got


def check_now(node: E.Node) -> Check:
    """Cheap checks on the fixed probe inputs, before any training:

    * the outputs are finite (float32, as in training);
    * the function is not constant;
    * the gradient is finite, and not zero everywhere.

    ``key`` identifies the behaviour: the outputs on the probe inputs (float64, 6 significant
    digits). Candidates with the same key are trained once and share the fitness."""
    fn = E.compile_torch(node)
    with torch.no_grad():
        y64 = fn(torch.tensor(PROBE, dtype=torch.float64), False).double()
    vals = y64.numpy() + 0.0  # -0.0 + 0.0 is 0.0: a zero's sign is no behaviour (x * 0 and 0 * |x| are one function)
    key = hashlib.sha1(" ".join(f"{v:.6g}" for v in vals).encode()).hexdigest()[:16]
    x = torch.tensor(PROBE, dtype=torch.float32, requires_grad=True)
    try:
        y = fn(x, False)
        if not bool(torch.isfinite(y).all()):
            return Check(False, "not finite on the probe inputs", key)
        yd = y.detach()
        if float(yd.max() - yd.min()) <= 1e-6 * (1.0 + float(yd.abs().max())):
            return Check(False, "constant", key)
        (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    except RuntimeError as e:  # pragma: no cover - a primitive refusing its input
        return Check(False, f"error: {first_line(e)}", key)
    if g is None or not bool(torch.isfinite(g).all()):
        return Check(False, "gradient not finite on the probe inputs", key)
    if float(g.abs().max()) < 1e-8:
        return Check(False, "gradient zero everywhere on the probe inputs", key)
    return Check(True, None, key)


# ---------------------------------------------------------------------------- hall of fame
@dataclass
class HallOfFame:
    """The best distinct candidates seen (distinct by behaviour key), best first: the highest
    fidelity reached, then higher fitness at it, then fewer nodes, then found earlier. A record's
    ``rungs`` is its fitness at each fidelity it was trained at, lowest first (absent: one);
    with several tasks, ``tasks`` each task's score at those fidelities."""

    size: int
    items: list[dict[str, Any]] = field(default_factory=list)

    def update(self, records: Iterable[dict[str, Any]]) -> None:
        """Take ``records`` in: a behaviour already held keeps the smallest (then earliest) of its
        expressions, and the fitness of the highest fidelity it reached."""
        by_key = {r["key"]: r for r in self.items}
        for r in records:
            if r.get("fitness") is None:
                continue
            old = by_key.get(r["key"])
            ident = r if old is None or (r["nodes"], r["generation"]) < (old["nodes"], old["generation"]) else old
            score = r if old is None or len(r.get("rungs") or [0]) > len(old.get("rungs") or [0]) else old
            if ident is old and score is old:
                continue
            item = {k: ident[k] for k in ("key", "slots", "nodes", "generation")}
            item.update({k: score[k] for k in ("fitness", "status")})
            if score.get("rungs"):
                item["rungs"] = list(score["rungs"])
            if score.get("tasks"):  # several tasks: each one's score at every fidelity reached
                item["tasks"] = {n: list(v) for n, v in score["tasks"].items()}
            by_key[r["key"]] = item
        ranked = sorted(
            by_key.values(),
            key=lambda r: (-len(r.get("rungs") or [0]), -r["fitness"], r["nodes"], r["generation"], r["slots"]),
        )
        self.items = ranked[: self.size]

    def best(self) -> dict[str, Any] | None:
        return self.items[0] if self.items else None

    def __len__(self) -> int:
        return len(self.items)


def selected_fitness(population: list, picks: list) -> tuple[float, float]:
    """(mean fitness of the population, mean fitness of the picks): a check that selection favours
    the fitter."""
    f = [score(ind) for ind in population]
    p = [score(ind) for ind in picks]
    return float(np.mean(f)), float(np.mean(p))


Evaluator = Callable[[dict[str, Any]], dict[str, Any]]

__all__ = [
    "Check",
    "HallOfFame",
    "MUTATIONS",
    "PROBE",
    "check",
    "clone",
    "ephemeral_constant",
    "fidelity",
    "make_pset",
    "make_toolbox",
    "node_to_tree",
    "nodes",
    "ramped_population",
    "score",
    "set_fitness",
    "text_to_tree",
    "tree_text",
    "tree_to_node",
    "vary",
]
