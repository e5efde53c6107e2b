"""The table of named activation functions, and turning specs into functions and modules.

A *spec* is what a user writes to name an activation: ``"relu"``,
``"leaky_relu(negative_slope=0.1)"``, a callable or ``nn.Module`` (passed through), or
``None`` (identity). Spec strings are parsed with :mod:`ast` and only literal arguments are
accepted (``ast.literal_eval``); nothing the user writes is ever evaluated as code.
"""

from __future__ import annotations

import ast
import copy
import difflib
import functools
import math
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from actlab._errors import ActlabError, first_line
from actlab._validate import MAX_WIDTH

KINDS = ("standard", "math", "literature", "spatial", "learnable", "user")
AXES = ("elementwise", "dim", "spatial")

Spec = Any  # str | Callable | nn.Module | None


@dataclass(frozen=True)
class Entry:
    """One named activation function and everything actlab knows about it.

    ``fn(x, **params)`` is the function; ``make_module(**params)`` the ``nn.Module``. For an
    entry whose module learns parameters (kind ``learnable``), ``params`` are their initial
    values and ``fn`` is the module at those values. Properties (``range``, ``monotonic``,
    ``smooth``, ``zero_centred``) describe the 1-D curve shown in plots: the function itself
    for element-wise entries, ``f([x, 0])[0]`` along ``dim`` for the others (``f([x, x])[0]``
    where ``view_pair == "same"``), and they are checked numerically against ``fn`` in the
    test suite.

    ``portable(x, ops=NAMESPACE, **params)`` is the function written in keras.ops names
    (:mod:`actlab.catalogue.ops`): export runs it in Keras and writes PyTorch and Keras source
    from it. For a composite entry it is ``fn`` itself, run on torch with ``ops=TORCH_OPS``.
    ``None``: the function has no such form (it acts along a dimension, learns or draws).
    """

    name: str
    fn: Callable[..., torch.Tensor]
    formula: str  # LaTeX, also rendered by matplotlib mathtext
    note: str  # one plain-language sentence
    reference: str
    kind: str
    range: tuple[float, float]
    monotonic: bool | None
    smooth: bool | None  # C^1 on the domain
    zero_centred: bool | None  # f(0) = 0 and f takes both signs
    numpy: Callable[..., Any] | None = None  # NumPy reference implementation
    params: Mapping[str, Any] = field(default_factory=dict)
    module: Callable[..., nn.Module] | None = None  # default: a generic Activation module
    axis: str = "elementwise"
    domain: tuple[float, float] = (-math.inf, math.inf)
    differentiable: bool = True  # False: gradient is zero almost everywhere
    stochastic: bool = False
    aliases: tuple[str, ...] = ()
    view_pair: str = "zero"  # how a 1-D curve is taken from a function along dim
    probe: tuple[float, float] = (-6.0, 6.0)  # where smoothness is measured
    # element-wise only at its starting values: a learned projection (gated units) or a learned
    # generator (meta-ACON) then mixes the features; properties are those of the starting values
    mixes_features: bool = False
    limits: Mapping[str, tuple[int, int]] = field(
        default_factory=dict
    )  # whole-number parameters' ranges, where narrower than -16384..16384
    portable: Callable[..., Any] | None = None  # the function in keras.ops names, for export

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"entry {self.name!r}: kind must be one of {KINDS}")
        if self.axis not in AXES:
            raise ValueError(f"entry {self.name!r}: axis must be one of {AXES}")

    @property
    def bounded_below(self) -> bool:
        return math.isfinite(self.range[0])

    @property
    def bounded_above(self) -> bool:
        return math.isfinite(self.range[1])

    @property
    def elementwise(self) -> bool:
        return self.axis == "elementwise"

    def make_module(self, **params) -> nn.Module:
        kwargs = {**self.params, **params}
        if self.module is not None:
            return self.module(**kwargs)
        return Activation(self.fn, kwargs, name=self.name)

    def function(self, **params) -> Callable[[torch.Tensor], torch.Tensor]:
        kwargs = {**self.params, **params}
        if not kwargs:
            return self.fn
        f = functools.partial(self.fn, **kwargs)
        f.__name__ = format_spec(self.name, kwargs)  # type: ignore[attr-defined]
        return f

    def properties(self) -> dict[str, Any]:
        """The declared properties as plain values (JSON-friendly)."""
        return {
            "range": list(self.range),
            "bounded_below": self.bounded_below,
            "bounded_above": self.bounded_above,
            "monotonic": self.monotonic,
            "smooth": self.smooth,
            "zero_centred": self.zero_centred,
            "axis": self.axis,
            "differentiable": self.differentiable,
            "stochastic": self.stochastic,
            "mixes_features": self.mixes_features,
        }


class Activation(nn.Module):
    """An ``nn.Module`` around a catalogue function: ``Activation(fn, params)(x) = fn(x, **params)``."""

    def __init__(self, fn: Callable, params: Mapping[str, Any] | None = None, name: str | None = None):
        super().__init__()
        self.fn = fn
        self.params = dict(params or {})
        self.name = name or getattr(fn, "__name__", type(fn).__name__)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x, **self.params)

    def extra_repr(self) -> str:
        return format_spec(self.name, self.params)


def format_spec(name: str, params: Mapping[str, Any]) -> str:
    """``format_spec("elu", {"alpha": 0.5}) == "elu(alpha=0.5)"``; parses back with :func:`parse_spec`."""
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _short(text: str, n: int = 60) -> str:
    """User text as it appears in a one-line message: quoted, at most ``n`` characters."""
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def _short_repr(value: Any, n: int = 60) -> str:
    """``repr(value)``, at most ``n`` characters."""
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."


def _key(name: str) -> str:
    """Lookup key: case, '-' and '_' do not matter ("LeakyReLU" == "leaky_relu" == "leaky-relu")."""
    return re.sub(r"[-_\s]", "", name).lower()


_SPEC = re.compile(r"^\s*([A-Za-z][\w\-.]*)\s*(?:\((.*)\))?\s*$", re.S)


def parse_spec(text: str) -> tuple[str, tuple, dict]:
    """Split ``"name(arg, key=value)"`` into ``(name, args, kwargs)``; arguments must be literals."""
    m = _SPEC.match(text)
    if not m:
        raise ActlabError(
            f"cannot read activation spec {_short(text)}; write a name such as 'relu' "
            "or a name with literal arguments such as 'leaky_relu(negative_slope=0.1)'"
        )
    name, inner = m.group(1), m.group(2)
    if inner is None or not inner.strip():
        return name, (), {}
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning "invalid decimal literal" for '1abc'
            warnings.simplefilter("ignore")
            call = ast.parse(f"f({inner})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ActlabError(
            f"cannot read the arguments of {_short(text)}; write them as key=value with literal values"
        ) from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "f"):
        # 'relu() or x' or 'elu(1)(2)': more than one call of the name
        raise ActlabError(
            f"cannot read activation spec {_short(text)}; "
            "write one name with literal arguments such as 'leaky_relu(negative_slope=0.1)'"
        )

    def literal(node: ast.AST) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ActlabError(
                f"argument {_short(ast.unparse(node), 40)} in {_short(text)} is not a literal; "
                "only numbers, strings, booleans, None and tuples are allowed"
            ) from None

    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise ActlabError(f"'*' and '**' are not allowed in activation spec {_short(text)}")
    keys = [k.arg for k in call.keywords]
    if len(set(keys)) < len(keys):  # ast.parse accepts f(a=1, a=2); only compile() refuses it
        twice = next(k for k in keys if keys.count(k) > 1)
        raise ActlabError(f"argument {_short(twice, 40)} given twice in activation spec {_short(text)}")
    return name, tuple(literal(a) for a in call.args), {k.arg: literal(k.value) for k in call.keywords}


def split_specs(text: str) -> list[str]:
    """Split a comma list of specs, keeping commas inside parentheses: 'relu,elu(alpha=1, x=2)'."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    if any(not s for s in out):
        raise ActlabError(
            f"empty name in the activation list {text!r}; write names separated by commas, e.g. relu,tanh"
        )
    return out


def _check_type(entry: Entry, key: str, value: Any) -> Any:
    default = entry.params[key]
    ok = True
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        try:
            value = float(value) if ok else value
        except OverflowError:  # an integer beyond float range, e.g. 10**400
            raise ActlabError(
                f"activation '{entry.name}': argument '{key}' must be finite, got {_short_repr(value)}"
            ) from None
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
        lo, hi = entry.limits.get(
            key, (-MAX_WIDTH, MAX_WIDTH)
        )  # the catalogue's: a dim, a channel count, a kernel size
        if ok and (entry.kind != "user" or key in entry.limits) and not lo <= value <= hi:
            raise ActlabError(
                f"activation '{entry.name}': argument '{key}' must be from {lo} to {hi}, got {_short_repr(value)}"
            )
    elif isinstance(default, str):
        ok = isinstance(value, str)
    if not ok:
        raise ActlabError(
            f"activation '{entry.name}': argument '{key}' must be {type(default).__name__} "
            f"like {default!r}, got {_short_repr(value)}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ActlabError(f"activation '{entry.name}': argument '{key}' must be finite, got {_short_repr(value)}")
    return value


class Registry:
    """Name -> :class:`Entry`, with aliases and fuzzy 'did you mean' errors."""

    def __init__(self):
        self._entries: dict[str, Entry] = {}
        self._keys: dict[str, str] = {}  # lookup key (name or alias) -> canonical name
        # Spec prefixes handled elsewhere, e.g. "expr:" for evolved expressions: prefix -> resolver.
        self._prefixes: dict[str, Callable[[str], Entry]] = {}

    def __contains__(self, name: str) -> bool:
        return _key(name) in self._keys

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def add(self, entry: Entry, replace: bool = False) -> Entry:
        keys = [_key(entry.name), *(_key(a) for a in entry.aliases)]
        for k in keys:
            owner = self._keys.get(k)
            if owner is not None and not (replace and owner == entry.name):
                raise ActlabError(
                    f"activation name {k!r} is already taken by '{owner}'; choose another name or pass replace=True"
                )
        if replace and entry.name in self._entries:
            old = self._entries.pop(entry.name)
            for k in [_key(old.name), *(_key(a) for a in old.aliases)]:
                self._keys.pop(k, None)
        self._entries[entry.name] = entry
        for k in keys:
            self._keys[k] = entry.name
        return entry

    def add_prefix(self, prefix: str, resolver: Callable[[str], Entry]) -> None:
        self._prefixes[prefix] = resolver

    def lookup(self, name: str) -> Entry:
        """The entry for a name or alias; ``ActlabError`` naming the closest names otherwise."""
        for prefix, resolve in self._prefixes.items():
            if name.startswith(prefix):
                return resolve(name[len(prefix) :])
        canonical = self._keys.get(_key(name))
        if canonical is None:
            raise ActlabError(self._unknown(name))
        return self._entries[canonical]

    def _unknown(self, name: str) -> str:
        names = {**{_key(n): n for n in self._entries}, **self._keys}
        close = difflib.get_close_matches(_key(name), list(names), n=len(names), cutoff=0.6)
        # a name and its aliases resolve to one entry: suggest each entry once, the 3 closest
        unique = list(dict.fromkeys(self._keys.get(c, names[c]) for c in close))[:3]
        hint = ", ".join(f"'{n}'" for n in unique)
        suggestion = f"did you mean {hint}?" if hint else "run 'actlab list' to see them all"
        return f"unknown activation {_short(name)}; {suggestion}"

    def resolve(self, spec: str) -> tuple[Entry, dict]:
        """Parse a spec string and check its arguments against the entry's parameters."""
        for prefix, resolve in self._prefixes.items():
            if spec.strip().startswith(prefix):
                return resolve(spec.strip()[len(prefix) :]), {}
        name, args, kwargs = parse_spec(spec)
        entry = self.lookup(name)
        order = list(entry.params)
        if len(args) > len(order):
            raise ActlabError(
                f"activation '{entry.name}' takes at most {len(order)} argument(s) "
                f"({', '.join(order) or 'none'}), got {len(args)}"
            )
        merged = dict(zip(order, args, strict=False))
        for k, v in kwargs.items():
            if k in merged:
                raise ActlabError(f"activation '{entry.name}': argument {_short(k, 40)} given twice")
            merged[k] = v
        for k in merged:
            if k not in entry.params:
                valid = ", ".join(entry.params) or "none"
                raise ActlabError(
                    f"activation '{entry.name}' has no argument {_short(k, 40)}; valid arguments: {valid}"
                )
        return entry, {k: _check_type(entry, k, v) for k, v in merged.items()}


REGISTRY = Registry()


def _probe(entry: Entry, call: Callable[[], Any], spec: str) -> None:
    """Run the new function once on a tiny input so bad argument values fail now, in one line."""
    try:
        out = call()
    except IndexError:  # e.g. softmax(dim=3): valid for 4-D inputs, not for the 2-D probe
        return
    except (RuntimeError, ValueError, TypeError, ZeroDivisionError, AssertionError) as e:
        if isinstance(e, ActlabError):
            raise
        first = first_line(e)
        raise ActlabError(f"activation spec {_short(spec)} is not usable: {first}") from None
    if isinstance(out, torch.Tensor) and not torch.isfinite(out).all():
        raise ActlabError(f"activation spec {_short(spec)} gives non-finite values at x = 0.5; check its arguments")


def _probe_input(entry: Entry, kwargs: Mapping[str, Any] | None = None) -> torch.Tensor:
    c = (kwargs or {}).get("num_parameters", 4)  # per-channel parameters (PReLU) fix the channel count
    return torch.full((2, c, 3, 3) if entry.axis == "spatial" else (2, c), 0.5)


def get(spec: Spec = None) -> nn.Module:
    """An ``nn.Module`` for a spec.

    ``None`` -> ``nn.Identity``; an ``nn.Module`` -> itself; another callable -> wrapped in
    :class:`Activation`; a string -> the catalogue entry with its arguments, e.g.
    ``get("leaky_relu(negative_slope=0.1)")``. Every call returns a new module, so two layers
    never share learnable parameters by accident.
    """
    if spec is None:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    if isinstance(spec, str):
        entry, kwargs = REGISTRY.resolve(spec)
        module = _checked(spec, lambda: entry.make_module(**kwargs))
        if entry.axis != "spatial":  # spatial modules infer their channels at the first call
            _probe(entry, lambda: copy.deepcopy(module).eval()(_probe_input(entry, kwargs)), spec)
        return module
    if callable(spec):
        return Activation(spec, name=getattr(spec, "__name__", None))
    raise ActlabError(f"an activation spec must be a name, a callable, a module or None; got {type(spec).__name__}")


def functional(spec: Spec = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A plain callable for a spec (``None`` -> identity; callables pass through)."""
    if spec is None:
        return _identity
    if isinstance(spec, str):
        entry, kwargs = REGISTRY.resolve(spec)
        fn = entry.function(**kwargs)
        if entry.axis != "spatial":  # spatial functions need their weights as arguments
            _probe(entry, lambda: fn(_probe_input(entry, kwargs)), spec)
        return fn
    if callable(spec):
        return spec
    raise ActlabError(f"an activation spec must be a name, a callable, a module or None; got {type(spec).__name__}")


def _checked(spec: str, make: Callable[[], nn.Module]) -> nn.Module:
    try:
        return make()
    except (RuntimeError, ValueError, TypeError, AssertionError) as e:
        if isinstance(e, ActlabError):
            raise
        raise ActlabError(f"activation spec {_short(spec)} is not usable: {first_line(e)}") from None


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def lookup(name: str) -> Entry:
    """The :class:`Entry` for a name, alias or spec string."""
    return REGISTRY.resolve(name)[0] if "(" in name or ":" in name else REGISTRY.lookup(name)


def entries(kind: str | None = None) -> list[Entry]:
    """All entries of the catalogue, in table order, optionally of one kind."""
    if kind is not None and kind not in KINDS:
        raise ActlabError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return [e for e in REGISTRY if kind is None or e.kind == kind]


def register(
    name: str,
    fn: Callable[..., torch.Tensor] | None = None,
    *,
    formula: str = "",
    note: str = "",
    reference: str = "user-defined",
    range: tuple[float, float] = (-math.inf, math.inf),
    monotonic: bool | None = None,
    smooth: bool | None = None,
    zero_centred: bool | None = None,
    numpy: Callable | None = None,
    params: Mapping[str, Any] | None = None,
    module: Callable[..., nn.Module] | None = None,
    axis: str = "elementwise",
    aliases: tuple[str, ...] = (),
    kind: str = "user",
    replace: bool = False,
    **extra: Any,
):
    """Add a function to the catalogue so that its name works everywhere a spec does.

    >>> actlab.register("my_act", lambda x: x * torch.tanh(x), formula=r"x\\tanh(x)")  # doctest: +SKIP

    Used as ``@register("name")`` it decorates the function. A name already taken raises
    ``ActlabError`` unless ``replace=True``.
    """

    def add(f: Callable[..., torch.Tensor]):
        entry = Entry(
            name=name,
            fn=f,
            formula=formula or name,
            note=note or (f.__doc__ or "").strip().split("\n")[0],
            reference=reference,
            kind=kind,
            range=tuple(range),
            monotonic=monotonic,
            smooth=smooth,
            zero_centred=zero_centred,
            numpy=numpy,
            params=dict(params or {}),
            module=module,
            axis=axis,
            aliases=tuple(aliases),
            **extra,
        )
        REGISTRY.add(entry, replace=replace)
        return f

    if not re.fullmatch(r"[A-Za-z][\w\-.]*", name):
        raise ActlabError(
            f"activation name {name!r} must start with a letter and hold only letters, digits, '_', '-', '.'"
        )
    return add if fn is None else add(fn)
