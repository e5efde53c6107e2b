"""The expression language of evolved activation functions: ``"max(x, x*tanh(x))"``.

One variable ``x``, float constants, ``+ - * /`` (``/`` is the protected division), integer
powers ``x**2`` (rewritten with ``square``), and calls of the whitelisted primitives in
:data:`PRIMITIVES`. Text is read by a tokenizer and a recursive-descent parser of its own into
a small tree (:class:`Var`, :class:`Const`, :class:`Call`); nothing the user writes is ever
given to ``eval``, ``exec``, ``compile`` or sympy's string parser. Every mistake is an
:class:`~actlab.ActlabError` with a one-line message.

From the tree:

* :func:`compile_torch` gives a torch function (closures over torch ops, no code generation);
* :func:`numpy_eval` a NumPy reference;
* :func:`to_sympy` a sympy expression built node by node (``sympy.Max``, ``sympy.exp``, ...),
  and :func:`simplified` its simplification, as text and LaTeX (computed in a child process
  with a hard time limit);
* :func:`to_text` the canonical text, which parses back to the same tree.

Protected operations: ``div(a, b) = a / b`` with ``|b|`` raised to at least 1e-6 (keeping its
sign); ``log(x) = log(|x| + 1e-6)``; ``sqrt(x) = sqrt(|x|)`` (1e-12 is added under the root so
that the gradient at 0 stays finite). Formulas show what the function computes: ``a / b`` where
sympy proves ``|b| >= 1e-6``, ``pdiv(a, b)`` (the protected division, named) where ``b`` may come
closer to 0, and a constant denominator as the value the division uses (``x / 0`` is ``1000000 x``);
larger subtrees without ``x`` (or ones that overflow) are shown as the float64 value the torch
function folds them to.

``"expr:TEXT"`` works as an activation spec everywhere a catalogue name does, e.g.
``actlab.get("expr:max(x, x*tanh(x))")``; see :func:`entry`.

Modules: :mod:`.tree` (the tree, its limits and the primitives' NumPy and sympy forms),
:mod:`.parse` (text to tree and back), :mod:`.compile` (torch), :mod:`.sympy` (formulas; sympy
runs in the process of :mod:`._process` and :mod:`._child`), :mod:`.module` (``nn.Module`` and
catalogue entries). This file only re-exports.
"""

from actlab.catalogue.expr.compile import (
    TORCH,
    DualFn,
    LearnableFn,
    TorchFn,
    TorchForm,
    compile_dual,
    compile_learnable,
    compile_torch,
)
from actlab.catalogue.expr.module import LEARN_PREFIX, PREFIX, Expression, entry, learnable_entry, module, template
from actlab.catalogue.expr.parse import canonical, parse, to_text
from actlab.catalogue.expr.sympy import (
    EXACT_CONSTANT_NODES,
    LATEX_SECONDS,
    SIMPLIFY_MAX_NODES,
    SIMPLIFY_MAX_OPS,
    SIMPLIFY_SECONDS,
    latex,
    simplified,
    start_sympy,
    to_sympy,
)
from actlab.catalogue.expr.tree import (
    DEFAULT_BINARY,
    DEFAULT_UNARY,
    DIV_EPS,
    LOG_EPS,
    MAX_CHARS,
    MAX_NESTING,
    MAX_NODES,
    PRIMITIVES,
    RRELU_SLOPE,
    SELU_ALPHA,
    SELU_SCALE,
    SQRT_EPS,
    Call,
    Const,
    Node,
    Primitive,
    Var,
    X,
    check_tree,
    constants,
    depends_on_x,
    height,
    numpy_eval,
    primitive_name,
    primitives_used,
    size,
)

__all__ = [
    "Call",
    "canonical",
    "check_tree",
    "compile_dual",
    "compile_learnable",
    "compile_torch",
    "Const",
    "constants",
    "DEFAULT_BINARY",
    "DEFAULT_UNARY",
    "depends_on_x",
    "DIV_EPS",
    "DualFn",
    "entry",
    "EXACT_CONSTANT_NODES",
    "Expression",
    "height",
    "latex",
    "LATEX_SECONDS",
    "LEARN_PREFIX",
    "learnable_entry",
    "LearnableFn",
    "LOG_EPS",
    "MAX_CHARS",
    "MAX_NESTING",
    "MAX_NODES",
    "module",
    "Node",
    "numpy_eval",
    "parse",
    "PREFIX",
    "Primitive",
    "primitive_name",
    "PRIMITIVES",
    "primitives_used",
    "RRELU_SLOPE",
    "SELU_ALPHA",
    "SELU_SCALE",
    "simplified",
    "SIMPLIFY_MAX_NODES",
    "SIMPLIFY_MAX_OPS",
    "SIMPLIFY_SECONDS",
    "size",
    "SQRT_EPS",
    "start_sympy",
    "template",
    "to_sympy",
    "to_text",
    "TORCH",
    "TorchFn",
    "TorchForm",
    "Var",
    "X",
]
