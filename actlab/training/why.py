"""Why one activation beats another, in words, from the per-slot diagnostics both measured.

Both sides trained with the same seeds; each run's diagnostics (:mod:`actlab.training.diagnostics`:
dead units, saturation, effective rank, gradient norms into each slot's layer) are compared slot
by slot. A measure counts as a difference when it is large in absolute terms (``MIN_GAP``: 5
points of a fraction, or a gradient norm 1.5 times the other) and large against the spread over
seeds (means ``MIN_EFFECT`` pooled standard deviations apart). The largest differences, by that
standardised size, are said in sentences, each with how many seeds agree (pairs of runs with
the same seed). It describes; it tests nothing: a difference here is a lead to follow, not a cause.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Diagnostics = Mapping[str, Mapping[str, float]]  # slot -> measure -> value, one run

MIN_EFFECT = 1.0  # means at least this many pooled standard deviations apart
MIN_GAP = {"dead": 0.05, "saturated": 0.05, "effective_rank": 0.05}  # fractions: absolute gap
MIN_RATIO = 1.5  # gradient norms: one at least this many times the other
MEASURES = ("dead", "saturated", "effective_rank", "grad_norm_first", "grad_norm_last")


def _values(runs: Sequence[Diagnostics], slot: str, key: str) -> list[float]:
    values = [r[slot].get(key) if slot in r else None for r in runs]
    return [float(v) if isinstance(v, (int, float)) else math.nan for v in values]  # saved NaN reads as None


def _scale(key: str, v: np.ndarray) -> np.ndarray:
    """Gradient norms compared on a log scale (a ratio), fractions as they are."""
    if key.startswith("grad_norm"):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log10(v), np.nan)
    return v


def differences(a: Sequence[Diagnostics], b: Sequence[Diagnostics]) -> list[dict[str, Any]]:
    """Every (slot, measure) where ``a`` and ``b`` differ as the module docstring says, largest
    first. ``a[i]`` and ``b[i]`` are runs with the same seed."""
    slots = [s for s in dict.fromkeys(s for r in a for s in r) if any(s in r for r in b)]
    out = []
    for slot in slots:
        for key in MEASURES:
            va, vb = np.array(_values(a, slot, key)), np.array(_values(b, slot, key))
            sa, sb = _scale(key, va), _scale(key, vb)
            ok_a, ok_b = sa[np.isfinite(sa)], sb[np.isfinite(sb)]
            if len(ok_a) == 0 or len(ok_b) == 0:
                continue
            gap = float(ok_a.mean() - ok_b.mean())
            pooled = math.sqrt((ok_a.var() + ok_b.var()) / 2)
            floor = math.log10(MIN_RATIO) if key.startswith("grad_norm") else MIN_GAP[key]
            effect = abs(gap) / max(pooled, floor / 4)
            if abs(gap) < floor or effect < MIN_EFFECT:
                continue
            n = min(len(sa), len(sb))
            pairs = [(x, y) for x, y in zip(sa[:n], sb[:n], strict=True) if math.isfinite(x) and math.isfinite(y)]
            agree = sum((x - y) * gap > 0 for x, y in pairs)
            mean_a, mean_b = float(np.nanmean(va)), float(np.nanmean(vb))
            out.append(
                {"slot": slot, "measure": key, "a": mean_a, "b": mean_b, "effect": effect}
                | {"agree": agree, "pairs": len(pairs)}
            )
    return sorted(out, key=lambda d: -d["effect"])


def _sentence(d: Mapping[str, Any], a: str, b: str) -> str:
    slot, key, va, vb = d["slot"], d["measure"], d["a"], d["b"]
    if key == "dead":
        text = (
            f"{_pct(va)} of its units dead with {a} against {_pct(vb)} with {b} (no gradient for any validation input)"
        )
    elif key == "saturated":
        text = f"{a} passes almost no gradient (|f'| < 0.01) at {_pct(va)} of the inputs, {b} at {_pct(vb)}"
    elif key == "effective_rank":
        text = f"the outputs use {_pct(va)} of the possible directions with {a}, {_pct(vb)} with {b} (effective rank)"
    else:
        when = "first" if key == "grad_norm_first" else "last"
        big, small, ratio = (a, b, va / vb) if va > vb else (b, a, vb / va)
        text = f"the gradient into its layer's weights in the {when} epoch is {ratio:.1f}x as large"
        text += f" with {big} as with {small}"
    return f"slot {slot}: {text}; {d['agree']} of {d['pairs']} seeds agree."


def _pct(v: float) -> str:
    return f"{v:.0%}"


def explain(a: Sequence[Diagnostics], b: Sequence[Diagnostics], a_name: str, b_name: str, top: int = 3) -> list[str]:
    """At most ``top`` sentences on how ``a_name``'s runs differ from ``b_name``'s (same seeds, in
    order), the largest differences first; one sentence saying so when none is clear."""
    if not any(a) or not any(b):
        return [f"no diagnostics were measured for {a_name if not any(a) else b_name}."]
    found = differences(a, b)
    if not found:
        return [
            f"no diagnostic differs clearly between {a_name} and {b_name} (dead units, saturation, effective rank, "
            "gradient norms per slot)."
        ]
    return [_sentence(d, a_name, b_name) for d in found[:top]]


__all__ = ["MEASURES", "differences", "explain"]
