"""The keyword arguments of :func:`actlab.compare` and the other study functions: the command
line's long options, spelled with ``_`` (``batch_size=32`` is ``--batch-size 32``), read from the
study's declared options, so that an option the command line gains is a keyword at once.

A keyword left out, or given as None, keeps the command's default (its config dataclass's). A
flag is True or False. A string given where the option reads a number or a list is read as the
command line reads it (``budget="60m"``, ``unary="tanh,sin"``); a list or number is taken as is,
and a path (``out=pathlib.Path(...)``) as its text. A repeatable ``NAME=VALUE`` option
(``model_arg``, ``data_arg``) takes a dict or, as the command line, ``"NAME=VALUE"`` strings.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Mapping
from typing import Any

from actlab._errors import ActlabError
from actlab.api._options import Option, Study, add_options, key_value


def keywords(study: Study) -> dict[str, Option]:
    """Every keyword of ``study`` (each long option, older spellings included) -> its option."""
    return {
        flag.lstrip("-").replace("-", "_"): option
        for _, group in study.groups
        for option in group
        if option.name not in study.without
        for flag in option.flags
    }


def arguments(study: Study, function: str, options: Mapping[str, Any]) -> argparse.Namespace:
    """The command line's parsed arguments for ``options``: its defaults, then the keywords given."""
    parser = argparse.ArgumentParser(prog=function, add_help=False)
    add_options(parser, study)
    args = parser.parse_args([])
    known = keywords(study)
    for key, value in options.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; see help(actlab.{study.name})"
            raise ActlabError(f"{function}() has no option {key!r}{hint}")
        value = _value(known[key], key, value) if value is not None else None
        if value is not None:
            setattr(args, known[key].name, value)
    return args


def _value(option: Option, key: str, value: Any) -> Any:
    """``value`` as the command line would have stored it for ``option``."""
    if option.flag:
        if not isinstance(value, bool):
            raise ActlabError(f"{key} is True or False, got {value!r}")
        return (True if option.const is None else option.const) if value else None
    if option.pairs:
        return _pairs(key, value)
    if isinstance(value, os.PathLike) and option.type is str:  # out=tmp_path / "run"
        value = os.fspath(value)
    if isinstance(value, str) and option.type not in (None, str):
        try:
            value = option.type(value)
        except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
            raise ActlabError(f"{key}: {e}") from None
    if option.choices is not None:
        choices = list(option.choices())
        if value not in choices:
            close = difflib.get_close_matches(str(value), choices, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ActlabError(f"{key} is one of {', '.join(map(str, choices))}, got {value!r}{hint}")
    return value


def _pairs(key: str, value: Any) -> dict[str, Any]:
    """A repeatable ``KEY=VALUE`` option: a dict (``model_arg={"width": 8}``), or what the command
    line takes: one ``"width=8"`` or a list of them."""
    if isinstance(value, Mapping):
        bad = [k for k in value if not (isinstance(k, str) and k.isidentifier())]
        if bad:
            raise ActlabError(f"{key}: the names must be Python names, got {bad[0]!r}")
        return dict(value)
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise ActlabError(f'{key} is a dict or "NAME=VALUE" strings, e.g. {key}={{"width": 8}}; got {value!r}')
    try:
        return dict(key_value(x) for x in items)
    except argparse.ArgumentTypeError as e:
        raise ActlabError(f"{key}: {e}") from None


__all__ = ["arguments", "keywords"]
