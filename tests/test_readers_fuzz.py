"""Fuzz tests of every reader of files a user (or a crash, or another program) may hand actlab:
best.json (``actlab.load`` / ``read_best``), evolve checkpoints (``read_checkpoint`` and
``Evolution.restore``), compare run files (``read_unit``), and an evolution's results.json as
``actlab show`` reads it. Arbitrary JSON-like values, and mutations of valid files (keys removed,
values of the wrong type, NaN, huge numbers, nested junk, path names, bytes that are not UTF-8,
truncation), must give a valid result or an ``ActlabError`` of one line: never another exception."""

from __future__ import annotations

import copy
import functools
import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import actlab
from actlab import ActlabError
from actlab.execution import FORMAT_UNIT, Unit, read_unit
from actlab.studies.evolve import read_best
from actlab.studies.evolve.checkpoint import check_checkpoint, read_checkpoint
from actlab.studies.evolve.config import EvolveConfig
from actlab.studies.evolve.fitness import Fitness
from actlab.studies.evolve.loop import Evolution
from actlab.studies.evolve.run import run_evolution

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)

# --------------------------------------------------------------------------------- the junk
JUNK_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            10**100,
            -(10**30),
            2**64,
            10**400,
            -1,
            0,
            float("nan"),
            float("inf"),
            "../../evil",
            "/tmp/abs",
            "..",
            "",
            "max(x,",
            "1/0",
            "x" * 5000,
            "(" * 300 + "x" + ")" * 300,
            "expr:x",
            "\u0000",
            "single",
            "all",
        ]
    ),
)
JSON = st.recursive(
    JUNK_SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12
)


def _paths(doc, prefix=()):
    """Every place in a JSON document: (path, value)."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _place(data, doc, which=lambda path, value: True):
    """A place of ``doc`` (not the root) for which ``which(path, value)`` holds, drawn: (its
    parent, its key), or None when there is none."""
    places = [p for p, v in _paths(doc) if p and which(p, v)]
    if not places:
        return None
    path = data.draw(st.sampled_from(places), label="where")
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    return parent, path[-1]


def _mutate(data, doc):
    """The document with 1-3 places changed: removed, replaced with junk, or given an extra key."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        place = _place(data, doc)
        if place is None:
            break
        parent, key = place
        how = data.draw(st.sampled_from(["remove", "replace", "replace", "nest", "add"]), label="how")
        if how == "remove":
            parent.pop(key)
        elif how == "replace":
            parent[key] = data.draw(JSON, label="junk")
        elif how == "nest":
            parent[key] = [[[parent[key]]]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8), label="key")] = data.draw(JSON, label="junk")
    return doc


# What may stand where a file holds a number: numbers of any size and type (ints beyond a float's
# range, NaN and infinity, which json writes as NaN and Infinity), null, booleans, text, tables.
NUMBER_JUNK = st.one_of(
    st.sampled_from([10**400, -(10**400), 2**1024, 10**309]),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none() | st.booleans() | st.text(max_size=6),
    # a copy of each: a drawn container is mutated by the next change, and sampled_from hands out
    # the same object every time (the next test case would then draw a changed one)
    st.sampled_from(
        [-1, 0, 1, 5.0, -0.5, 1e308, "0.5", "nan", "Infinity", "", {}, [], {"value": 0.5}, [0.5], "x" * 100_000]
    ).map(copy.deepcopy),
)


def _mutate_numbers(data, doc, skip: tuple = ()):
    """The document with 1-3 of its numbers (not those under the keys ``skip``) replaced by
    :data:`NUMBER_JUNK`."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        place = _place(
            data, doc, lambda p, v: p[0] not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)
        )
        if place is None:
            break
        parent, key = place
        # a copy: a later change must not alter a table of the strategy itself
        parent[key] = copy.deepcopy(data.draw(NUMBER_JUNK, label="junk"))
    return doc


def _readable(doc) -> None:
    """What a reader accepted holds only numbers that are floats (ints within a float's range) and
    texts of bounded length: a report or a sum can take them."""
    from actlab._io import MAX_TEXT

    for _, v in _paths(doc):
        if isinstance(v, int) and not isinstance(v, bool):
            float(v)  # OverflowError for an int beyond a float's range
        elif isinstance(v, str):
            assert len(v) <= MAX_TEXT
        elif isinstance(v, dict):
            assert all(len(k) <= MAX_TEXT for k in v)


def _bytes(data, doc) -> bytes:
    raw = json.dumps(doc, allow_nan=True).encode()
    how = data.draw(st.sampled_from(["as is", "as is", "truncated", "not utf-8", "deep"]), label="bytes")
    if how == "truncated":
        return raw[: data.draw(st.integers(0, max(len(raw) - 1, 0)), label="cut")]
    if how == "not utf-8":
        i = data.draw(st.integers(0, len(raw)), label="at")
        return raw[:i] + b"\xff\xfe" + raw[i:]
    if how == "deep":
        return b"[" * 100_000 + raw + b"]" * 100_000
    return raw


def _one_line(e: ActlabError) -> None:
    msg = str(e)
    assert msg and "\n" not in msg and "\r" not in msg, msg


_TMP = Path(tempfile.mkdtemp(prefix="actlab-fuzz-"))


@pytest.fixture(scope="module", autouse=True)
def _remove_the_files_afterwards():
    yield
    shutil.rmtree(_TMP, ignore_errors=True)


def _write(name: str, content: bytes) -> Path:
    path = _TMP / name
    path.write_bytes(content)
    return path


# -------------------------------------------------------------------------- valid documents
BEST = {
    "format": "actlab-evolve-best",
    "version": 1,
    "mode": "triple",
    "functions": {"input": "x * sigmoid(x)", "hidden": "max(x, x * tanh(x))", "output": "x / (1.0 + abs(x))"},
    "plan": {"input": "expr:x * sigmoid(x)"},
    "fitness": 0.8,
    "formulas": {},
    "dataset": "iris",
    "model": "mlp",
}
BEST_LEARNED = {
    "format": "actlab-evolve-best",
    "version": 1,
    "mode": "single",
    "functions": {"all": "x * tanh(1.5 * x)"},
    "learn_constants": True,
    "learned": {"input": {"constants": [1.25]}, "hidden_1": {"constants": [2.5]}, "hidden_2": {"constants": [2.5]}},
}
RESULTS = {
    "format": "actlab-evolve-results",
    "config": {"mode": "single", "dataset": "iris"},
    "best": {"rank": 1, "functions": {"all": "x * tanh(x)"}, "fitness": 0.7},
    "history": [],
    "hall_of_fame": [],
}


@functools.cache
def _checkpoint(mode: str) -> str:
    """A real checkpoint (iris, no training), as JSON text."""
    cfg = EvolveConfig(mode=mode, dataset="iris", data_options={}, population=4, generations=3, final_seeds=0)
    out = _TMP / f"run-{mode}"
    run_evolution(
        cfg,
        out,
        evaluator=lambda t: {"fitness": len(json.dumps(t["plan"])) % 5 / 5, "status": "ok"},
        progress=False,
        stop_after=1,
    )
    return (out / "checkpoint.json").read_text()


UNIT = Unit(
    name="relu__seed0",
    plan="relu",
    dataset="iris",
    model="mlp",
    train={"epochs": 1, "batch_size": 32, "optimizer": "adam", "seed": 0},
)
RESULT = {
    "status": "finished",
    "epochs": [{"epoch": 1, "seconds": 0.02, "train_accuracy": 0.5, "val_accuracy": 0.4, "grad_norm": {"input": 0.1}}],
    "test": {"loss": 1.0, "accuracy": 0.5, "f1": 0.4, "auc": 0.9},
    "final_train": {"loss": 1.0, "accuracy": 0.6},
    "best_epoch": 1,
    "n_params": 100,
    "seconds": 0.05,
    "diagnostics": {"input": {"dead": 0.0, "std": 0.3}},
}
RUN = {"format": FORMAT_UNIT, "key": UNIT.key(), "unit": UNIT.to_dict(), "result": RESULT, "packed": 1}


# ------------------------------------------------------------------------------------- best.json
def _read_best(content: bytes) -> None:
    path = _write("best.json", content)
    try:
        d = read_best(path)
    except ActlabError as e:
        _one_line(e)
        return
    assert d["functions"] and all(isinstance(v, str) for v in d["functions"].values())
    assert set(d["functions"]) in ({"all"}, {"input", "hidden", "output"})  # never a name that is a path
    assert all(type(v) is float and math.isfinite(v) for values in d["learned"].values() for v in values)
    mods = actlab.load(path)
    assert mods is not None
    assert actlab.to_code(path)  # what export reads


@FUZZ
@given(st.data())
def test_fuzz_best_json_mutations(data):
    _read_best(_bytes(data, _mutate(data, data.draw(st.sampled_from([BEST, RESULTS]), label="file"))))


@FUZZ
@given(JSON)
def test_fuzz_best_json_of_any_json(value):
    _read_best(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(st.data())
def test_fuzz_best_json_numbers(data):
    """Learned constants of any size and type: read as finite floats, or one line."""
    _read_best(_bytes(data, _mutate_numbers(data, BEST_LEARNED)))


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_best_json_of_any_bytes(raw):
    _read_best(raw)


# ------------------------------------------------------------------------------ evolve checkpoints
def _read_checkpoint(content: bytes) -> None:
    path = _write("checkpoint.json", content)
    try:
        d = read_checkpoint(path)
    except ActlabError as e:
        _one_line(e)
        return
    config = check_checkpoint(d)
    _readable(d)
    evo = Evolution(config, Fitness(evaluator=lambda t: {"fitness": 0.5, "status": "ok"}), progress=False)
    evo.restore(d)  # what read_checkpoint accepts, restore takes
    assert 0 <= evo.generation < config.generations and len(evo.history) == evo.generation + 1
    assert math.isfinite(sum(h["seconds"] for h in evo.history))  # what the budget adds up


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_checkpoint_mutations(data):
    mode = data.draw(st.sampled_from(["single", "triple", "coevolution"]), label="mode")
    _read_checkpoint(_bytes(data, _mutate(data, json.loads(_checkpoint(mode)))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_checkpoint_numbers(data):
    """Fitness, seconds, history and random state of any size and type: read, or one line."""
    mode = data.draw(st.sampled_from(["single", "triple", "coevolution"]), label="mode")
    # Python's random state (625 numbers, fuzzed by the other tests) would take nearly every draw
    _read_checkpoint(_bytes(data, _mutate_numbers(data, json.loads(_checkpoint(mode)), skip=("random_state",))))


@FUZZ
@given(JSON)
def test_fuzz_checkpoint_of_any_json(value):
    _read_checkpoint(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(st.data())
def test_fuzz_restore_of_mutated_content(data):
    """``Evolution.restore`` checks what it is given, read from a file or not."""
    d = _mutate(data, json.loads(_checkpoint("single")))
    evo = Evolution(
        EvolveConfig.from_dict(json.loads(_checkpoint("single"))["config"]),
        Fitness(evaluator=lambda t: {"fitness": 0.5, "status": "ok"}),
        progress=False,
    )
    try:
        evo.restore(d)
    except ActlabError as e:
        _one_line(e)


# ------------------------------------------------------------------------------ compare run files
def _read_run(content: bytes) -> None:
    folder = _TMP / "runs"
    folder.mkdir(exist_ok=True)
    (folder / f"{UNIT.name}.json").write_bytes(content)
    try:
        rec = read_unit(folder, UNIT)
    except ActlabError as e:  # a run of another configuration: refused, in one line
        _one_line(e)
        assert (folder / f"{UNIT.name}.json").read_bytes() == content  # and left as it was
        return
    if rec is None:  # not finished: trained again; the damaged file was kept aside, not lost
        assert (folder / f"{UNIT.name}.json.damaged").read_bytes() == content
        return
    if "error" in rec:
        assert isinstance(rec["error"], str)
        return
    r = rec["result"]  # what the summary reads: numbers where numbers belong
    _readable(rec)
    for part in ("test", "final_train"):
        assert all(v is None or isinstance(v, (int, float)) for v in r[part].values())
        assert 0 <= r[part]["accuracy"] <= 1  # an accuracy, finite
    for e in r["epochs"]:
        for k, v in e.items():
            if k.endswith("accuracy"):
                assert v is None and r["status"] == "diverged" or 0 <= v <= 1
    assert all(isinstance(e, dict) for e in r["epochs"]) and isinstance(r["status"], str)
    from actlab.stats import ACCURACY, mean_std_ci

    mean_std_ci([r["test"]["accuracy"], r["final_train"]["accuracy"]], bounds=ACCURACY)


@FUZZ
@given(st.data())
def test_fuzz_run_file_mutations(data):
    _read_run(_bytes(data, _mutate(data, RUN)))


@FUZZ
@given(JSON)
def test_fuzz_run_file_of_any_json(value):
    _read_run(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(st.data())
def test_fuzz_run_file_numbers(data):
    """Accuracies, losses, seconds and counts of any size and type: a finished run, or set aside."""
    _read_run(_bytes(data, _mutate_numbers(data, RUN)))


# ------------------------------------------------------------------ the features of a screen
@functools.cache
def _features() -> tuple:
    """A real features file (tanh on iris) as JSON text, its task and data."""
    from actlab.surrogate import Surrogate, Task

    sur = Surrogate(Task(dataset="iris"))
    return json.dumps(sur.features("tanh")), sur.task, sur.data


def _read_feature_file(content: bytes) -> None:
    from actlab.surrogate.features import BLOCKS, _read_features, block_values

    text, task, data = _features()
    d = _read_features(_write("features.json", content), "tanh", task, data)
    if d is None:  # damaged: computed again
        return
    _readable(d)
    assert all(type(v) is float and math.isfinite(v) for b in BLOCKS for v in block_values(d, b))
    assert type(d["seconds"]) is float and d["seconds"] >= 0 and isinstance(d["ok"], bool)
    assert d["note"] is None or isinstance(d["note"], str)


@FUZZ
@given(st.data())
def test_fuzz_feature_file_numbers(data):
    _read_feature_file(_bytes(data, _mutate_numbers(data, json.loads(_features()[0]))))


@FUZZ
@given(st.data())
def test_fuzz_feature_file_mutations(data):
    _read_feature_file(_bytes(data, _mutate(data, json.loads(_features()[0]))))


def test_the_valid_documents_are_read():
    _read_run(json.dumps(RUN).encode())
    assert read_unit(_TMP / "runs", UNIT)["result"]["test"]["accuracy"] == 0.5
    assert set(read_best(_write("best.json", json.dumps(BEST).encode()))["functions"]) == {"input", "hidden", "output"}
    for mode in ("single", "triple", "coevolution"):
        assert read_checkpoint(_write("checkpoint.json", _checkpoint(mode).encode()))["generation"] == 1
    assert read_best(_write("best.json", json.dumps(BEST_LEARNED).encode()))["learned"]["hidden_2"] == [2.5]
    from actlab.surrogate.features import _read_features

    text, task, data = _features()
    assert _read_features(_write("features.json", text.encode()), "tanh", task, data) == json.loads(text)


# ------------------------------------------------------------------- results.json in `actlab show`
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_show_of_a_results_or_best_json(data):
    from actlab.cli import main

    doc = _mutate(data, data.draw(st.sampled_from([RESULTS, BEST, BEST_LEARNED]), label="file"))
    work = Path(tempfile.mkdtemp(dir=_TMP))
    (work / "results.json").write_bytes(_bytes(data, doc))
    before = sorted(p.name for p in _TMP.rglob("*"))
    try:
        code = main(["show", str(work / "results.json"), "--no-plot"])
    except SystemExit as e:  # argparse; never expected here
        pytest.fail(f"exit {e.code}")
    assert code in (0, 2)
    assert sorted(p.name for p in _TMP.rglob("*")) == before  # --no-plot: nothing written, anywhere


def test_a_nan_or_a_huge_number_in_best_json_is_one_line():
    for functions in ({"all": math.nan}, {"all": 10**400}, {"all": "x" * 100_000}):
        text = json.dumps({"format": "actlab-evolve-best", "functions": functions}, allow_nan=True)
        with pytest.raises(ActlabError) as e:
            read_best(_write("best.json", text.encode()))
        _one_line(e.value)
    for value in (math.nan, math.inf, 10**400, -(10**400), "2.0", True, None, [2.0]):
        text = json.dumps({**BEST_LEARNED, "learned": {"input": {"constants": [value]}}}, allow_nan=True)
        with pytest.raises(ActlabError) as e:
            read_best(_write("best.json", text.encode()))
        _one_line(e.value)
