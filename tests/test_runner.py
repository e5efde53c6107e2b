"""The one runner: packs, worker processes, Dask, claims shared by several processes, SIGKILL and
resume; through `actlab compare` and `actlab search`'s final evaluation, on real data (iris)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Future
from pathlib import Path

import pytest
import torch

from actlab import register
from actlab._processes import ENDS_AT_ONCE, PRELOAD, start_server, worker_context
from actlab.execution import Runner, Unit, claim, packs, read_unit, release
from actlab.execution.executors import make_executor
from tests import _worker_probe as probe
from tests.conftest import stopped_when

CLI = [sys.executable, "-m", "actlab.cli"]
SMALL = ["--dataset", "iris", "--model", "mlp", "--epochs", "3", "--threads", "1", "--patience", "0"]
ACTS = "relu,tanh,softmax,softsign"  # softmax acts along a dimension: it never joins a pack


def actlab(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def _trained(stderr: str) -> int:
    """Runs a compare process trained itself (progress lines that are not skips)."""
    return sum(1 for line in stderr.splitlines() if " runs" in line and "|" in line and "already done" not in line)


def _accuracies(out: Path) -> dict[str, list[float]]:
    res = json.loads((out / "results.json").read_text())
    return {r["activation"]: r["test_accuracy"] for r in res["summary"]}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "out"
    r = actlab("compare", *SMALL, "--activations", ACTS, "--seeds", "3", "--pack", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert _trained(r.stderr) == 12
    return out


def test_two_processes_on_one_out_split_the_runs_and_train_each_once(tmp_path, serial):
    out = tmp_path / "shared"
    cmd = [*CLI, "compare", *SMALL, "--activations", ACTS, "--seeds", "3", "--pack", "1", "--out", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-2000:] for _, e in outs]
    trained = [_trained(e) for _, e in outs]
    assert sum(trained) == 12, trained  # every run trained exactly once between them
    by = {json.loads(f.read_text())["trained_by"] for f in (out / "runs").glob("*.json")}
    assert len(list((out / "runs").glob("*.json"))) == 12 and not list((out / "runs").glob("*.claim"))
    assert len(by) == 2 or 0 in trained  # both took work (unless one finished before the other started)
    assert _accuracies(out) == _accuracies(serial)


def test_sigkill_with_workers_then_resume_loses_nothing_and_trains_nothing_twice(tmp_path):
    longer = [*SMALL, "--epochs", "60", "--activations", ACTS, "--seeds", "5", "--pack", "1"]  # 20 runs
    ref = tmp_path / "uninterrupted"
    r = actlab("compare", *longer, "--out", str(ref), "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "killed"
    p = subprocess.Popen(
        [*CLI, "compare", *longer, "--workers", "2", "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert stopped_when(p.pid, lambda: len(list((out / "runs").glob("*.json"))) >= 2, timeout=240, step=0.01)
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the command and its worker processes
        p.wait()
    before = {f.name: f.read_bytes() for f in (out / "runs").glob("*.json")}
    assert 2 <= len(before) < 20
    r = actlab("compare", *longer, "--workers", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert _trained(r.stderr) == 20 - len(before)  # the dead process's claims were taken over, the rest kept
    assert {f.name: f.read_bytes() for f in (out / "runs").glob("*.json") if f.name in before} == before
    assert not list((out / "runs").glob("*.claim"))
    assert _accuracies(out) == _accuracies(ref)


def test_packed_runs_equal_alone_and_workers_and_dask_equal_this_process(tmp_path, serial):
    distributed = pytest.importorskip("distributed")
    packed = tmp_path / "packed"
    r = actlab("compare", *SMALL, "--activations", ACTS, "--seeds", "3", "--out", str(packed))
    assert r.returncode == 0, r.stderr
    res = json.loads((packed / "results.json").read_text())
    assert {run["activation"]: run["packed"] for run in res["runs"]} == {
        "relu": 3,
        "tanh": 3,
        "softsign": 3,
        "softmax": 1,
    }  # per seed: a pack and softmax alone
    assert "trained alone" in res["timing"]
    for a, accs in _accuracies(packed).items():  # float32: packed equals alone to rounding; iris has 30 test examples
        assert accs == pytest.approx(_accuracies(serial)[a], abs=1 / 30 + 1e-9)
    workers = tmp_path / "workers"  # the packs are cut the same way wherever they train: equal to the last bit
    r = actlab("compare", *SMALL, "--activations", ACTS, "--seeds", "3", "--workers", "2", "--out", str(workers))
    assert r.returncode == 0, r.stderr
    assert _accuracies(workers) == _accuracies(packed)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        out = tmp_path / "dask"
        r = actlab(
            "compare",
            *SMALL,
            "--activations",
            ACTS,
            "--seeds",
            "3",
            "--dask",
            cluster.scheduler_address,
            "--out",
            str(out),
        )
    assert r.returncode == 0, r.stderr
    assert "training on Dask at" in r.stdout
    assert _accuracies(out) == _accuracies(packed)


def test_packed_compare_equals_one_by_one_in_float64(digits, tmp_path):
    from actlab.studies.compare import CompareConfig, run_compare
    from actlab.training import TrainConfig

    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        d = dataclasses.replace(
            digits,
            **{
                s: dataclasses.replace(getattr(digits, s), x=getattr(digits, s).x.double())
                for s in ("train", "val", "test")
            },
        )
        cfg = CompareConfig(
            dataset="digits",
            activations=["relu", "tanh", "prelu"],
            seeds=2,
            train=TrainConfig(epochs=3, patience=2, threads=1),
            model_options={"width": 16},
        )
        results = {}
        for pack in (1, 8):
            with Runner(pack=pack) as runner:
                results[pack] = run_compare(cfg, tmp_path / f"p{pack}", data=d, progress=False, runner=runner)
    finally:
        torch.set_default_dtype(was)
    assert {r["packed"] for r in results[8]["runs"]} == {3} and {r["packed"] for r in results[1]["runs"]} == {1}
    for a, b in zip(results[1]["runs"], results[8]["runs"], strict=True):
        assert a["result"]["test"] == b["result"]["test"]
        da, db = a["result"]["diagnostics"], b["result"]["diagnostics"]
        assert da.keys() == db.keys()
        for slot in da:
            assert da[slot] == pytest.approx(db[slot], rel=1e-9)


def test_a_claim_of_a_dead_process_is_taken_over_and_a_live_one_is_not(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "u.claim"
    path.write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "time": 0}))
    assert claim(path) and json.loads(path.read_text())["pid"] == os.getpid()
    assert not claim(path)  # held by this (live) process
    release(path)
    assert claim(path)


def test_units_pack_by_everything_but_the_plan_and_names_stay_in_the_folder(tmp_path):
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": 1, "seed": 0}}
    us = [Unit(name=f"u{i}", plan=p, **base) for i, p in enumerate(["relu", "tanh", "elu"])]
    us.append(Unit(name="other-seed", plan="relu", dataset="iris", model="mlp", train={"epochs": 1, "seed": 1}))
    us.append(Unit(name="cnn", plan="relu", dataset="iris", model="cnn1d", train={"epochs": 1, "seed": 0}))
    assert [[u.name for u in p] for p in packs(us, 2)] == [["u0", "u1"], ["u2"], ["other-seed"], ["cnn"]]
    assert [[u.name for u in p] for p in packs(us, 1)] == [[u.name] for u in us]
    # a function that acts along a dimension (softmax) or per feature (a PReLU slope per feature)
    # would mix members or batch rows in a pack: it trains alone
    odd = [
        Unit(name=f"o{i}", plan=p, **base)
        for i, p in enumerate(
            [
                "relu",
                "softmax",
                {"input": "tanh", "hidden": "log_softmax"},
                "prelu(num_parameters=64)",
                "prelu",
                "expr:x*tanh(x)",
            ]
        )
    ]
    assert [[u.name for u in p] for p in packs(odd, 8)] == [["o0", "o4", "o5"], ["o1"], ["o2"], ["o3"]]
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError):
            Unit(name=bad, plan="relu", **base)
    # where a run happens is not part of its key; what decides its result is
    a = Unit(
        name="a",
        plan="relu",
        dataset="iris",
        model="mlp",
        train={"seed": 0, "threads": 1},
        data_options={"data_dir": "/x"},
    )
    b = Unit(
        name="b",
        plan="relu",
        dataset="iris",
        model="mlp",
        train={"seed": 0, "threads": 4},
        data_options={"data_dir": "/y"},
    )
    assert (
        a.key() == b.key()
        and a.key() != Unit(name="c", plan="tanh", dataset="iris", model="mlp", train={"seed": 0}).key()
    )
    (tmp_path / "a.json").write_text("{not json")
    assert read_unit(tmp_path, a) is None  # a damaged file is trained again


def test_search_final_evaluation_resumes_after_sigkill(tmp_path):
    out = tmp_path / "search"
    args = [
        "search",
        "--dataset",
        "iris",
        "--layers",
        "3",
        "--candidates",
        "relu,tanh,elu",
        "--trials",
        "3",
        "--epochs",
        "3",
        "--top-k",
        "2",
        "--final-seeds",
        "3",
        "--pruner",
        "none",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    p = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert stopped_when(p.pid, lambda: len(list((out / "final").glob("*.json"))) >= 1, timeout=240, step=0.02)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    before = {f.name: f.read_bytes() for f in (out / "final").glob("*.json")}
    r = actlab(*args)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("already done, skipped") >= len(before)
    assert {f.name: f.read_bytes() for f in (out / "final").glob("*.json") if f.name in before} == before
    res = json.loads((out / "results.json").read_text())
    # 3 contenders x 3 seeds, each trained once per epoch budget (3 epochs do not converge: doubled, for all alike)
    assert len(list((out / "final").glob("*.json"))) == 9 * len(res["final"]["budgets"])
    assert [c["name"] for c in res["final"]["configs"]] == ["baseline", "top-1", "top-2"]
    assert all(len(c["test_accuracy"]) == 3 for c in res["final"]["configs"])


def test_map_trains_each_part_once(monkeypatch):
    import actlab.execution.executors as R

    calls = []
    real = R.train_units
    monkeypatch.setattr(R, "train_units", lambda part: calls.append(len(part)) or real(part))
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": 1, "seed": 0, "diagnostics": False}}
    us = [Unit(name=f"u{i}", plan=p, **base) for i, p in enumerate(["relu", "tanh", "elu", "softmax"])]
    with Runner(pack=8) as runner:
        recs = runner.map(us)
    assert calls == [3, 1]  # one pack of three, softmax alone: each unit trained once
    assert [r["unit"]["name"] for r in recs] == ["u0", "u1", "u2", "u3"] and all("result" in r for r in recs)


def test_a_list_is_cut_into_several_packs_from_the_units_alone():
    """Packs are cut from the list (so workers have parts to share), never from the worker count."""
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": 1, "seed": 0}}

    def sizes(n: int, pack: int = 32) -> list[int]:
        return [len(p) for p in packs([Unit(name=f"u{i}", plan="relu", **base) for i in range(n)], pack)]

    assert sizes(8) == [4, 4] and sizes(24) == [12, 12] and sizes(9) == [5, 4] and sizes(4) == [4]
    assert sizes(24, pack=5) == [5, 5, 5, 5, 4] and sizes(8, pack=1) == [1] * 8


def test_a_runner_hands_out_the_same_packs_for_any_number_of_workers(monkeypatch):
    """A group of 8 trains as two packs of 4, whatever the executor (worker processes train what
    they are handed as this process does: see the compare tests above)."""
    import actlab.execution.executors as X

    handed: list[list[str]] = []

    def here(executor, part):  # the pool's processes are never started: the part trains here
        handed.append([u["name"] for u in part])
        f: Future = Future()
        f.set_result(X.train_units(part))
        return f

    monkeypatch.setattr(X._Serial, "submit", here)
    monkeypatch.setattr(X._Processes, "submit", here)
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": 1, "seed": 0, "diagnostics": False}}
    plans = ["relu", "tanh", "elu", "softsign", "sigmoid", "silu", "gelu", "selu"]
    us = [Unit(name=f"u{i}", plan=p, **base) for i, p in enumerate(plans)]
    for workers in (1, 2, 3):
        handed.clear()
        with Runner(workers=workers) as runner:
            recs = runner.map(us)
        assert handed == [[f"u{i}" for i in range(4)], [f"u{i}" for i in range(4, 8)]], workers
        assert [r["packed"] for r in recs] == [4] * 8


def test_a_function_that_cannot_run_in_the_model_is_a_recorded_failure_and_a_bug_is_raised(registry, tmp_path):
    """What a function in a model raises when it cannot run there is that run's error (and, not
    being finished, no file); any other exception is a bug and reaches the caller."""

    def buggy(x):  # fine on the catalogue's probes, a bug in the model
        if x.dim() == 2 and x.shape[1] == 64:
            raise TypeError("a bug in the function")
        return torch.relu(x)

    register("buggy_act", buggy)
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": 1, "seed": 0, "diagnostics": False}}
    cannot = {  # spec -> what torch or actlab says
        "frelu": "needs (N, C, H, W) input",  # ActlabError
        "glu": "cannot be multiplied",  # RuntimeError: halves the width the next layer expects
        "softmax(dim=3)": "Dimension out of range",  # IndexError: a dim the MLP's tensors lack
    }
    us = [Unit(name=f"u{i}", plan=p, **base) for i, p in enumerate(["relu", *cannot])]
    with Runner(pack=8) as runner:
        recs = runner.run(us, tmp_path)
    assert "result" in recs["u0"] and (tmp_path / "u0.json").exists()
    for i, words in enumerate(cannot.values(), 1):
        assert words in recs[f"u{i}"]["error"] and not (tmp_path / f"u{i}.json").exists()
    assert not list(tmp_path.glob("*.claim"))
    with Runner() as runner, pytest.raises(TypeError, match="a bug in the function"):
        runner.map([Unit(name="bug", plan="buggy_act", **base)])


def test_a_dataset_given_while_float64_is_the_default_is_kept_apart_from_the_float32_one(digits):
    """The datasets a process keeps are keyed by torch's default dtype too: a study given float64
    data (as the tests of packed = alone do) leaves no float64 set behind for later float32 trainings."""
    from actlab.execution import Unit, load_data, provide_data

    u = Unit(name="u", plan="relu", dataset="digits", model="mlp", train={}, data_seed=0, data_options={})
    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        wide = dataclasses.replace(digits, train=dataclasses.replace(digits.train, x=digits.train.x.double()))
        provide_data(u, wide)
        assert load_data(u.to_dict()) is wide
    finally:
        torch.set_default_dtype(was)
    assert load_data(u.to_dict()).train.x.dtype == torch.float32


class _Lifo:
    """An executor whose parts train when submitted but are reported done last-submitted first, so
    that a list started later finishes before one started earlier; ``stop_at`` interrupts the
    wait for a part once that many parts were submitted."""

    name, capacity, here = "lifo", 8, True

    def __init__(self, stop_at: int | None = None):
        self.submitted: list[list[str]] = []
        self.stop_at = stop_at
        self.cancelled = 0

    def submit(self, part):
        import actlab.execution.executors as X

        self.submitted.append([u["name"] for u in part])
        f: Future = Future()
        f.set_result(X.train_units(part))
        f.cancel = lambda: setattr(self, "cancelled", self.cancelled + 1)  # type: ignore[method-assign]
        return f

    def next_done(self, futures):
        if self.stop_at is not None and len(self.submitted) >= self.stop_at:
            self.stop_at = None
            raise KeyboardInterrupt
        return list(futures)[-1]

    def close(self):
        pass


def _numbers(records):
    """What a training's records hold but its timings."""
    out = {}
    for n, r in records.items():
        res = r["result"]
        out[n] = (
            res["status"],
            res["test"],
            [{k: v for k, v in e.items() if not k.endswith("seconds")} for e in res["epochs"]],
        )
    return out


def _units(prefix: str, plans: list[str], epochs: int) -> list[Unit]:
    base = {"dataset": "iris", "model": "mlp", "train": {"epochs": epochs, "seed": 0, "diagnostics": False}}
    return [Unit(name=f"{prefix}{i}", plan=p, **base) for i, p in enumerate(plans)]


def test_a_list_started_earlier_trains_while_a_later_one_is_waited_for(monkeypatch, tmp_path):
    """Runner.start hands a list to the executor and returns; waiting for a later list collects
    what is done of any, the earlier list's parts submitted first, and returns as soon as the
    later list is complete. Each list's records are those it gets alone."""
    import actlab.execution.runner as R

    ex = _Lifo()
    monkeypatch.setattr(R, "make_executor", lambda *a: ex)
    long_, short = _units("a", ["relu", "tanh", "elu"], 3), _units("b", ["relu", "softsign", "selu", "silu"], 1)
    with Runner(pack=2) as runner:
        first = runner.start(long_, tmp_path)
        assert ex.submitted == [["a0", "a1"], ["a2"]]  # handed over at once, the executor having room
        second = runner.start(short, tmp_path)
        got = second.wait()
        assert ex.submitted[2:] == [["b0", "b1"], ["b2", "b3"]] and not first.complete()
        assert not list(tmp_path.glob("b*.claim")) and len(list(tmp_path.glob("a*.claim"))) == 3  # a in flight
        earlier = first.wait()
    with Runner(pack=2) as alone:  # the same packs in the same process: the same numbers
        assert _numbers(alone.run(long_)) == _numbers(earlier) and _numbers(alone.run(short)) == _numbers(got)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{u.name}.json" for u in long_ + short)


def test_an_interrupted_wait_releases_every_list_in_flight_and_a_later_wait_begins_again(monkeypatch, tmp_path):
    import actlab.execution.runner as R

    ex = _Lifo(stop_at=3)
    monkeypatch.setattr(R, "make_executor", lambda *a: ex)
    long_, short = _units("a", ["relu", "tanh", "elu"], 2), _units("b", ["relu", "softsign"], 1)
    with Runner(pack=2) as runner:
        first = runner.start(long_, tmp_path)
        second = runner.start(short, tmp_path)
        with pytest.raises(KeyboardInterrupt):
            second.wait()
        assert ex.cancelled == 3 and not list(tmp_path.iterdir())  # nothing written, no claim left
        assert set(first.wait()) == {"a0", "a1", "a2"} and set(second.wait()) == {"b0", "b1"}
    assert len(list(tmp_path.glob("*.json"))) == 5 and not list(tmp_path.glob("*.claim"))


CTRL_C = """
import os, signal, time
from concurrent.futures.process import BrokenProcessPool
from actlab.execution.executors import make_executor
signal.signal(signal.SIGINT, signal.SIG_IGN)  # this process: as if it had already handled Ctrl-C
ex = make_executor(2, None, 1, 10.0)
for f in [ex.submit([]) for _ in range(4)]:
    f.result()  # the workers are started, and now wait for a part
os.killpg(0, signal.SIGINT)  # Ctrl-C: the whole process group
time.sleep(2)
try:
    ex.submit([]).result()
except BrokenProcessPool:
    print("the workers ended")
ex.close()
"""


def test_ctrl_c_ends_idle_worker_processes_quietly():
    """Ctrl-C reaches the worker processes too: one waiting for a part ends without a traceback
    (the command says it was interrupted, in one line)."""
    r = subprocess.run(
        [sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=120, start_new_session=True
    )
    assert r.returncode == 0 and "the workers ended" in r.stdout, (r.stdout, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "KeyboardInterrupt" not in r.stderr, r.stderr[-2000:]


def test_worker_processes_start_with_the_training_code_loaded_and_the_environment_of_now(monkeypatch):
    """On Linux, workers are forked from a server that imported the training code once; a worker
    still has the environment of its pool's maker as it is when the pool is made, not the older
    one the server started with."""
    start_server()  # where there is one, it runs from now (or ran already) with the environment of before
    monkeypatch.setenv("ACTLAB_PROBE", "set after the server started")
    ex = make_executor(2, None, 1, 10.0)
    try:
        assert ex.pool.submit(probe.environ, "ACTLAB_PROBE").result(timeout=120) == "set after the server started"
        if sys.platform.startswith("linux"):
            assert worker_context().get_start_method() == "forkserver"
            assert ex.pool.submit(probe.loaded, PRELOAD).result(timeout=120) == PRELOAD  # before any training
            assert ex.pool.submit(probe.ends_at_once).result(timeout=120) is True  # as the server it came from
            # the server's imports are frozen out of the garbage collector's sight, which is on
            on, frozen = ex.pool.submit(probe.collector).result(timeout=120)
            assert on and frozen > 100_000, (on, frozen)
            assert ENDS_AT_ONCE is False  # this process ends as Python does
    finally:
        ex.close()


SERVER_OF_MARKS = """
import multiprocessing as mp, os
from multiprocessing import forkserver
if __name__ == "__main__":
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["mark_first", "actlab._processes", "mark_last"])
    p = ctx.Process(target=os.getpid)
    p.start()
    p.join()
    print(forkserver._forkserver._forkserver_pid)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_the_fork_server_ends_without_tearing_its_imports_down(tmp_path):
    """When the process that started the fork server ends, the server runs the exit handlers
    registered after actlab's modules were imported and then ends at once: the handler
    registered before them, which Python's teardown would run last, never runs."""
    marks = tmp_path / "marks"
    for name in ("first", "last"):
        (tmp_path / f"mark_{name}.py").write_text(
            f"import atexit\natexit.register(lambda: open({str(marks)!r}, 'a').write('{name}\\n'))\n"
        )
    (tmp_path / "main.py").write_text(SERVER_OF_MARKS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).resolve().parents[1])])}
    r = subprocess.run([sys.executable, "main.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    server = Path(f"/proc/{int(r.stdout)}/stat")
    deadline = time.monotonic() + 120
    while server.exists() and server.read_text().rsplit(")", 1)[-1].split()[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.05)  # until the server has ended (a zombie: its reaper may be slow)
    assert marks.read_text().split() == ["last"]


NO_CUDA_IN_SERVER = """
import torch
asked = []
for name in ("is_available", "device_count", "init", "current_device", "get_device_capability"):
    setattr(torch.cuda, name, lambda *a, _n=name, **k: asked.append(_n))
import importlib
from actlab._processes import PRELOAD
for module in PRELOAD:
    importlib.import_module(module)
print("asked", sorted(set(asked)))
"""


def test_the_fork_servers_imports_never_touch_cuda():
    """A process forked after CUDA is initialised cannot use CUDA: what the fork server imports
    must not initialise it (nor ask whether there is a GPU, which does), so that workers can
    train on a GPU."""
    r = subprocess.run([sys.executable, "-c", NO_CUDA_IN_SERVER], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "asked []", (r.stdout, r.stderr[-2000:])
