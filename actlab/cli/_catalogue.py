"""Catalogue sub-commands: ``list``, ``show``, ``plot``, ``gallery`` (``add_NAME`` declares each one's options)."""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._io import json_text
from actlab.catalogue import KINDS, REGISTRY, entries, format_spec, get
from actlab.catalogue.properties import value_and_derivative
from actlab.report.gallery import fmt_range, property_rows, yes_no

SHOW_POINTS = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0)


def add_list(p) -> None:
    p.description = (
        "List the catalogue.\n\nExamples:\n  actlab list\n  actlab list --kind math\n"
        "  actlab list --format json > catalogue.json"
    )
    p.add_argument("--kind", choices=KINDS, help="only entries of this kind")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_list)


def add_show(p) -> None:
    p.description = (
        "Show one activation function: formula, properties, f and f' at a few points,\n"
        "and a PNG of f and f' on [-5, 5].\n\nExamples:\n  actlab show selu\n"
        "  actlab show 'leaky_relu(negative_slope=0.2)' --out leaky.png"
    )
    p.add_argument("spec", help="a name or spec string, e.g. selu or 'elu(alpha=0.5)'")
    p.add_argument("--out", help="PNG to write (default: NAME.png in the current folder)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.set_defaults(func=cmd_show)


def add_plot(p) -> None:
    p.description = (
        "Plot several activation functions (left: f, right: f') on one figure.\n\n"
        "Example:\n  actlab plot relu selu swish mish --out shapes.png"
    )
    p.add_argument("specs", nargs="+", help="names or spec strings")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument(
        "--range", nargs=2, type=float, default=(-5.0, 5.0), metavar=("LO", "HI"), help="x range (default: -5 5)"
    )
    p.add_argument("--no-derivative", action="store_true", help="plot f only")
    p.set_defaults(func=cmd_plot)


def add_gallery(p) -> None:
    p.description = (
        "Write an HTML gallery: every entry's plot, formula and properties.\n\n"
        "Example:\n  actlab gallery --out gallery/   # then open gallery/index.html"
    )
    p.add_argument("--out", default="actlab-out/gallery", help="output folder (default: actlab-out/gallery)")
    p.add_argument("--kind", action="append", choices=KINDS, help="only these kinds (repeatable)")
    p.set_defaults(func=cmd_gallery)


def _writable(path: str | Path, image: bool = True) -> Path:
    """``path`` with its folder created, or a one-line error (a folder, a name ending in '/', an
    image format matplotlib cannot write, a folder that cannot be made)."""
    folder = isinstance(path, str) and path.endswith(("/", os.sep))  # Path() drops a trailing '/'
    path = Path(path)
    if folder or path.is_dir() or not path.name or path.name in (".", ".."):
        raise ActlabError(f"{str(path)!r} is a folder; give a file name ending in .png")
    if image and path.suffix:
        from matplotlib.backend_bases import FigureCanvasBase

        kinds = FigureCanvasBase.get_supported_filetypes()
        if path.suffix[1:].lower() not in kinds:
            raise ActlabError(
                f"cannot write a {path.suffix!r} image ({str(path)!r}); give a file name ending in .png "
                "(or another image format matplotlib writes: .pdf, .svg, .jpg, ...)"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ActlabError(
            f"cannot create folder {str(path.parent)!r}: {e.strerror or e}; choose another --out"
        ) from None
    return path


def _written(write: Callable[[], Path], path: Path) -> Path:
    """``write()``, with a file system that refuses it (read-only, full, no permission) as one line."""
    try:
        return write()
    except OSError as e:
        raise ActlabError(f"cannot write {str(path)!r} ({e.strerror or e}); choose another --out") from None


def _file_stem(name: str) -> str:
    """``name`` as one plain file-name part: letters, digits, '_', '.', '-', never '.' or '..'."""
    stem = re.sub(r"[^\w.-]+", "_", name, flags=re.ASCII).strip("_.")[:100]
    return stem or "plot"


def _num(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def cmd_list(args) -> int:
    rows = entries(args.kind)
    if args.format == "json":
        data = [
            {
                "name": e.name,
                "aliases": list(e.aliases),
                "kind": e.kind,
                "formula": e.formula,
                "note": e.note,
                "reference": e.reference,
                "params": dict(e.params),
                **{k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in e.properties().items()},
                "range": [None if math.isinf(v) else v for v in e.range],
            }
            for e in rows
        ]
        print(json_text(data))  # strict JSON: a range without an end is null
        return 0
    head = f"{'name':<20} {'kind':<10} {'range':<22} {'mono':<5} {'C1':<4} {'zc':<4} {'applies':<11} aliases"
    print(head)
    print("-" * len(head))
    for e in rows:
        print(
            f"{e.name:<20} {e.kind:<10} {fmt_range(e.range):<22} {yes_no(e.monotonic):<5} {yes_no(e.smooth):<4} "
            f"{yes_no(e.zero_centred):<4} {'features' if e.mixes_features else e.axis:<11} {', '.join(e.aliases)}"
        )
    print(f"\n{len(rows)} functions. 'actlab show NAME' for one; 'actlab gallery' for all with plots.")
    return 0


def cmd_show(args) -> int:
    if args.spec.lower().endswith(".json"):  # best.json (or results.json) of 'actlab evolve'
        from actlab.studies.evolve import SLOT_NAMES, best_specs, distinct, slots_text

        if not Path(args.spec).is_file():
            raise ActlabError(
                f"no file {args.spec!r}; give the best.json of an 'actlab evolve' run, or a function name"
            )
        specs = best_specs(args.spec)  # as tested: per slot, or per layer with its learned constants
        if args.out:  # one PNG per function, next to --out and named after its (first) slot
            out = Path(args.out) if args.no_plot else _writable(args.out)
            folder, stem, suffix = out.parent, _file_stem(out.stem), out.suffix or ".png"
        else:
            folder, stem, suffix = Path("."), _file_stem(Path(args.spec).stem), ".png"
        layers = not set(specs) <= set(SLOT_NAMES)  # constants learned per layer: those that learned the same, once
        groups = distinct(specs) if layers else [([slot], spec) for slot, spec in specs.items()]
        slots = "" if set(specs) == {"all"} else f" for the {slots_text(list(specs))} slots"
        print(f"{args.spec}: the best evolved function{'s' if len(groups) > 1 else ''}{slots}\n")
        for names, spec in groups:
            if not all(_SLOT.fullmatch(n) for n in names):  # never a path from the file: best_specs checks them
                raise ActlabError(
                    f"unknown slot {names[0][:20]!r} in {args.spec!r}; slots are all, input, hidden, hidden_N, "
                    "output or a model's slot names"
                )
            out = folder / f"{stem}{'' if names == ['all'] else '-' + names[0]}{suffix}"
            if names != ["all"]:
                print(f"[{slots_text(names)} slot{'s' if len(names) > 1 else ''}]")
            _show(spec, str(out), args.no_plot)
            print()
        return 0
    return _show(args.spec, args.out, args.no_plot)


_SLOT = re.compile(r"\w[\w.-]{0,99}")  # all, input, hidden_N, output, a user's model's slot group: no path


def _usable(spec: str) -> tuple:
    """The entry and arguments of ``spec``, refused in one line as everywhere in actlab when the
    arguments give no finite values (``snake(alpha=0)`` divides by 0)."""
    resolved = REGISTRY.resolve(spec)
    get(spec)  # the library's check: the function runs on a probe and gives finite values
    return resolved


def _show(spec: str, out: str | None, no_plot: bool) -> int:
    entry, kwargs = _usable(spec)
    path = None if no_plot else _writable(out or _file_stem(entry.name) + ".png")  # expr: names hold / * ( )
    label = format_spec(entry.name, kwargs)
    print(f"{label}  [{entry.kind}]" + (f"  aliases: {', '.join(entry.aliases)}" if entry.aliases else ""))
    print(f"  f(x) = {entry.formula}")
    print(f"  {entry.note}")
    print(f"  reference: {entry.reference}")
    for k, v in property_rows(entry):
        if k == "parameters" and kwargs:  # the values given, then the defaults the table lists
            v = f"{', '.join(f'{n}={x!r}' for n, x in {**entry.params, **kwargs}.items())} (defaults: {v})"
        print(f"  {k + ':':<14} {v}")
    print(f"\n  {'x':>6}  {'f(x)':>12}  {'df/dx':>12}")
    x = torch.tensor(SHOW_POINTS, dtype=torch.float64)
    y, dy = value_and_derivative(entry, x, **kwargs)
    for xi, yi, di in zip(x.tolist(), y.tolist(), dy.tolist(), strict=True):
        print(f"  {xi:>6.2f}  {_num(yi):>12}  {_num(di):>12}")
    if entry.axis == "dim":
        print("  (a function along a dimension: values are f([x, 0])[0])")
    if not no_plot:
        from actlab.report.plots import curve_data, draw_entry

        data = curve_data(spec)
        _written(lambda: draw_entry(data, path), path)
        print(f"\nplot written to {path.resolve()}")
    return 0


def cmd_plot(args) -> int:
    from actlab.report.plots import curve_data, draw_many

    lo, hi = (V.number(f"--range {which}", v, -1e6, 1e6) for which, v in zip(("LO", "HI"), args.range, strict=True))
    if not lo < hi:
        raise ActlabError(f"--range needs LO < HI, got {lo} {hi}")
    for s in args.specs:
        _usable(s)
    datas = [curve_data(s, lo, hi) for s in args.specs]
    out = _writable(args.out)
    _written(lambda: draw_many(datas, out, derivative=not args.no_derivative), out)
    print(f"plot of {len(datas)} function(s) written to {out.resolve()}")
    return 0


def cmd_gallery(args) -> int:
    from actlab.report.gallery import build_gallery

    if not args.out.strip():
        raise ActlabError("--out is empty; give the folder to write the gallery to, e.g. --out gallery")
    out = Path(args.out)
    _writable(out / "index.html", image=False)
    page = _written(lambda: build_gallery(out, kinds=args.kind), out)
    print(
        f"gallery of {len(entries()) if not args.kind else sum(e.kind in args.kind for e in entries())} functions "
        f"written to {page.resolve()}",
        file=sys.stdout,
    )
    return 0
