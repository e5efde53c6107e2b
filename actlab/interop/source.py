"""A function as the source of a standalone Python module: :func:`to_code`.

Each body is written by running the function on placeholders that record each operation
(:mod:`actlab.interop._codegen`): one line per operation, values used once written into their user.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from actlab._errors import ActlabError
from actlab.interop._codegen import Code, Tape
from actlab.interop._forms import PDIV_DOC, TorchSource, keras_source, pdiv
from actlab.interop.exported import KERAS_PACKAGE, TARGETS, ExportedFunction, functions, no_form


def to_code(spec: str | Path, target: str = "torch", *, name: str | None = None, slot: str | None = None) -> str:
    """The source of a standalone Python module with the function(s), for ``target``:

    * ``"torch"``: a ``def NAME(x)`` and an ``nn.Module`` class using only PyTorch; paste it
      into a file, no actlab needed (the class also serves timm's and torchvision's ``act_layer``);
    * ``"timm"``: the same, with how to pass the class to ``timm.create_model``;
    * ``"transformers"``: the same, registering each function with transformers when imported;
    * ``"keras"``: a ``def NAME(x)`` of ``keras.ops``, registered with Keras when imported under
      the name :func:`~actlab.interop.to_keras` uses, so models saved with either load with the other.

    A ``best.json`` with several slots gives one function per slot (``slot=`` picks one).

    >>> print(actlab.to_code("expr:max(x, x * tanh(x))"))  # doctest: +SKIP
    """
    if target not in TARGETS:
        raise ActlabError(f"unknown code target {str(target)[:20]!r}; choose one of {', '.join(TARGETS)}")
    fns = functions(spec, name=name, slot=slot)
    for f in fns:
        if f.run is None:
            raise no_form(f, "Keras" if target == "keras" else "standalone PyTorch code")
    names = ", ".join(f.name for f in fns)
    source = f"# exported by actlab from {str(spec)!r}"
    if target == "keras":
        return _keras_module(fns, names, source)
    return _torch_module(fns, names, source, target)


def _body(f: ExportedFunction, keras: bool) -> list[str]:
    """The statements of the function's body, in Keras or in PyTorch."""
    tape = Tape()
    target = keras_source(tape) if keras else TorchSource(tape)
    return tape.statements(f.run(target, Code(tape, "x")))


def _helper(keras: bool) -> list[str]:
    """``def _pdiv(a, b)``: the protected division."""
    tape = Tape()
    ops = (keras_source(tape) if keras else TorchSource(tape)).ops
    body = tape.statements(pdiv(ops, Code(tape, "a"), Code(tape, "b")))
    return ["def _pdiv(a, b):", f'    """{PDIV_DOC}"""', *(f"    {s}" for s in body), "", ""]


def _example(fns: list[ExportedFunction]) -> ExportedFunction:
    """The function a usage example names: the hidden layers' of an evolution with several slots."""
    return next((f for f in fns if f.slot == "hidden"), fns[0])


def _docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = textwrap.wrap(text, 96 - len(indent)) or [""]
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *(f"{indent}{line}" for line in lines[1:]), f'{indent}"""']


def _function(f: ExportedFunction, head: str, body: list[str]) -> list[str]:
    """``def NAME(x)``: its docstring, the spec it came from, the body."""
    spec = f"    # actlab spec {f.spec!r}" + (f", for {f.slot}" if f.slot else "")
    return [head, *_docstring(f.doc, "    "), spec, *(f"    {s}" for s in body), "", ""]


def _torch_head(fns: list[ExportedFunction], names: str, target: str) -> str:
    """The module's docstring for ``target``."""
    classes, example = ", ".join(f.class_name for f in fns), _example(fns)
    if target == "timm":
        return (
            f"Activation functions exported by actlab for timm: pass a class as act_layer, e.g. "
            f"timm.create_model('resnet18', pretrained=False, act_layer={example.class_name}). Classes: {classes}."
        )
    if target == "transformers":
        return (
            f"Activation functions exported by actlab for transformers: importing this module registers "
            f"{', '.join(f.transformers_name for f in fns)} in transformers.activations, e.g. for "
            f"BertConfig(hidden_act={example.transformers_name!r})."
        )
    return f"Activation functions exported by actlab: {names}. They need only PyTorch."


def _torch_class(f: ExportedFunction) -> list[str]:
    """The ``nn.Module`` class of a function, for any shape."""
    doc = (
        f"{f.name} as a module, for any shape. inplace is accepted for timm's and torchvision's "
        "act_layer(inplace=True) and ignored: the input is never changed."
    )
    return [
        f"class {f.class_name}(nn.Module):",
        *_docstring(doc, "    "),
        "",
        f"    actlab_spec = {f.spec!r}",
        "",
        "    def __init__(self, inplace: bool = False):",
        "        super().__init__()",
        "",
        "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
        f"        return {f.name}(x)",
        "",
        "",
    ]


def _torch_module(fns: list[ExportedFunction], names: str, source: str, target: str) -> str:
    bodies = {f.name: _body(f, keras=False) for f in fns}
    uses = "\n".join(s for b in bodies.values() for s in b)
    out = [*_docstring(_torch_head(fns, names, target), ""), source, "", "import torch"]
    if "F." in uses:
        out.append("import torch.nn.functional as F")
    out.append("from torch import nn")
    if target == "transformers":
        out.append("from transformers.activations import ACT2CLS, ACT2FN")
    out += ["", ""]
    if "_pdiv(" in uses:
        out += _helper(keras=False)
    for f in fns:
        out += _function(f, f"def {f.name}(x: torch.Tensor) -> torch.Tensor:", bodies[f.name])
        out += _torch_class(f)
    if target == "transformers":
        for f in fns:
            out += [
                f"ACT2CLS[{f.transformers_name!r}] = {f.class_name}",
                f"ACT2FN[{f.transformers_name!r}] = {f.class_name}",
            ]
    return "\n".join(out).rstrip() + "\n"


def _keras_module(fns: list[ExportedFunction], names: str, source: str) -> str:
    bodies = {f.name: _body(f, keras=True) for f in fns}
    head = (
        f"Keras 3 activation functions exported by actlab: {names}. Importing this module registers each with "
        f"Keras as 'actlab>NAME', so a model that uses one (keras.layers.Dense(64, activation={_example(fns).name})) "
        "saves as .keras and loads back with keras.saving.load_model. Any Keras backend."
    )
    out = [*_docstring(head, ""), source, "", "import keras", "from keras import ops", "", ""]
    if any("_pdiv(" in s for b in bodies.values() for s in b):
        out += _helper(keras=True)
    for f in fns:
        out.append(f"@keras.saving.register_keras_serializable(package={KERAS_PACKAGE!r}, name={f.name!r})")
        out += _function(f, f"def {f.name}(x):", ["x = ops.convert_to_tensor(x)", *bodies[f.name]])
    return "\n".join(out).rstrip() + "\n"


__all__ = ["to_code"]
