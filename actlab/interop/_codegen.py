"""Source code by tracing: a function run on :class:`Code` placeholders writes one line per operation
on a :class:`Tape`; :meth:`Tape.statements` turns the lines into a function body."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

INLINE_CHARS = 72  # a value used once is written into its user while its own text is at most this long
_PREC = {"<": 1, "<=": 1, ">": 1, ">=": 1, "+": 3, "-": 3, "*": 4, "/": 4, "neg": 5, "**": 6}  # Python's; calls 9


class Tape:
    """The lines of a function body, written by running a function on :class:`Code` values. A line is
    ``(variable, kind, parts)``: a call ``("call", (function, args, kwargs))``, an operator
    ``("op", (symbol, a, b))`` or a negation ``("neg", (a,))``; operands are variables or literals."""

    def __init__(self):
        self.lines: list[tuple[str, str, tuple]] = []

    def emit(self, kind: str, parts: tuple) -> Code:
        name = f"v{len(self.lines)}"
        self.lines.append((name, kind, parts))
        return Code(self, name)

    def call(self, function: str, *args: Any, **kwargs: Any) -> Code:
        return self.emit(
            "call", (function, tuple(_src(a) for a in args), tuple((k, _src(v)) for k, v in kwargs.items()))
        )

    def statements(self, result: Any) -> list[str]:
        """The body, ending in ``return``. A variable used once is written into its user when it is
        short (and always into ``return``), in parentheses only where Python's precedence needs
        them (operands of equal precedence keep theirs, so the order of evaluation is actlab's);
        unused ones are dropped."""
        final = _src(result)
        uses: dict[str, int] = {final: 1}
        for _, kind, parts in self.lines:
            for operand in _operands(kind, parts):
                uses[operand] = uses.get(operand, 0) + 1
        writer = _Writer({name: (kind, parts) for name, kind, parts in self.lines})
        out = []
        for name, _, _ in self.lines:
            if uses.get(name, 0) == 0:
                continue
            writer.inline.add(name)
            line = writer.text(name)[0]
            if uses[name] > 1 or (len(line) > INLINE_CHARS and name != final):
                writer.inline.discard(name)
                out.append(f"{name} = {line}")
        out.append("return " + writer.text(final)[0])
        return out


class _Writer:
    """The text of a tape's operands, with the variables in ``inline`` written in place."""

    def __init__(self, lines: dict[str, tuple[str, tuple]]):
        self.lines = lines
        self.inline: set[str] = set()

    def text(self, token: str) -> tuple[str, int]:
        """The text of a variable or literal and the precedence of its outermost operation."""
        if token not in self.inline:
            return token, 5 if token.startswith("-") else 9  # a negative number is a unary minus
        kind, parts = self.lines[token]
        if kind == "call":
            function, args, kwargs = parts
            inner = [self.text(a)[0] for a in args] + [f"{k}={self.text(v)[0]}" for k, v in kwargs]
            return f"{function}({', '.join(inner)})", 9
        if kind == "neg":
            a, q = self.text(parts[0])
            return "-" + (f"({a})" if q <= 5 else a), 5
        symbol, a, b = parts
        p = _PREC[symbol]
        (ta, qa), (tb, qb) = self.text(a), self.text(b)
        if qa < p or (qa == p and p in (1, 6)):  # no chained comparisons; ** groups to the right
            ta = f"({ta})"
        if qb <= p:
            tb = f"({tb})"
        return f"{ta} {symbol} {tb}", p


def _operands(kind: str, parts: tuple) -> list[str]:
    if kind == "call":
        return [*parts[1], *(v for _, v in parts[2])]
    return list(parts[1:]) if kind == "op" else list(parts)


def _operator(symbol: str, reflected: bool = False) -> Callable[[Code, Any], Code]:
    def op(self: Code, other: Any) -> Code:
        a, b = (_src(other), self.text) if reflected else (self.text, _src(other))
        return self.tape.emit("op", (symbol, a, b))

    return op


class Code:
    """A value in generated source. Functions run on it as on tensors; each operation writes a line."""

    def __init__(self, tape: Tape, text: str):
        self.tape, self.text = tape, text

    __add__, __radd__ = _operator("+"), _operator("+", True)
    __sub__, __rsub__ = _operator("-"), _operator("-", True)
    __mul__, __rmul__ = _operator("*"), _operator("*", True)
    __truediv__, __rtruediv__ = _operator("/"), _operator("/", True)
    __pow__ = _operator("**")
    __lt__, __le__, __gt__, __ge__ = _operator("<"), _operator("<="), _operator(">"), _operator(">=")

    def __neg__(self) -> Code:
        return self.tape.emit("neg", (self.text,))


class Names:
    """A namespace of functions in generated source: ``Names(tape, spell).tanh(v)`` writes the call
    ``spell("tanh")(v)``, e.g. ``ops.tanh(v0)`` or ``torch.tanh(v0)``."""

    def __init__(self, tape: Tape, spell: Callable[[str], str]):
        self._tape, self._spell = tape, spell

    def __getattr__(self, name: str) -> Callable[..., Code]:
        if name.startswith("__"):
            raise AttributeError(name)
        return functools.partial(self._tape.call, self._spell(name))


def _src(v: Any) -> str:
    """Source text of an operand: a traced value or a literal."""
    if isinstance(v, Code):
        return v.text
    if isinstance(v, (bool, str)):
        return repr(v)
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            return f'float("{v}")'
        return repr(v)  # a negative number is a unary minus: only "**" binds tighter
    raise TypeError(f"no source text for {type(v).__name__}")


__all__ = ["INLINE_CHARS", "Code", "Names", "Tape"]
