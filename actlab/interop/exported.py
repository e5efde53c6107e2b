"""What is exported: the function(s) a spec or a ``best.json`` names (:func:`functions`), each an
:class:`ExportedFunction` with its canonical spec, its Python name and how it is computed."""

from __future__ import annotations

import hashlib
import importlib
import keyword
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from actlab._errors import ActlabError, first_line
from actlab.catalogue import REGISTRY, Entry, format_spec
from actlab.catalogue import expr as E
from actlab.interop._forms import Run, entry_run, tree_run
from actlab.studies.evolve import distinct, learned_functions, read_best, slots_text

TARGETS = ("torch", "keras", "transformers", "timm")  # what to_code writes
INSTALL = "pip install 'actlab[interop]'"
KERAS_PACKAGE = "actlab"  # Keras registers each function as 'actlab>NAME'
TRANSFORMERS_PREFIX = "actlab:"  # transformers knows each as 'actlab:NAME', apart from its own names
MAX_NAME = 100  # characters of an exported function's name (it also names files)

# Names the generated modules use for themselves; an exported function cannot take them.
RESERVED = frozenset({"x", "a", "b", "self", "torch", "F", "nn", "keras", "ops", "ACT2CLS", "ACT2FN", "_pdiv"})


@dataclass(frozen=True)
class ExportedFunction:
    """One function to export: its canonical spec, the Python name it is exported under, and how it is computed."""

    spec: str  # canonical: parameters at their defaults left out, expressions in canonical text
    name: str
    doc: str  # one sentence for docstrings
    slot: str | None = None  # the slot of a best.json it came from
    entry: Entry | None = None  # the catalogue entry (None for an expression)
    kwargs: dict[str, Any] | None = None  # the entry's arguments given in the spec
    node: E.Node | None = None  # the expression tree (None for a catalogue entry)
    run: Run | None = None  # in keras.ops or as source; None: only actlab's own module computes it
    why_not: str = ""  # why run is None

    @property
    def transformers_name(self) -> str:
        """The name transformers knows it by: ``actlab:NAME``."""
        return TRANSFORMERS_PREFIX + self.name

    @property
    def class_name(self) -> str:
        """The name of its ``nn.Module`` class: the name in CamelCase (``leaky_relu`` -> ``LeakyRelu``)."""
        camel = "".join(p[:1].upper() + p[1:] for p in self.name.split("_") if p)
        return camel + "Activation" if camel == self.name or camel in RESERVED else camel

    def module(self) -> nn.Module:
        """actlab's own module of the function (made as the catalogue makes it, without its check:
        see :func:`actlab.interop.modules.module_class`)."""
        return E.Expression(self.node) if self.node is not None else self.entry.make_module(**self.kwargs)


def functions(source: str | Path, *, name: str | None = None, slot: str | None = None) -> list[ExportedFunction]:
    """The function(s) ``source`` names: one for a spec; one per slot of a ``best.json`` (or the
    one ``slot``). ``name`` is the Python name (``NAME_SLOT`` for several); by default an expression
    is ``expr_`` and 8 hex digits of its canonical text's hash (the same function always gets the
    same name), a catalogue spec its text as an identifier (``leaky_relu_negative_slope_0_1``)."""
    if name is not None:
        check_name(name)
    if isinstance(source, Path) or (isinstance(source, str) and source.strip().lower().endswith(".json")):
        return _from_best(source, name, slot)
    if not isinstance(source, str):
        raise ActlabError(
            f"export takes an activation spec such as 'mish' or 'expr:x * tanh(x)', or the path of a "
            f"best.json; got {type(source).__name__}"
        )
    if slot is not None:
        raise ActlabError(
            f"slot {str(slot)[:20]!r} is for a best.json of a triple or coevolution run, not for the spec "
            f"{source[:60]!r}"
        )
    spec = source.strip()
    if spec.startswith(E.PREFIX):
        return [_expression(spec, name, None)]
    return [_catalogue(spec, name)]


_WORD = re.compile(r"\W")  # what a slot's name may hold that a Python name may not


def _from_best(source: str | Path, name: str | None, slot: str | None) -> list[ExportedFunction]:
    d = read_best(source)
    best = learned_functions(d) or d["functions"]  # learned constants: a function per layer, with its values
    if slot is not None:
        if not isinstance(slot, str) or slot not in best:
            raise ActlabError(f"{str(source)!r} has no slot {str(slot)[:40]!r}; its slots are {slots_text(list(best))}")
        best = {slot: best[slot]}
    groups = distinct(best)  # layers that learned the same constants share one function
    many = len(groups) > 1
    return [
        _expression(
            E.PREFIX + text,
            f"{name}_{_WORD.sub('_', slots[0])}" if name and many else name,  # features.1: features_1
            slots_text(slots) if len(best) > 1 or slot else None,
        )
        for slots, text in groups
    ]


def _catalogue(spec: str, name: str | None) -> ExportedFunction:
    entry, kwargs = REGISTRY.resolve(spec)
    given = {k: v for k, v in kwargs.items() if v != entry.params[k]}
    canonical = format_spec(entry.name, given)
    portable = entry.portable is not None
    return ExportedFunction(
        spec=canonical,
        name=name or _identifier(canonical),
        doc=entry.note,
        entry=entry,
        kwargs=kwargs,
        run=entry_run(entry, {**entry.params, **kwargs}) if portable else None,
        why_not="" if portable else _why_not(entry, kwargs),
    )


def _expression(spec: str, name: str | None, slot: str | None) -> ExportedFunction:
    node = E.parse(spec[len(E.PREFIX) :])
    text = E.to_text(node)
    if not E.depends_on_x(node):
        raise ActlabError(f"expression {text[:40]!r} is a constant; an activation function must depend on x")
    canonical = E.PREFIX + text
    doc = f"The expression {text}" + (" ('/' is the protected division)." if "div" in E.primitives_used(node) else ".")
    if "rrelu" in E.primitives_used(node):
        doc += " rrelu takes its evaluation slope 11/48."
    return ExportedFunction(
        spec=canonical,
        name=name or "expr_" + hashlib.sha1(canonical.encode()).hexdigest()[:8],
        doc=doc,
        slot=slot,
        node=node,
        run=tree_run(node),
    )


def _why_not(entry: Entry, kwargs: dict[str, Any]) -> str:
    if entry.axis == "spatial":
        return (
            f"'{entry.name}' works on images with learned weights of its own; use it in PyTorch (to_timm, or "
            "torch.onnx.export of the model that holds it)"
        )
    if entry.axis == "dim":
        return f"'{entry.name}' acts along a dimension, not on each value alone; use the framework's own version"
    if learns(entry.make_module(**kwargs)):
        return (
            f"'{entry.name}' learns its parameters with the model; use the framework's own learnable layer, or "
            "export the trained model with torch.onnx.export"
        )
    if entry.stochastic:
        return f"'{entry.name}' draws random numbers"
    return (
        f"actlab has no Keras or standalone form of '{entry.name}' (an entry gets one with portable=); use it "
        "through PyTorch (to_timm, to_transformers, to_onnx)"
    )


def learns(module: nn.Module) -> bool:
    """Whether the module has parameters of its own."""
    return any(True for _ in module.parameters())


def _identifier(spec: str) -> str:
    """A catalogue spec as a Python name: ``elu(alpha=-0.5)`` -> ``elu_alpha_m0_5``; a spec with a
    prefix (``pexpr:...``) as the prefix and 8 hex digits of its hash."""
    if ":" in spec:
        return spec.split(":")[0] + "_" + hashlib.sha1(spec.encode()).hexdigest()[:8]
    name = re.sub(r"\W+", "_", spec.replace("-", "m"), flags=re.ASCII).strip("_")
    return "act_" + name if name in RESERVED or keyword.iskeyword(name) else name


def check_name(name: Any) -> str:
    """``name`` if it can name an exported function, else ActlabError."""
    if (
        not isinstance(name, str)
        or not name.isascii()
        or not name.isidentifier()
        or keyword.iskeyword(name)
        or name in RESERVED
        or len(name) > MAX_NAME
    ):
        raise ActlabError(
            f"{repr(name)[:40]} cannot name an exported function; give a Python name such as 'my_act' "
            f"of at most {MAX_NAME} characters (not one of {', '.join(sorted(RESERVED))})"
        )
    return name


def one(source: str | Path, name: str | None, slot: str | None) -> ExportedFunction:
    """The one function ``source`` names (``slot=`` picks one of several)."""
    fns = functions(source, name=name, slot=slot)
    if len(fns) > 1:
        raise ActlabError(
            f"{str(source)!r} holds {len(fns)} functions ({', '.join(str(f.slot) for f in fns)}); choose "
            f"one with slot= ('actlab export --slot')"
        )
    return fns[0]


def no_form(f: ExportedFunction, target: str) -> ActlabError:
    """The error for a function without a Keras or standalone form."""
    return ActlabError(f"cannot export {f.spec!r} to {target}: {f.why_not}")


def require(module: str, what: str) -> Any:
    """``importlib.import_module(module)``, or ActlabError saying how to install it."""
    try:
        return importlib.import_module(module)
    except Exception as e:  # not installed, or installed and failing (e.g. a torchvision built for another torch)
        package = module.split(".")[0]
        raise ActlabError(
            f"{what} needs {package}, which cannot be imported ({type(e).__name__}: {first_line(e)[:100]}); "
            f"install it with: {INSTALL}"
        ) from None


__all__ = [
    "INSTALL",
    "KERAS_PACKAGE",
    "MAX_NAME",
    "RESERVED",
    "TARGETS",
    "TRANSFORMERS_PREFIX",
    "ExportedFunction",
    "check_name",
    "functions",
    "learns",
    "no_form",
    "one",
    "require",
]
