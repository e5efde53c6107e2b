"""What a run produced (RunResult): the one scoring rule, best validation accuracy, and the one
check of a run record read back from a file."""

from __future__ import annotations

import copy
import json
import math

import pytest

from actlab import ActlabError
from actlab._io import json_text
from actlab.models import build
from actlab.training import RunResult, TrainConfig, best_val_accuracy, train

CFG = TrainConfig(epochs=3, batch_size=64, patience=None, diagnostics=True, threads=1)
GONE = object()  # a key removed


@pytest.fixture(scope="module")
def finished(digits):
    """A real training of a few epochs."""
    return train(lambda: build("mlp", digits.input_shape, digits.n_classes, "prelu"), digits, CFG)


@pytest.fixture(scope="module")
def diverged(digits):
    """A real training that diverges in its first epoch: NaN losses, no validation scores."""
    cfg = TrainConfig(epochs=3, optimizer="sgd", lr=1.0, threads=1)
    r = train(lambda: build("mlp", digits.input_shape, digits.n_classes, "exponential"), digits, cfg)
    assert r.status == "diverged" and len(r.epochs) == 1
    return r


def _read_back(result: RunResult) -> dict:
    """``result`` as a run file holds it: strict JSON, a number that is not finite as null."""
    return json.loads(json_text(result.to_dict()))


def test_a_runs_score_is_its_best_validation_accuracy_in_memory_and_read_back(finished):
    accs = [e["val_accuracy"] for e in finished.epochs]
    assert len(accs) == 3 and finished.best_val_accuracy == max(accs) > 0.5
    assert best_val_accuracy(finished.to_dict()) == best_val_accuracy(_read_back(finished)) == max(accs)


def test_a_diverged_run_keeps_the_best_it_reached_before_and_one_with_none_scores_zero(finished, diverged):
    assert diverged.best_val_accuracy == 0.0 == best_val_accuracy(_read_back(diverged))
    later = _read_back(finished)  # the same run diverging in a fourth epoch: it keeps its best
    later["status"] = "diverged"
    later["epochs"].append({"epoch": 4, "train_loss": None, "train_accuracy": None})
    assert best_val_accuracy(later) == finished.best_val_accuracy
    assert RunResult.from_dict(later).best_val_accuracy == finished.best_val_accuracy


@pytest.mark.parametrize(
    "values, best",
    [
        ([None, math.nan, math.inf, -math.inf, 0.4, 0.25], 0.4),  # what is not a finite number is no value
        ([True, "0.9", 10**400, 0.1], 0.1),  # nor is a boolean, a text or a number beyond a float's range
        ([None, math.nan], 0.0),
        ([], 0.0),
    ],
)
def test_only_finite_validation_accuracies_count(values, best):
    epochs = [{"epoch": i + 1, "val_accuracy": v} for i, v in enumerate(values)] + [{"epoch": 0}]
    assert best_val_accuracy({"epochs": epochs}) == best
    assert best_val_accuracy({}) == best_val_accuracy({"epochs": "junk"}) == 0.0


def test_real_results_pass_the_check_as_trained_and_as_read_back(finished, diverged):
    for r in (finished, diverged):
        assert RunResult.check(r.to_dict()) and RunResult.check(_read_back(r)), r.status
        again = RunResult.from_dict(_read_back(r))
        assert again.status == r.status and again.best_epoch == r.best_epoch and again.learned == r.learned
    assert any(v is None for v in _read_back(diverged)["epochs"][0].values())  # null where it had no value


def _apply(d: dict, where: tuple, value) -> dict:
    """A copy of ``d`` with the value at ``where`` replaced by ``value`` (removed: ``GONE``)."""
    out = copy.deepcopy(d)
    *path, last = where
    part = out
    for k in path:
        part = part[k]
    if value is GONE:
        del part[last]
    else:
        part[last] = value
    return out


BROKEN = [
    (("status",), "exploded"),
    (("status",), GONE),
    (("epochs",), "many"),
    (("epochs", 0, "val_accuracy"), 5.0),
    (("epochs", 0, "val_accuracy"), "0.9"),
    (("epochs", 0, "val_accuracy"), None),  # null only in a diverged run's epochs
    (("epochs", 0, "train_loss"), "low"),
    (("test", "accuracy"), math.nan),
    (("test", "accuracy"), None),
    (("test", "f1"), GONE),
    (("final_train",), GONE),
    (("final_train", "loss"), [1.0]),
    (("best_epoch",), True),
    (("best_epoch",), 1.5),
    (("n_params",), 10**400),
    (("seconds",), "slow"),
    (("diagnostics", "input"), 3.0),
    (("learned",), {"input": {"slope": ["a"]}}),
]


@pytest.mark.parametrize(
    "where, value",
    BROKEN,
    ids=[f"{'.'.join(map(str, w))}={'removed' if v is GONE else str(v)[:20]}" for w, v in BROKEN],
)
def test_a_record_the_reports_cannot_read_fails_the_check_in_one_line(finished, where, value):
    good = _read_back(finished)
    bad = _apply(good, where, value)
    assert RunResult.check(good) and not RunResult.check(bad)
    with pytest.raises(ActlabError, match=r"^not a training result[^\n]*$"):
        RunResult.from_dict(bad)


@pytest.mark.parametrize("bad", [None, [], "finished", 3])
def test_what_is_not_a_table_fails_the_check(bad):
    assert not RunResult.check(bad)
