"""The explanation of why one function beats another, from per-slot diagnostics."""

from __future__ import annotations

import pytest

from actlab.surrogate.features import draws
from actlab.surrogate.shape import MIN_FLAT_GAP, shape, shape_sentences
from actlab.training.why import differences, explain


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


def test_shapes_differ_where_the_functions_do_by_their_structure():
    """The surrogate's curve features, read structurally: ReLU passes no gradient exactly where the
    draws are negative, doubling a function doubles both RMS, tanh is flat only in its tails."""
    x = draws()
    relu, tanh = shape("relu"), shape("tanh")
    assert relu["flat"] == float((x < 0).double().mean())
    assert tanh["flat"] == float((x.abs() > 3).double().mean()) < MIN_FLAT_GAP  # |tanh'| < 0.01 beyond |x| = 3.8
    twice = shape("expr:2 * tanh(x)")
    assert twice["signal"] == pytest.approx(2 * tanh["signal"]) and twice["gradient"] == pytest.approx(
        2 * tanh["gradient"]
    )
    said = shape_sentences("expr:2 * tanh(x)", "relu", "mine", "relu")
    assert len(said) == 1 and said[0].startswith("on N(0, 1) inputs: mine passes on a signal of RMS")
    assert f"at {tanh['flat']:.0%} of them, relu at {relu['flat']:.0%}" in said[0]
    assert shape_sentences("gelu", "gelu", "a", "b") == [] and shape_sentences("expr:x * 1.1", "linear", "a", "b") == []


def test_shape_sentences_name_the_slots_where_plans_differ():
    a = {"input": "tanh", "hidden": "relu", "output": "linear"}
    b = {"input": "relu", "hidden": "relu", "output": "softmax"}  # the output slot (logits) is left out
    said = shape_sentences(a, b, "a", "b")
    assert len(said) == 1 and said[0].startswith("on N(0, 1) inputs (input): a passes no gradient")
    both = shape_sentences({"input": "tanh", "hidden": "tanh"}, {"input": "relu", "hidden": "relu"}, "a", "b")
    assert both[0].startswith("on N(0, 1) inputs: ")  # the whole network's function: no slot named
