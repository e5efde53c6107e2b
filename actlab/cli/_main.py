"""The ``actlab`` command: one entry point, one sub-command per task.

Every sub-command has ``--help`` with an example. Mistakes a user can fix end with one line
``actlab: error: ...`` and exit status 2; no traceback.

A sub-command's options are declared when it is used (:data:`COMMANDS` says where): ``actlab
--help`` and ``actlab list`` import nothing of the studies and read none of their defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from typing import NoReturn

from actlab._errors import ActlabError, redact
from actlab._processes import start_server

# name -> ("module:function" that declares its options and sets its `func`, one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("actlab.cli._catalogue:add_list", "list the activation functions"),
    "show": ("actlab.cli._catalogue:add_show", "formula, properties, values and a plot of one function"),
    "plot": ("actlab.cli._catalogue:add_plot", "plot several functions on one figure"),
    "gallery": ("actlab.cli._catalogue:add_gallery", "an HTML page with every function"),
    "compare": ("actlab.cli._compare:add", "compare activation functions on a dataset and model, over several seeds"),
    "search": ("actlab.cli._search:add", "search the best activation for every layer with Optuna (à la carte)"),
    "evolve": ("actlab.cli._evolve:add", "evolve new activation functions with genetic programming (DEAP)"),
    "screen": (
        "actlab.cli._screen:add",
        "rank activation functions without training them, then train the promising ones",
    ),
    "export": ("actlab.cli._export:add", "use a function in Keras, transformers, timm, ONNX or plain PyTorch"),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """How every sub-command's ``--help`` is laid out: the description as written (examples keep
    their lines), option help wrapped between words only, so that a name (``fashion-mnist``,
    ``leaky_relu``, ``--final-seeds``) is never split across two lines."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=30)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, declare: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._declare = declare  # adds the options on first use (see _Commands)
        # A word that starts with '-' and then a digit, '.', 'inf' or 'nan' is a value (--lr -1e-3,
        # --budget -5m, --range -5e-1 1), never an option: the option's own check then says what is
        # wrong with it, instead of argparse's "expected one argument".
        self._negative_number_matcher = re.compile(r"^-(\.?[0-9]|inf|nan)", re.IGNORECASE)

    def declare(self) -> argparse.ArgumentParser:
        """Add the sub-command's options, once."""
        declare, self._declare = self._declare, None
        if declare is not None:
            declare(self)
        return self

    def error(self, message: str):  # one line, exit 2 (argparse prints usage first; keep it short)
        self.exit(2, f"actlab: error: {message} (see '{self.prog} --help')\n")


class _Commands(argparse._SubParsersAction):
    """The sub-commands: the one chosen has its options declared before it parses the rest."""

    def __call__(self, parser, namespace, values, option_string=None):
        chosen = self._name_parser_map.get(values[0])
        if isinstance(chosen, _Parser):
            if _asks_for_workers(values[1:]):
                start_server()  # the workers' server imports torch while this process does (below)
            chosen.declare()
        super().__call__(parser, namespace, values, option_string)


def _asks_for_workers(argv: Sequence[str]) -> bool:
    """Whether a sub-command's arguments ask for local worker processes (``--workers``/``--n-jobs``
    above 1, no ``--dask``), read before its options are declared: declaring them imports the
    study, torch included, which the workers' server can import at the same time. A wrong value
    is left to the command's own parser to report."""
    early = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    early.add_argument("--workers", "--n-jobs", type=int, default=1)
    early.add_argument("--dask")
    try:
        known, _ = early.parse_known_args(list(argv))
    except (argparse.ArgumentError, SystemExit):
        return False
    return known.workers > 1 and not known.dask


def _declarer(where: str) -> Callable[[argparse.ArgumentParser], None]:
    module, function = where.split(":")
    return lambda parser: getattr(importlib.import_module(module), function)(parser)


def build_parser(lazy: bool = False) -> argparse.ArgumentParser:
    """The ``actlab`` parser; ``lazy``: each sub-command's options declared only when it is used."""
    parser = _Parser(
        prog="actlab",
        description="actlab: an activation-function laboratory for PyTorch.",
        epilog="Example: actlab show selu",
    )
    parser.add_argument("--version", action="version", version=f"actlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, action=_Commands)
    for name, (where, line) in COMMANDS.items():
        p = sub.add_parser(name, help=line, formatter_class=HelpFormatter, declare=_declarer(where))
        if not lazy:
            p.declare()
    return parser


def _version() -> str:
    from actlab import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) in this process; returns its exit status."""
    return _main(argv)


def _main(argv: Sequence[str] | None, program: bool = False) -> int:
    # a file name that is not UTF-8 (or any text the terminal cannot show) is printed escaped, never a crash;
    # a stream that cannot be reconfigured stays as it is
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.reconfigure(errors="backslashreplace")
    with _imports_frozen() if program else contextlib.nullcontext():
        parser = build_parser(lazy=True)
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        print("actlab: error: no command given; choose one of the commands above, e.g. 'actlab list'", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except ActlabError as e:
        print(f"actlab: error: {redact(e)}", file=sys.stderr)  # a URL's password is never printed
        return 2
    except KeyboardInterrupt:
        print("actlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `actlab list | head`
        return 0


@contextlib.contextmanager
def _imports_frozen() -> Iterator[None]:
    """In the ``actlab`` program: the chosen command's declaration imports its study, torch
    included, with the garbage collector off (loading torch ran two or three full collections,
    0.2-0.3 s), and what it imported is then frozen out of the collector's sight, so that a full
    collection during the study walks only the study's own objects. Not in a caller's process
    (:func:`main`), whose objects of the moment would never be collected again."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def run() -> NoReturn:
    """The ``actlab`` program: :func:`main`, its imports frozen (:func:`_imports_frozen`), and then
    the process ends. Before Python tears it down, every object is moved out of the garbage
    collector's sight (``gc.freeze``): its last collection would walk the objects of torch, sympy
    and the study, 0.5-0.8 s at the end of every command. Python still closes files and runs every
    exit handler."""
    code = _main(None, program=True)
    gc.freeze()
    sys.exit(code)


__all__ = ["COMMANDS", "HelpFormatter", "build_parser", "main", "run"]
