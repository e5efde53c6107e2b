"""Text and the tree: a tokenizer and recursive-descent parser of actlab's own (:func:`parse`) and
the printer of canonical text (:func:`to_text`), which parses back to the same tree. Nothing the
user writes is ever given to ``eval``, ``exec``, ``compile`` or sympy's string parser."""

from __future__ import annotations

import difflib
import math
import re

from actlab._errors import ActlabError
from actlab.catalogue.expr.tree import (
    _BY_KEY,
    MAX_CHARS,
    MAX_NESTING,
    MAX_NODES,
    PRIMITIVES,
    Call,
    Const,
    Node,
    Var,
    X,
    _key,
    _short,
)

# --------------------------------------------------------------------------------- the parser
_TOKEN = re.compile(
    r"(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/(),^])",
    re.ASCII,
)
_SPACE = re.compile(r"[ \t\r\n]+", re.ASCII)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, i = [], 0
    while i < len(text):
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
            continue
        m = _TOKEN.match(text, i)
        if not m:
            raise _error(text, f"unexpected character {text[i]!r} at position {i}")
        out.append((m.lastgroup, m.group(), i))
        i = m.end()
    return out


def _error(text: str, what: str) -> ActlabError:
    return ActlabError(f"cannot read expression {_short(text)}: {what}; write e.g. 'max(x, x*tanh(x))'")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise _error(self.text, "it ends too early" + (f" (expected {value!r})" if value else ""))
        if value is not None and tok[1] != value:
            raise _error(self.text, f"expected {value!r} at position {tok[2]}, found {tok[1]!r}")
        self.i += 1
        return tok

    def node(self, n: Node) -> Node:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _error(self.text, f"more than {MAX_NODES} nodes")
        return n

    def nest(self):
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _error(self.text, f"nested more than {MAX_NESTING} levels deep")

    def parse(self) -> Node:
        if not self.toks:
            raise _error(self.text, "it is empty")
        n = self.expr()
        tok = self.peek()
        if tok is not None:
            raise _error(self.text, f"unexpected {tok[1]!r} at position {tok[2]}")
        return n

    def expr(self) -> Node:
        self.nest()
        n = self.term()
        while (tok := self.peek()) is not None and tok[1] in "+-" and tok[0] == "op":
            self.take()
            n = self.node(Call("add" if tok[1] == "+" else "sub", (n, self.term())))
        self.depth -= 1
        return n

    def term(self) -> Node:
        n = self.factor()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in ("*", "/"):
            self.take()
            n = self.node(Call("mul" if tok[1] == "*" else "div", (n, self.factor())))
        return n

    def factor(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in "+-":
            self.take()
            self.nest()
            inner = self.factor()
            self.depth -= 1
            if tok[1] == "+":
                return inner
            if isinstance(inner, Const):
                return Const(-inner.value)
            return self.node(Call("neg", (inner,)))
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        tok = self.peek()
        if tok is None or tok[1] not in ("**", "^"):
            return base
        self.take()
        n = self.exponent(tok[2])
        if n < 0:
            return self.node(Call("div", (self.node(Const(1.0)), self._pow(base, -n))))
        return self._pow(base, n)

    def _pow(self, base: Node, n: int) -> Node:
        if n == 1:
            return base
        if n == 2:
            return self.node(Call("square", (base,)))
        if n == 3:
            return self.node(Call("mul", (self.node(Call("square", (base,))), base)))
        return self.node(Call("square", (self.node(Call("square", (base,))),)))  # n == 4

    def exponent(self, where: int) -> int:
        paren = self.peek() is not None and self.peek()[1] == "("
        if paren:
            self.take("(")
        sign = 1
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            sign = -1 if tok[1] == "-" else 1
        tok = self.peek()
        bad = _error(
            self.text,
            f"only integer powers from -4 to 4 (not 0) are supported at position {where}; use square(x) or mul()",
        )
        if tok is None or tok[0] != "num":
            raise bad
        self.take()
        value = float(tok[1])
        if paren:
            self.take(")")
        if not value.is_integer() or not 1 <= abs(value) <= 4:
            raise bad
        return sign * int(value)

    def atom(self) -> Node:
        tok = self.take()
        kind, value, pos = tok
        if kind == "num":
            v = float(value)
            if not math.isfinite(v):
                raise _error(self.text, f"constant {_short(value, 20)} is too large")
            return self.node(Const(v))
        if kind == "name":
            nxt = self.peek()
            if nxt is None or nxt[1] != "(":
                if value.lower() == "x":
                    return self.node(X)
                raise _error(self.text, f"unknown name {_short(value, 30)} at position {pos}; the only variable is x")
            hit = _BY_KEY.get(_key(value))
            if hit is None:
                close = difflib.get_close_matches(_key(value), list(_BY_KEY), n=3, cutoff=0.6)
                hint = f" (did you mean {', '.join(repr(_BY_KEY[c]) for c in close)}?)" if close else ""
                raise _error(self.text, f"unknown function {_short(value, 30)} at position {pos}{hint}")
            prim = PRIMITIVES[hit]
            self.take("(")
            self.nest()
            args = []
            if self.peek() is not None and self.peek()[1] == ")":
                pass
            else:
                args.append(self.expr())
                while self.peek() is not None and self.peek()[1] == ",":
                    self.take(",")
                    args.append(self.expr())
            self.take(")")
            self.depth -= 1
            if len(args) != prim.arity:
                raise _error(
                    self.text,
                    f"{hit} takes {prim.arity} argument{'s' if prim.arity > 1 else ''}, "
                    f"got {len(args)} at position {pos}",
                )
            return self.node(Call(hit, tuple(args)))
        if value == "(":
            self.nest()
            n = self.expr()
            self.take(")")
            self.depth -= 1
            return n
        raise _error(self.text, f"unexpected {value!r} at position {pos}")


def parse(text: str) -> Node:
    """Parse expression text into a tree; ``ActlabError`` (one line) for anything else."""
    if not isinstance(text, str):
        raise ActlabError(f"an expression is text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ActlabError(f"expression of {len(text)} characters is too long (at most {MAX_CHARS})")
    return _Parser(text).parse()


# -------------------------------------------------------------------------------- the printer
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_PREC = {"add": 1, "sub": 1, "mul": 2, "div": 2}


def _const_text(v: float) -> str:
    return repr(float(v))


def to_text(node: Node) -> str:
    """Canonical text: ``+ - * /`` infix, every other primitive as a call; parses back to ``node``."""
    if isinstance(node, Var):
        return "x"
    if isinstance(node, Const):
        return _const_text(node.value)
    if node.name in _INFIX:
        p = _PREC[node.name]
        a, b = node.args
        left, right = to_text(a), to_text(b)
        if isinstance(a, Call) and _PREC.get(a.name, 3) < p:
            left = f"({left})"
        if isinstance(b, Call) and _PREC.get(b.name, 3) <= p:
            right = f"({right})"
        return f"{left} {_INFIX[node.name]} {right}"
    return f"{node.name}({', '.join(to_text(a) for a in node.args)})"


def canonical(text: str) -> str:
    return to_text(parse(text))
