"""The ``actlab`` command line (:mod:`actlab.cli._main`): one entry point, one sub-command per task."""

from actlab.cli._main import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
