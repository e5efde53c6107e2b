"""Catalogue sub-commands: ``list``, ``show``, ``plot``, ``gallery``."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import torch

from .._errors import ActlabError
from ..catalogue import KINDS, REGISTRY, entries, format_spec
from ..catalogue.properties import value_and_derivative
from ..report.gallery import fmt_range, property_rows, yes_no

SHOW_POINTS = (-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0)


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def add(sub) -> None:
    p = sub.add_parser("list", help="list the activation functions", formatter_class=_formatter,
                       description="List the catalogue.\n\nExamples:\n  actlab list\n  actlab list --kind math\n"
                                   "  actlab list --format json > catalogue.json")
    p.add_argument("--kind", choices=KINDS, help="only entries of this kind")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="formula, properties, values and a plot of one function", formatter_class=_formatter,
                       description="Show one activation function: formula, properties, f and f' at a few points,\n"
                                   "and a PNG of f and f' on [-5, 5].\n\nExamples:\n  actlab show selu\n"
                                   "  actlab show 'leaky_relu(negative_slope=0.2)' --out leaky.png")
    p.add_argument("spec", help="a name or spec string, e.g. selu or 'elu(alpha=0.5)'")
    p.add_argument("--out", help="PNG to write (default: NAME.png in the current folder)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("plot", help="plot several functions on one figure", formatter_class=_formatter,
                       description="Plot several activation functions (left: f, right: f') on one figure.\n\n"
                                   "Example:\n  actlab plot relu selu swish mish --out shapes.png")
    p.add_argument("specs", nargs="+", help="names or spec strings")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--range", nargs=2, type=float, default=(-5.0, 5.0), metavar=("LO", "HI"), help="x range (default: -5 5)")
    p.add_argument("--no-derivative", action="store_true", help="plot f only")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("gallery", help="an HTML page with every function", formatter_class=_formatter,
                       description="Write an HTML gallery: every entry's plot, formula and properties.\n\n"
                                   "Example:\n  actlab gallery --out gallery/   # then open gallery/index.html")
    p.add_argument("--out", default="actlab-out/gallery", help="output folder (default: actlab-out/gallery)")
    p.add_argument("--kind", action="append", choices=KINDS, help="only these kinds (repeatable)")
    p.set_defaults(func=cmd_gallery)


def _writable(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ActlabError(f"cannot create folder {str(path.parent)!r}: {e.strerror}; choose another --out") from None
    if path.is_dir():
        raise ActlabError(f"{str(path)!r} is a folder; give a file name ending in .png")
    return path


def _num(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def cmd_list(args) -> int:
    rows = entries(args.kind)
    if args.format == "json":
        data = [{"name": e.name, "aliases": list(e.aliases), "kind": e.kind, "formula": e.formula, "note": e.note,
                 "reference": e.reference, "params": dict(e.params),
                 **{k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in e.properties().items()},
                 "range": [None if math.isinf(v) else v for v in e.range]} for e in rows]
        print(json.dumps(data, indent=1))
        return 0
    head = f"{'name':<20} {'kind':<10} {'range':<22} {'mono':<5} {'C1':<4} {'zc':<4} {'applies':<11} aliases"
    print(head)
    print("-" * len(head))
    for e in rows:
        print(f"{e.name:<20} {e.kind:<10} {fmt_range(e.range):<22} {yes_no(e.monotonic):<5} {yes_no(e.smooth):<4} "
              f"{yes_no(e.zero_centred):<4} {e.axis:<11} {', '.join(e.aliases)}")
    print(f"\n{len(rows)} functions. 'actlab show NAME' for one; 'actlab gallery' for all with plots.")
    return 0


def cmd_show(args) -> int:
    if args.spec.lower().endswith(".json") and Path(args.spec).is_file():  # best.json of 'actlab evolve'
        from ..evolve import best_specs

        specs = best_specs(args.spec)
        slots = "" if set(specs) == {"all"} else f" for the {', '.join(specs)} slots"
        print(f"{args.spec}: the best evolved function{'s' if len(specs) > 1 else ''}{slots}\n")
        for slot, spec in specs.items():
            stem = Path(args.out).with_suffix("") if args.out else Path(Path(args.spec).stem)
            out = str(stem) + ("" if slot == "all" else f"-{slot}") + ".png"
            if slot != "all":
                print(f"[{slot} slot]")
            _show(spec, out, args.no_plot)
            print()
        return 0
    return _show(args.spec, args.out, args.no_plot)


def _show(spec: str, out: str | None, no_plot: bool) -> int:
    entry, kwargs = REGISTRY.resolve(spec)
    label = format_spec(entry.name, kwargs)
    print(f"{label}  [{entry.kind}]" + (f"  aliases: {', '.join(entry.aliases)}" if entry.aliases else ""))
    print(f"  f(x) = {entry.formula}")
    print(f"  {entry.note}")
    print(f"  reference: {entry.reference}")
    for k, v in property_rows(entry):
        print(f"  {k + ':':<14} {v}")
    print(f"\n  {'x':>6}  {'f(x)':>12}  {'df/dx':>12}")
    x = torch.tensor(SHOW_POINTS, dtype=torch.float64)
    y, dy = value_and_derivative(entry, x, **kwargs)
    for xi, yi, di in zip(x.tolist(), y.tolist(), dy.tolist()):
        print(f"  {xi:>6.2f}  {_num(yi):>12}  {_num(di):>12}")
    if entry.axis == "dim":
        print("  (a function along a dimension: values are f([x, 0])[0])")
    if not no_plot:
        from ..report.plots import curve_data, draw_entry

        path = _writable(Path(out or re.sub(r"[^\w.-]+", "_", entry.name).strip("_")[:100] + ".png"))  # expr: names hold / * ( )
        draw_entry(curve_data(spec), path)
        print(f"\nplot written to {path.resolve()}")
    return 0


def cmd_plot(args) -> int:
    from ..report.plots import curve_data, draw_many

    lo, hi = args.range
    if not lo < hi:
        raise ActlabError(f"--range needs LO < HI, got {lo} {hi}")
    datas = [curve_data(s, lo, hi) for s in args.specs]
    out = _writable(Path(args.out))
    draw_many(datas, out, derivative=not args.no_derivative)
    print(f"plot of {len(datas)} function(s) written to {out.resolve()}")
    return 0


def cmd_gallery(args) -> int:
    from ..report.gallery import build_gallery

    out = Path(args.out)
    _writable(out / "index.html")
    page = build_gallery(out, kinds=args.kind)
    print(f"gallery of {len(entries()) if not args.kind else sum(e.kind in args.kind for e in entries())} functions "
          f"written to {page.resolve()}", file=sys.stdout)
    return 0
