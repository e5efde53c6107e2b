"""The modes of an evolution and the activation slots each one fills (Lapid & Sipper, GECCO 2022).

* ``single``: one function, slot ``all``, for every layer but the output (which stays linear, so
  that the model returns logits, as everywhere in actlab);
* ``triple``: one individual holds three functions, for the ``input``, ``hidden`` and ``output``
  slots (the output function is applied to the logits);
* ``coevolution``: three populations, one per slot.

Here, and not beside the configuration, so that reading a ``best.json`` needs no DEAP. Slot names
also come from files: they are checked against these before they become part of a file name.
"""

from __future__ import annotations

SLOTS = ("input", "hidden", "output")
MODE_SLOTS = {"single": ("all",), "triple": SLOTS, "coevolution": SLOTS}
MODES = tuple(MODE_SLOTS)
SLOT_NAMES = ("all", *SLOTS)

__all__ = ["MODES", "MODE_SLOTS", "SLOTS", "SLOT_NAMES"]
