"""Seeded stratified selection of example indices."""

from __future__ import annotations

import numpy as np


def stratified_pick(
    y: np.ndarray, n_pick: int, rng: np.random.Generator, *, keep_one: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n_pick`` indices of ``y`` with class proportions preserved (largest-remainder
    rounding, ties broken at random). Returns ``(picked, rest)``, each in random order.

    With ``keep_one`` every class keeps at least one example in ``rest`` (used when carving a
    validation or test split out of a training pool, so training sees every class).
    """
    n = len(y)
    n_pick = int(min(max(n_pick, 0), n))
    classes, counts = np.unique(y, return_counts=True)
    room = counts - 1 if keep_one else counts.copy()
    ideal = n_pick * counts / max(n, 1)
    quota = np.minimum(np.floor(ideal).astype(np.int64), room)
    # hand out what rounding left over: largest fractional part first, random among ties
    order = rng.permutation(len(classes))
    order = order[np.argsort(-(ideal - np.floor(ideal))[order], kind="stable")]
    short = n_pick - int(quota.sum())
    while short > 0 and (quota < room).any():
        for c in order:
            if short == 0:
                break
            if quota[c] < room[c]:
                quota[c] += 1
                short -= 1
    picked, rest = [], []
    for c, q in zip(classes, quota, strict=True):
        idx = rng.permutation(np.flatnonzero(y == c))
        picked.append(idx[:q])
        rest.append(idx[q:])
    picked_a = np.concatenate(picked) if picked else np.zeros(0, np.int64)
    rest_a = np.concatenate(rest) if rest else np.zeros(0, np.int64)
    return rng.permutation(picked_a), rng.permutation(rest_a)
