"""The ``actlab`` command: one entry point, one sub-command per task.

Every sub-command has ``--help`` with an example. Mistakes a user can fix end with one line
``actlab: error: ...`` and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence

from actlab._errors import ActlabError, redact
from actlab.cli import _catalogue, _compare, _evolve, _export, _screen, _search

# Each module adds its sub-commands: add(subparsers) -> None, setting `func` on each parser.
_COMMANDS: list[Callable] = [_catalogue.add, _compare.add, _search.add, _evolve.add, _screen.add, _export.add]


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A word that starts with '-' and then a digit, '.', 'inf' or 'nan' is a value (--lr -1e-3,
        # --budget -5m, --range -5e-1 1), never an option: the option's own check then says what is
        # wrong with it, instead of argparse's "expected one argument".
        self._negative_number_matcher = re.compile(r"^-(\.?[0-9]|inf|nan)", re.IGNORECASE)

    def error(self, message: str):  # one line, exit 2 (argparse prints usage first; keep it short)
        self.exit(2, f"actlab: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="actlab",
        description="actlab: an activation-function laboratory for PyTorch.",
        epilog="Example: actlab show selu",
    )
    parser.add_argument("--version", action="version", version=f"actlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in _COMMANDS:
        add(sub)
    return parser


def _version() -> str:
    from actlab import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    try:  # a file name that is not UTF-8 (or any text the terminal cannot show) is printed escaped, never a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError, OSError):  # a stream that cannot be reconfigured
        pass
    parser = build_parser()
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
