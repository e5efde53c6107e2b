"""One way to settle a study's settings: defaults < preset < checkpoint < command line.

The defaults live in the study's config dataclass (``CompareConfig``, ``SearchConfig``,
``EvolveConfig``) and nowhere else. A command maps its option names to paths in the config's
dict (``"epochs" -> "train.epochs"``); an option the user did not type is None and leaves the
layer below in place.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def get_path(d: Mapping[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(d, Mapping) or part not in d:
            return None
        d = d[part]
    return d


def set_path(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        d = d.setdefault(part, {})
    if value is None:
        d.pop(last, None)
    else:
        d[last] = value


def defaults(config: Any, names: Mapping[str, str]) -> dict[str, Any]:
    """Option name -> default, read from a config object (its ``to_dict()``) at ``names``' paths."""
    d = config.to_dict()
    return {name: get_path(d, path) for name, path in names.items()}


def merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Flat settings, later layers winning where they hold a value (None: not given)."""
    out: dict[str, Any] = {}
    for layer in layers:
        out.update({k: v for k, v in (layer or {}).items() if v is not None})
    return out


def given(args: Any, names: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``names`` the user typed (argparse leaves the others None)."""
    return {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}


def layered(base: Mapping[str, Any], names: Mapping[str, str], *layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """``base`` (a config dict: the defaults, or a checkpoint's config) with each layer's options
    written over it in turn, later layers winning."""
    d = copy.deepcopy(dict(base))
    for layer in layers:
        for name, value in (layer or {}).items():
            set_path(d, names[name], value)
    return d


def show(value: Any) -> str:
    """A default as help texts print it."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)
