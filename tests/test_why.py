"""The explanation of why one function beats another, from per-slot diagnostics."""

from __future__ import annotations

from actlab.report._why import differences, explain


def _runs(dead, rank, grad, saturated=0.1):
    return [
        {"h": {"dead": d, "saturated": saturated, "effective_rank": r, "grad_norm_first": 1.0, "grad_norm_last": g}}
        for d, r, g in zip(dead, rank, grad, strict=True)
    ]


def test_the_largest_clear_differences_are_said_first_with_the_seeds_that_agree():
    evolved = _runs(dead=[0.0, 0.0, 0.01], rank=[0.60, 0.62, 0.61], grad=[2.0, 2.2, 1.9])
    relu = _runs(dead=[0.30, 0.35, 0.28], rank=[0.59, 0.63, 0.60], grad=[1.0, 1.1, 0.9])
    found = differences(evolved, relu)
    assert [d["measure"] for d in found] == ["dead", "grad_norm_last"]  # rank: same within noise
    assert found[0]["agree"] == 3 and found[0]["pairs"] == 3
    text = explain(evolved, relu, "evolved", "relu")
    assert text[0].startswith("slot h: 0% of its units dead with evolved against 31% with relu")
    assert "2.0x as large with evolved as with relu" in text[1] and "3 of 3 seeds agree" in text[1]


def test_small_or_noisy_gaps_are_not_called_differences():
    a = _runs(dead=[0.0, 0.02, 0.01], rank=[0.5, 0.9, 0.2], grad=[1.0, 1.2, 1.1])
    b = _runs(dead=[0.01, 0.0, 0.02], rank=[0.8, 0.3, 0.6], grad=[1.1, 1.0, 1.2])
    assert differences(a, b) == []
    assert explain(a, b, "x", "y") == [
        "no diagnostic differs clearly between x and y (dead units, saturation, effective rank, "
        "gradient norms per slot)."
    ]
    assert explain([{}], b, "x", "y") == ["no diagnostics were measured for x."]
