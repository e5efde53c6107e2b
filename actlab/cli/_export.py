"""``actlab export``: an activation function for Keras, transformers, timm, ONNX or plain PyTorch."""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
from pathlib import Path

from actlab._errors import ActlabError
from actlab._io import write_text_atomic
from actlab.interop import functions, to_code, to_onnx
from actlab.studies.evolve import SLOT_NAMES

TARGETS = ("code", "keras", "transformers", "timm", "onnx")
RANK = inspect.signature(to_onnx).parameters["rank"].default

DESCRIPTION = f"""\
Use an activation function found in actlab in another stack. SPEC_OR_BEST_JSON is a catalogue
spec ('mish', 'leaky_relu(negative_slope=0.1)'), an expression ('expr:max(x, x*tanh(x))') or the
best.json of 'actlab evolve' (all its slots, or --slot).

--to code          print a standalone PyTorch module: a def and an nn.Module class per function,
                   using only torch (paste it into a file; no actlab needed)
--to keras         write a Python module of keras.ops functions; importing it registers each with
                   Keras 3 as 'actlab>NAME' (any backend), so models that use one save as .keras
                   and load back
--to transformers  write a Python module; importing it registers 'actlab:NAME' with Hugging Face
                   transformers, so config.hidden_act = 'actlab:NAME' builds models with it
--to timm          write a Python module with an nn.Module class for
                   timm.create_model(..., act_layer=CLASS)
--to onnx          write the function alone as an ONNX model: input x, output y, float32 tensors of
                   --rank dimensions (default {RANK}), each of any size

The modules need only their own library (and torch where it runs), not actlab. NAME is --name, or for an
expression 'expr_' and 8 hex digits of its hash, for a catalogue spec the spec as a Python name.
The files go to --out, by default NAME_keras.py, NAME_transformers.py, NAME_timm.py or NAME.onnx
in the current folder.

Examples:
  actlab export mish --to code > my_mish.py
  actlab export 'leaky_relu(negative_slope=0.1)' --to keras --out my_act.py
  actlab export evolve-out/best.json --to transformers --name evolved
  actlab export 'expr:max(x, x*tanh(x))' --to onnx --out act.onnx
"""


def add(sub) -> None:
    p = sub.add_parser(
        "export",
        help="use a function in Keras, transformers, timm, ONNX or plain PyTorch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "source", metavar="SPEC_OR_BEST_JSON", help="a spec, an expr: spec, or the best.json of actlab evolve"
    )
    p.add_argument("--to", required=True, choices=TARGETS, help="the target (see above)")
    p.add_argument("--out", help="file to write (code: printed unless given)")
    p.add_argument("--name", help="the Python name of the function (NAME_SLOT for each slot of a best.json)")
    p.add_argument(
        "--slot",
        help=f"only this slot of a best.json ({', '.join(SLOT_NAMES)}; input, hidden_1, ... where the "
        "run learned constants per layer); onnx needs one where there are several",
    )
    p.add_argument("--rank", type=int, help=f"onnx: the number of dimensions of x (default {RANK})")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    if args.rank is not None and args.to != "onnx":
        raise ActlabError("--rank is for --to onnx")
    fns = functions(args.source, name=args.name, slot=args.slot)
    stem = fns[0].name if len(fns) == 1 else args.name or "evolved_" + _hash("|".join(f.spec for f in fns))
    if args.to == "onnx":
        out = _file(args.out or f"{stem}.onnx", ".onnx")
        to_onnx(args.source, out, slot=args.slot, **({"rank": args.rank} if args.rank is not None else {}))
        print(f"wrote {out}: input 'x', output 'y' (float32), e.g. onnxruntime.InferenceSession('{out}')")
        return 0
    code = to_code(args.source, "torch" if args.to == "code" else args.to, name=args.name, slot=args.slot)
    if args.to == "code" and args.out is None:
        print(code, end="")
        return 0
    out = _file(args.out or f"{stem}_{args.to}.py", ".py")
    try:
        write_text_atomic(out, code)
    except OSError as e:
        raise ActlabError(f"cannot write {str(out)!r} ({e.strerror or e}); choose another --out") from None
    module, f = out.stem, next((g for g in fns if g.slot == "hidden"), fns[0])  # the hidden layers' function
    use = {
        "code": f"from {module} import {f.class_name}",
        "keras": f"import {module}; keras.layers.Dense(64, activation={module}.{f.name})",
        "transformers": f"import {module}; BertConfig(hidden_act={f.transformers_name!r})",
        "timm": f"import {module}; timm.create_model('resnet18', pretrained=False, act_layer={module}.{f.class_name})",
    }[args.to]
    print(f"wrote {out} ({', '.join(g.name + (f' [{g.slot}]' if g.slot else '') for g in fns)}); use it: {use}")
    return 0


def _file(out: str, suffix: str) -> Path:
    """``out`` as a file with ``suffix``, its folder created; a one-line error for a folder or another suffix."""
    path = Path(out)
    try:
        if out.endswith(("/", os.sep)) or path.is_dir():
            raise ActlabError(f"--out {out[:200]!r} is a folder; give a file name ending in {suffix}")
        if path.suffix.lower() != suffix:
            raise ActlabError(
                f"--out {out[:200]!r} must end in {suffix}" + (" (a module to import)" if suffix == ".py" else "")
            )
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a name too long, a file where a folder should be, no permission
        raise ActlabError(f"cannot write {str(path)[:200]!r} ({e.strerror or e}); choose another --out") from None
    return path


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]
