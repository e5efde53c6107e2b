"""The sympy form of a tree (:func:`to_sympy`) and its formulas: :func:`latex` of the expression as
built and :func:`simplified`, sympy's simplification. sympy runs in a child process with a hard
time limit (:mod:`._process`): this process sends it the expression's canonical text, which the
child reads with actlab's parser, and gets back text, LaTeX and counts.

sympy is imported lazily (``import actlab`` does not load it); the name of this module does not
hide the library: imports are absolute.
"""

from __future__ import annotations

import functools
import math
import random
from fractions import Fraction
from typing import Any

from actlab.catalogue.expr import _process
from actlab.catalogue.expr.parse import parse, to_text
from actlab.catalogue.expr.tree import PRIMITIVES, Const, Node, Var, _fold, _sp, size


def _sp_const(v: float):
    sp = _sp()
    if float(v).is_integer() and abs(v) < 1e15:
        return sp.Integer(int(v))
    text = repr(float(v))
    if len(text) <= 10:
        f = Fraction(text)  # the decimal the text shows, exactly (stdlib, not sympy's parser)
        return sp.Rational(f.numerator, f.denominator)
    return sp.Float(v)


EXACT_CONSTANT_NODES = 6  # a larger subtree without x is shown as its value


def to_sympy(node: Node):
    """A sympy expression in the symbol ``x``, built from sympy objects (no string parsing).
    A subtree without ``x`` stays exact (``erf(51/50)``) while small and finite; a larger one,
    or one whose value overflows, becomes its float64 value as :func:`compile_torch` folds it
    (so ``square(square(...(3)))`` is never a huge exact integer, and ``exp(exp(exp(2)))``
    shows the infinity the function computes)."""
    sp = _sp()
    if isinstance(node, Var):
        return sp.Symbol("x", real=True)
    c = _fold(node)
    if c is not None and (isinstance(node, Const) or not math.isfinite(c) or size(node) > EXACT_CONSTANT_NODES):
        if math.isnan(c):
            return sp.nan
        return _sp_const(c) if math.isfinite(c) else (sp.oo if c > 0 else -sp.oo)
    return PRIMITIVES[node.name].sympy(*(to_sympy(a) for a in node.args))


# --------------------------------------------------------------- the work of the sympy process
@functools.lru_cache(maxsize=64)
def _built(text: str):
    return to_sympy(parse(text))


def _build(text: str) -> dict[str, Any]:
    """The expression as built: its text, LaTeX and number of operations."""
    sp = _sp()
    e = _built(text)
    return {"text": sp.sstr(e), "latex": sp.latex(e), "ops": int(sp.count_ops(e))}


def _simplify(text: str) -> dict[str, Any]:
    """sympy's simplification, or ``{"shorter": False}`` where it is not shorter than the expression as built."""
    sp = _sp()
    e = _built(text)
    s = sp.simplify(e)
    if sp.count_ops(s) > sp.count_ops(e):
        return {"shorter": False}
    return {"text": sp.sstr(s), "latex": sp.latex(s)}


_WORK = {"build": _build, "simplify": _simplify}


def work(request: dict[str, Any]) -> dict[str, Any]:
    """The sympy process's answer to ``{"op": "build" | "simplify", "expr": TEXT}``."""
    random.seed(0)  # sympy may draw random numbers while simplifying: the same formula for the same text
    return _WORK[request["op"]](request["expr"])


# ------------------------------------------------------------------------ formulas, time-limited
# sympy's simplify has no size that is safe: trees of 4-6 nodes were measured to take minutes
# (e.g. hardshrink(relu(selu(tanh(hardswish(x)))))), and the median time grows with the size
# (about 0.05 s at 6 nodes, 1 s at 15; 1,300 random trees of 2-16 nodes). So: no simplification
# above SIMPLIFY_MAX_NODES nodes or SIMPLIFY_MAX_OPS operations, and a limit for the rest; the
# expression as built otherwise, with a note. The limit is of the sympy process's CPU time, so that
# a formula does not depend on how busy the machine is (a wall-clock limit gave another formula for
# the same function under load); a wall-clock limit WALL_FACTOR times longer (plus WALL_EXTRA)
# stops a request that hangs without using CPU, by killing the process.
SIMPLIFY_MAX_OPS = 40
SIMPLIFY_MAX_NODES = 20
SIMPLIFY_SECONDS = 2.0  # of CPU time
LATEX_SECONDS = 5.0  # of CPU time: building and printing the expression as built (no simplification)
WALL_FACTOR = 10
WALL_EXTRA = 5.0


def _ask(request: dict[str, Any], cpu_seconds: float) -> dict[str, Any]:
    """The sympy process's reply within ``cpu_seconds`` of its CPU time (``{"timeout": True}`` past it)."""
    return _process.ask({**request, "cpu_seconds": cpu_seconds}, cpu_seconds * WALL_FACTOR + WALL_EXTRA)


def start_sympy() -> None:
    """Starts the sympy process, if none runs, without waiting: a formula asked for soon after
    comes sooner."""
    _process.start()


def _formula(reply: dict[str, Any]) -> bool:
    return isinstance(reply.get("text"), str) and isinstance(reply.get("latex"), str)


def _built_formula(text: str, seconds: float) -> dict[str, Any]:
    """The sympy process's reply for the expression as built, or ``{"note": why not}``."""
    reply = _ask({"op": "build", "expr": text}, seconds)
    if _formula(reply) and isinstance(reply.get("ops"), int):
        return reply
    if "failed" in reply:
        return {"note": f"not simplified: sympy could not run ({reply['failed']})"}
    return {"note": "not simplified: sympy cannot handle this expression"}


def _simplified_formula(text: str, seconds: float) -> dict[str, Any]:
    """``{"text", "latex"}`` simplified, or ``{"note": ...}`` (empty where the expression as built is shortest)."""
    reply = _ask({"op": "simplify", "expr": text}, seconds)
    if _formula(reply):
        return reply
    if reply.get("timeout"):
        return {"note": f"not simplified: sympy took more than {seconds:g} s of CPU"}
    if "failed" in reply:
        return {"note": f"not simplified: sympy could not run ({reply['failed']})"}
    if reply.get("shorter") is False:
        return {"note": ""}
    return {"note": "not simplified: sympy gave up"}


def simplified(
    node: Node, max_ops: int = SIMPLIFY_MAX_OPS, max_nodes: int = SIMPLIFY_MAX_NODES, seconds: float = SIMPLIFY_SECONDS
) -> dict[str, Any]:
    """``{"text", "latex", "simplified", "note"}``: sympy's simplification when the tree is small
    (at most ``max_nodes`` nodes and ``max_ops`` operations) and sympy finishes within ``seconds``
    of CPU time; else the expression as built, with ``simplified`` False and ``note`` saying why
    (empty when sympy found nothing shorter). sympy runs in its own process: this one's ``random`` state is
    never touched."""
    text = to_text(node)
    built = _built_formula(text, max(seconds, LATEX_SECONDS))
    if "note" in built:
        return {"text": text, "latex": _latex_of_text(text), "simplified": False, "note": built["note"]}
    if size(node) > max_nodes:
        note = f"not simplified: more than {max_nodes} nodes"
    elif built["ops"] > max_ops:
        note = f"not simplified: more than {max_ops} operations"
    else:
        got = _simplified_formula(text, seconds)
        if "note" not in got:
            return {"text": got["text"], "latex": got["latex"], "simplified": True, "note": ""}
        note = got["note"]
    return {"text": built["text"], "latex": built["latex"], "simplified": False, "note": note}


def _latex_of_text(text: str) -> str:
    """Expression text as LaTeX (upright, as it is written): where sympy cannot print it."""
    return r"\mathrm{" + text.replace("\\", "").replace("_", r"\_").replace(" ", r"\ ") + "}"


def latex(node: Node, seconds: float = LATEX_SECONDS) -> str:
    """LaTeX of the expression as built (sympy's automatic evaluation, no simplify); the
    expression's own text where sympy fails or takes more than ``seconds`` of CPU time."""
    text = to_text(node)
    built = _built_formula(text, seconds)
    return built["latex"] if "note" not in built else _latex_of_text(text)
