"""How two activation functions differ in shape, from the surrogate's curve features: ``f`` and
``f'`` at the 1,000 N(0, 1) draws of :func:`~actlab.surrogate.features.draws`, the inputs a
standardised layer feeds them at initialisation. Three numbers per function:

* ``signal``: the root mean square of ``f``, how much of a unit-variance input it passes on;
* ``gradient``: the root mean square of ``f'``, how much gradient it passes back;
* ``flat``: the share of draws where ``|f'| < 0.01`` (the diagnostics' saturation threshold),
  where it passes none.

They are exact numbers of the functions themselves (no training, no seeds), so a difference is
said when it is large: one RMS at least ``MIN_RATIO`` times the other, or the flat shares
``MIN_FLAT_GAP`` apart. A description of where the two functions start from, not a test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from actlab.execution import BAD_UNIT
from actlab.surrogate.features import curve_at_draws
from actlab.training.diagnostics import SATURATED

MIN_RATIO = 1.5
MIN_FLAT_GAP = 0.05


def shape(spec: str) -> dict[str, float]:
    """``signal``, ``gradient`` and ``flat`` of ``spec`` (see the module docstring)."""
    y, dy = curve_at_draws(spec)
    return {
        "signal": float(y.square().mean().sqrt()),
        "gradient": float(dy.square().mean().sqrt()),
        "flat": float((dy.abs() < SATURATED).double().mean()),
    }


def shape_sentences(a_plan: Any, b_plan: Any, a: str, b: str) -> list[str]:
    """Sentences on how ``a``'s functions differ in shape from ``b``'s, slot by slot (plans: a spec,
    or slot -> spec; slots with the same pair of functions said once; the output slot, logits,
    left out). Nothing for a pair whose curve cannot be drawn, or that differs too little."""
    pairs: dict[tuple[str, str], list[str]] = {}
    for slot, (fa, fb) in _slots(a_plan, b_plan).items():
        if slot != "output" and fa != fb:
            pairs.setdefault((fa, fb), []).append(slot)
    out = []
    for (fa, fb), slots in pairs.items():
        try:
            sa, sb = shape(fa), shape(fb)
        except BAD_UNIT:  # a curve that cannot be drawn (a user's function that fails): nothing to say
            continue
        said = _differences(sa, sb, a, b)
        if said:
            where = "" if set(slots) in ({"all"}, {"input", "hidden"}) else f" ({', '.join(slots)})"
            out.append(f"on N(0, 1) inputs{where}: " + "; ".join(said) + ".")
    return out


def _slots(a_plan: Any, b_plan: Any) -> dict[str, tuple[str, str]]:
    if isinstance(a_plan, str) and isinstance(b_plan, str):
        return {"all": (a_plan, b_plan)}
    a = a_plan if isinstance(a_plan, Mapping) else dict.fromkeys(b_plan, a_plan)
    b = b_plan if isinstance(b_plan, Mapping) else dict.fromkeys(a, b_plan)
    return {s: (str(a[s]), str(b[s])) for s in a if s in b}


def _differences(sa: Mapping[str, float], sb: Mapping[str, float], a: str, b: str) -> list[str]:
    said = []
    for key, what in (("signal", "passes on a signal of RMS"), ("gradient", "passes back a gradient of RMS")):
        va, vb = sa[key], sb[key]
        ratio = math.inf if min(va, vb) == 0 else max(va, vb) / min(va, vb)
        if ratio >= MIN_RATIO and max(va, vb) > 0:
            said.append(f"{a} {what} {va:.2f}, {b} {vb:.2f}")
    if abs(sa["flat"] - sb["flat"]) >= MIN_FLAT_GAP:
        flat = f"{a} passes no gradient (|f'| < {SATURATED:g}) at {sa['flat']:.0%} of them"
        said.append(f"{flat}, {b} at {sb['flat']:.0%}")
    return said


__all__ = ["MIN_FLAT_GAP", "MIN_RATIO", "shape", "shape_sentences"]
