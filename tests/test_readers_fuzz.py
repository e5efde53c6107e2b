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
from actlab.evolve import read_best
from actlab.evolve.fitness import Fitness
from actlab.evolve.run import EvolveConfig, Evolution, check_checkpoint, read_checkpoint, run_evolution
from actlab.runner import FORMAT_UNIT, Unit, read_unit

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# --------------------------------------------------------------------------------- the junk
JUNK_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from([10**100, -(10**30), 2**64, -1, 0, float("nan"), float("inf"), "../../evil", "/tmp/abs", "..", "",
                     "max(x,", "1/0", "x" * 5000, "(" * 300 + "x" + ")" * 300, "expr:x", "\u0000", "single", "all"]),
)
JSON = st.recursive(JUNK_SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=12)


def _paths(doc, prefix=()):
    """Every place in a JSON document: (path, value)."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _mutate(data, doc):
    """The document with 1-3 places changed: removed, replaced with junk, or given an extra key."""
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        places = [p for p, _ in _paths(doc) if p]
        if not places:
            break
        path = data.draw(st.sampled_from(places), label="where")
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        how = data.draw(st.sampled_from(["remove", "replace", "replace", "nest", "add"]), label="how")
        if how == "remove":
            parent.pop(path[-1])
        elif how == "replace":
            parent[path[-1]] = data.draw(JSON, label="junk")
        elif how == "nest":
            parent[path[-1]] = [[[parent[path[-1]]]]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(max_size=8), label="key")] = data.draw(JSON, label="junk")
    return doc


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
BEST = {"format": "actlab-evolve-best", "version": 1, "mode": "triple",
        "functions": {"input": "x * sigmoid(x)", "hidden": "max(x, x * tanh(x))", "output": "x / (1.0 + abs(x))"},
        "plan": {"input": "expr:x * sigmoid(x)"}, "fitness": 0.8, "formulas": {}, "dataset": "iris", "model": "mlp"}
RESULTS = {"format": "actlab-evolve-results", "config": {"mode": "single", "dataset": "iris"},
           "best": {"rank": 1, "functions": {"all": "x * tanh(x)"}, "fitness": 0.7}, "history": [], "hall_of_fame": []}


@functools.lru_cache(maxsize=None)
def _checkpoint(mode: str) -> str:
    """A real checkpoint (iris, no training), as JSON text."""
    cfg = EvolveConfig(mode=mode, dataset="iris", data_options={}, population=4, generations=3, final_seeds=0)
    out = _TMP / f"run-{mode}"
    run_evolution(cfg, out, evaluator=lambda t: {"fitness": len(json.dumps(t["plan"])) % 5 / 5, "status": "ok"},
                  progress=False, stop_after=1)
    return (out / "checkpoint.json").read_text()


UNIT = Unit(name="relu__seed0", plan="relu", dataset="iris", model="mlp",
            train={"epochs": 1, "batch_size": 32, "optimizer": "adam", "seed": 0})
RESULT = {"status": "finished",
          "epochs": [{"epoch": 1, "seconds": 0.02, "train_accuracy": 0.5, "val_accuracy": 0.4, "grad_norm": {"input": 0.1}}],
          "test": {"loss": 1.0, "accuracy": 0.5, "f1": 0.4, "auc": 0.9}, "final_train": {"loss": 1.0, "accuracy": 0.6},
          "best_epoch": 1, "n_params": 100, "seconds": 0.05, "diagnostics": {"input": {"dead": 0.0, "std": 0.3}}}
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
    mods = actlab.load(path)
    assert mods is not None


@FUZZ
@given(st.data())
def test_fuzz_best_json_mutations(data):
    _read_best(_bytes(data, _mutate(data, data.draw(st.sampled_from([BEST, RESULTS]), label="file"))))


@FUZZ
@given(JSON)
def test_fuzz_best_json_of_any_json(value):
    _read_best(json.dumps(value, allow_nan=True).encode())


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
    evo = Evolution(config, Fitness(evaluator=lambda t: {"fitness": 0.5, "status": "ok"}), progress=False)
    evo.restore(d)  # what read_checkpoint accepts, restore takes
    assert 0 <= evo.generation < config.generations and len(evo.history) == evo.generation + 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_checkpoint_mutations(data):
    mode = data.draw(st.sampled_from(["single", "triple", "coevolution"]), label="mode")
    _read_checkpoint(_bytes(data, _mutate(data, json.loads(_checkpoint(mode)))))


@FUZZ
@given(JSON)
def test_fuzz_checkpoint_of_any_json(value):
    _read_checkpoint(json.dumps(value, allow_nan=True).encode())


@FUZZ
@given(st.data())
def test_fuzz_restore_of_mutated_content(data):
    """``Evolution.restore`` checks what it is given, read from a file or not."""
    d = _mutate(data, json.loads(_checkpoint("single")))
    evo = Evolution(EvolveConfig.from_dict(json.loads(_checkpoint("single"))["config"]),
                    Fitness(evaluator=lambda t: {"fitness": 0.5, "status": "ok"}), progress=False)
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
    for part in ("test", "final_train"):
        assert all(isinstance(v, (int, float)) for v in r[part].values())
    assert isinstance(r["test"]["accuracy"] + r["final_train"]["accuracy"], float)
    assert all(isinstance(e, dict) for e in r["epochs"]) and isinstance(r["status"], str)


@FUZZ
@given(st.data())
def test_fuzz_run_file_mutations(data):
    _read_run(_bytes(data, _mutate(data, RUN)))


@FUZZ
@given(JSON)
def test_fuzz_run_file_of_any_json(value):
    _read_run(json.dumps(value, allow_nan=True).encode())


def test_the_valid_documents_are_read():
    _read_run(json.dumps(RUN).encode())
    assert read_unit(_TMP / "runs", UNIT)["result"]["test"]["accuracy"] == 0.5
    assert set(read_best(_write("best.json", json.dumps(BEST).encode()))["functions"]) == {"input", "hidden", "output"}
    for mode in ("single", "triple", "coevolution"):
        assert read_checkpoint(_write("checkpoint.json", _checkpoint(mode).encode()))["generation"] == 1


# ------------------------------------------------------------------- results.json in `actlab show`
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_show_of_a_results_or_best_json(data):
    from actlab.cli import main

    doc = _mutate(data, data.draw(st.sampled_from([RESULTS, BEST]), label="file"))
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
