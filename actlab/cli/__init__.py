"""The ``actlab`` command line (:mod:`actlab.cli._main`): one entry point, one sub-command per task."""

from actlab.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
