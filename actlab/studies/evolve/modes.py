"""The modes of an evolution and the activation slots each one fills (Lapid & Sipper, GECCO 2022).

* ``single``: one function, slot ``all``, for every layer but the output (which stays linear, so
  that the model returns logits, as everywhere in actlab);
* ``triple``: one individual holds three functions, for the ``input``, ``hidden`` and ``output``
  slots (the output function is applied to the logits);
* ``coevolution``: three populations, one per slot.

On a model of the user's (``--model file.py:build``), ``triple`` and ``coevolution`` fill the
model's own slot groups instead (``--slots``, else one per activation found; from 2 to
:data:`MAX_GROUPS`): one function per group, in one individual or one population each. The run's
config holds them as ``groups`` (:func:`check_groups`).

Here, and not beside the configuration, so that reading a ``best.json`` needs no DEAP. Slot names
also come from files: they are checked against these before they become part of a file name.
"""

from __future__ import annotations

import re
from typing import Any

from actlab._errors import ActlabError

SLOTS = ("input", "hidden", "output")
MODE_SLOTS = {"single": ("all",), "triple": SLOTS, "coevolution": SLOTS}
MODES = tuple(MODE_SLOTS)
SLOT_NAMES = ("all", *SLOTS)
MAX_GROUPS = 8  # a user's slot groups that triple and coevolution evolve a function each for
_GROUP = re.compile(r"^\w[\w.-]{0,99}$")  # a slot of a user's model: a module name (features.1) or a word


def check_groups(value: Any, where: str) -> tuple[str, ...]:
    """A user's model's slot groups, checked: 2 to :data:`MAX_GROUPS` distinct slot names, none of
    them ``all``; ``where`` names the file or the run in the one-line error."""
    if (
        not isinstance(value, (list, tuple))
        or not 2 <= len(value) <= MAX_GROUPS
        or len(set(map(str, value))) != len(value)
        or not all(isinstance(g, str) and _GROUP.match(g) and g != "all" for g in value)
    ):
        text = ", ".join(map(repr, value)) if isinstance(value, (list, tuple)) else repr(value)
        raise ActlabError(
            f"{where} has the slot groups {text[:60] + '...' if len(text) > 60 else text}; a model's groups are "
            f"2 to {MAX_GROUPS} distinct slot names other than 'all'"
        )
    return tuple(value)


__all__ = ["MAX_GROUPS", "MODES", "MODE_SLOTS", "SLOTS", "SLOT_NAMES", "check_groups"]
