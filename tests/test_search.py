"""`actlab search`: a real study, validation objective, SIGKILL and resume with the budget kept,
cooperating workers on a journal file and on a real PostgreSQL server, bad input."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from actlab import SIPPER48
from actlab.data import load
from actlab.models import build
from actlab.stats import NOT_CONVERGED, OUTCOMES, converged, result_converged
from actlab.studies.search import SearchConfig, candidates, plan_of, work
from actlab.studies.search.study import DONE, HEARTBEAT, RETRY_OF, SURPLUS, make_storage
from actlab.training import TrainConfig, train
from tests.conftest import stopped_when, wait_until

CLI = [sys.executable, "-m", "actlab.cli", "search"]
FAST = [
    "--dataset",
    "iris",
    "--layers",
    "3",
    "--candidates",
    "relu,tanh,elu,sigmoid,sin",
    "--epochs",
    "8",
    "--threads",
    "1",
    "--quiet",
]


def run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def trials_of(url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    storage = make_storage(url, Path("."))
    return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)


def trials_now(sqlite_url: str, study: str) -> list[optuna.trial.FrozenTrial]:
    """The trials as they stand, read without waiting: a process stopped while it holds the
    database's lock makes this raise at once instead of blocking (actlab's storages wait 120 s)."""
    storage = optuna.storages.RDBStorage(sqlite_url, engine_kwargs={"connect_args": {"timeout": 0.5}})
    try:
        return optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
    finally:
        storage.engine.dispose()


def test_a_real_study_writes_results_and_a_report(tmp_path, chromium):
    out = tmp_path / "s"
    r = run(*FAST, "--trials", "10", "--final-seeds", "3", "--top-k", "2", "--out", str(out))
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["counts"]["done"] == 10 and res["counts"]["failed"] == 0
    assert res["space"]["slots"] == ["input", "hidden_1"]  # output stays identity: logits into the loss
    names = [c["name"] for c in res["final"]["configs"]]
    assert names[0] == "baseline" and names[1] == "top-1"
    assert res["final"]["configs"][0]["plan"] == {"input": "relu", "hidden_1": "relu"}
    best = max(t["value"] for t in res["trials"] if t["state"] == "COMPLETE")
    assert res["final"]["configs"][1]["val_accuracy"] == best
    assert all(len(c["test_accuracy"]) == 3 for c in res["final"]["configs"])
    assert "baseline" in r.stdout and "top-1" in r.stdout and str(out / "report.html") in r.stdout
    for f in ("history.png", "winners.png", "report.html"):
        assert (out / f).stat().st_size > 1000
    dom = chromium((out / "report.html").as_uri(), "--dump-dom")
    assert "Final evaluation on test" in dom.stdout and "top-1" in dom.stdout


def test_search_output_adds_the_output_slot(tmp_path):
    cfg = SearchConfig(dataset="iris", layers=3, candidates=["relu", "tanh"], search_output=True)
    assert cfg.space((4,), 3)["slots"] == ["input", "hidden_1", "output"]


def test_objective_is_the_best_validation_accuracy_and_reproducible(tmp_path):
    data = load("iris", seed=0)
    cfg = SearchConfig(
        dataset="iris",
        layers=3,
        candidates=["relu", "tanh", "elu"],
        trials=3,
        sampler="random",
        pruner="none",
        train=TrainConfig(epochs=6, patience=None, monitor="val_accuracy"),
    )
    storage = make_storage(None, tmp_path)
    work(cfg, storage, "s", data, progress=False)
    space = cfg.space(data.input_shape, data.n_classes)
    for t in trials_of(f"sqlite:///{tmp_path / 'study.db'}", "s"):
        again = train(
            lambda t=t: build("mlp", data.input_shape, data.n_classes, plan_of(t.params, space), width=64, depth=3),
            data,
            TrainConfig.from_dict({**cfg.train.to_dict(), "seed": cfg.seed, "diagnostics": False}),
        )
        assert t.value == max(e["val_accuracy"] for e in again.epochs)


def test_sigkill_then_resume_keeps_finished_trials_retries_the_interrupted_one(tmp_path):
    out = tmp_path / "k"
    args = [
        *CLI,
        "--dataset",
        "digits",
        "--layers",
        "3",
        "--candidates",
        "relu,tanh,elu",
        "--epochs",
        "25",
        "--patience",
        "0",
        "--pruner",
        "none",
        "--trials",
        "6",
        "--final-seeds",
        "0",
        "--threads",
        "1",
        "--out",
        str(out),
        "--quiet",
    ]
    url = f"sqlite:///{out / 'study.db'}"
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def two_done_one_running():
        if not (out / "study.db").exists():
            return False
        try:
            ts = trials_now(url, "actlab-digits-mlp")
        except Exception:  # being created, or locked by the stopped process
            return False
        # a running trial that has made a choice: the retry must keep it
        return sum(t.state == TrialState.COMPLETE for t in ts) >= 2 and any(
            t.state == TrialState.RUNNING and t.params for t in ts
        )

    assert stopped_when(proc.pid, two_done_one_running), "the search did not get going"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: (t.state, t.value, t.params) for t in trials_of(url, "actlab-digits-mlp")}
    running = [n for n, (s, _, _) in before.items() if s == TrialState.RUNNING]
    assert len(running) == 1
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    after = {t.number: t for t in trials_of(url, "actlab-digits-mlp")}
    for n, (state, value, _params) in before.items():
        if state == TrialState.COMPLETE:
            assert after[n].state == TrialState.COMPLETE and after[n].value == value  # kept, not rerun
    interrupted = after[running[0]]
    assert interrupted.state == TrialState.FAIL
    retries = [t for t in after.values() if t.user_attrs.get(RETRY_OF) == running[0]]
    # the retry keeps every choice the interrupted trial had made; a kill between two suggestions
    # leaves it only some of them, and the retry's sampler then draws the rest
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert interrupted.params and interrupted.params.items() <= retries[0].params.items()
    assert set(retries[0].params) == {"act_input", "act_hidden_1"}
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in after.values()) == 6  # the budget


def _trials_or_none(url: str, study: str) -> list[optuna.trial.FrozenTrial] | None:
    try:
        return trials_of(url, study)
    except Exception:  # the storage or the study is not there yet
        return None


def _worker_pids(trials, states=tuple(TrialState)) -> set[int]:
    return {t.system_attrs[HEARTBEAT]["pid"] for t in trials or () if t.state in states and HEARTBEAT in t.system_attrs}


def _hold_the_first_worker(url: str, study: str, journal: Path) -> None:
    """Stop the first worker seen with a trial (SIGSTOP) until another worker has finished one, so
    that both run trials whatever their start-up times (the first could take the whole budget
    before the other has imported torch). It is stopped while this process holds the journal's
    lock, so never inside a write."""
    from optuna.storages.journal import JournalFileOpenLock

    first: set[int] = set()
    assert wait_until(lambda: first.update(_worker_pids(_trials_or_none(url, study))) or first), "no worker got going"
    if len(first) > 1:
        return  # both have a trial already
    (pid,) = first
    lock = JournalFileOpenLock(str(journal))
    lock.acquire()
    try:
        os.kill(pid, signal.SIGSTOP)
    finally:
        lock.release()
    try:
        assert wait_until(lambda: _worker_pids(_trials_or_none(url, study), DONE) - {pid}), (
            "no other worker finished a trial"
        )
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def _first_trials_asked_together(url: str):
    """Workers started inside ask their first trials together: Optuna's trials table is locked
    against writes (reads go on) until one worker waits to insert its trial and another waits for
    the study's row that the first holds while it inserts; each then gets a trial, whatever their
    start-up times."""
    import sqlalchemy

    make_storage(url, Path("."))  # Optuna's tables, before they are locked
    engine = sqlalchemy.create_engine(url)
    waiting = sqlalchemy.text(
        "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )

    def both_asking() -> bool:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
            queries = [q.strip().upper() for (q,) in watch.execute(waiting)]
        return any(q.startswith("INSERT INTO TRIALS") for q in queries) and any("FOR UPDATE" in q for q in queries)

    try:
        with engine.connect() as holder:
            holder.execute(sqlalchemy.text("LOCK TABLE trials IN SHARE MODE"))
            yield
            assert wait_until(both_asking), "the workers did not both come to ask a trial"
            holder.rollback()
    finally:
        engine.dispose()


def _two_workers_cooperate(url: str, study: str, tmp_path: Path, *, separate_processes: bool):
    common = [*FAST, "--storage", url, "--study", study, "--trials", "8", "--final-seeds", "0", "--pruner", "none"]
    if separate_processes:  # as two machines would: two commands started at once
        with _first_trials_asked_together(url):
            procs = [
                subprocess.Popen(
                    [*CLI, *common, "--out", str(tmp_path / f"w{i}")],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for i in range(2)
            ]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
    else:
        proc = subprocess.Popen(
            [*CLI, *common, "--n-jobs", "2", "--out", str(tmp_path / "w")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _hold_the_first_worker(url, study, Path(url.removeprefix("journal:")))
        finally:
            _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    ts = trials_of(url, study)
    numbers = [t.number for t in ts]
    assert len(numbers) == len(set(numbers)) == max(numbers) + 1  # unique and gap-free
    done = [t for t in ts if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 8
    assert all(t.system_attrs.get(SURPLUS) for t in ts if t.state == TrialState.FAIL)
    assert len(_worker_pids(done)) == 2, "both workers must have run trials"


def test_two_local_workers_on_one_journal_file(tmp_path):
    _two_workers_cooperate(f"journal:{tmp_path / 'study.log'}", "j", tmp_path, separate_processes=False)


def test_two_processes_on_one_postgresql_study(tmp_path, postgres_url):
    _two_workers_cooperate(postgres_url, "pg", tmp_path, separate_processes=True)


def test_sipper48_candidates_are_the_papers_list():
    c = candidates("sipper48")
    assert c == list(SIPPER48) and len(c) == len(set(c)) == 48
    every = candidates("all")
    assert "relu" in every and "gumbel_softmax" not in every and "frelu" not in every


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--candidates", "relu,nosuch"], "unknown activation 'nosuch'"),
        (["--candidates", ""], "candidate list is empty"),
        (["--storage", "nonsense"], "cannot parse storage"),
        (["--storage", "postgresql://u@127.0.0.1:1/db"], "cannot open storage"),
        (["--sampler", "annealing"], "unknown sampler"),
        (["--trials", "0"], "--trials must be at least 1"),
        (["--n-jobs", "2", "--heartbeat", "0"], "--heartbeat must be at least 1"),
        (["--threads", "-1"], "threads must be at least 1"),
        (["--storage", "mysql://u:s3cret@127.0.0.1/db"], "pip install pymysql and write the URL as mysql+pymysql://"),
        (["--storage", "postgresql+psycopg2://u:s3cret@127.0.0.1/db"], "pip install psycopg2-binary"),
        (
            ["--storage", "postgresql://u:s3cret@127.0.0.1:1/db"],
            "cannot open storage 'postgresql://u:***@127.0.0.1:1/db'",
        ),
        (["--storage", "postgresql://u:s3cret@127.0.0.1:notaport/db"], "cannot open storage"),
        (["--storage", "u:s3cret@127.0.0.1"], "cannot parse storage"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, expected):
    r = run(*FAST, "--trials", "2", "--out", str(tmp_path / "o"), *args, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert expected in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "s3cret" not in r.stdout + r.stderr  # a storage URL's password is never printed
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--trials", "1000000000000"], "--trials must be at most"),
        (["--heartbeat", "nan"], "--heartbeat must be a finite number"),
        (["--heartbeat", "inf"], "--heartbeat must be a finite number"),
        (["--heartbeat", "1e12"], "--heartbeat must be at most"),
        (["--threads", "1000000000000"], "threads must be at most"),
        (["--n-jobs", "0"], "--n-jobs must be at least 1"),
        (["--n-jobs", "1000000000000"], "--n-jobs must be at most"),
        (["--pack", "0"], "--pack must be at least 1"),
        (["--pack", "1000000000000"], "--pack must be at most"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--seed", "1000000000000"], "--seed must be at most"),
        (["--epochs", "0"], "epochs must be at least 1"),
        (["--epochs", "1000000000000"], "epochs must be at most"),
        (["--batch-size", "0"], "batch size must be at least 1"),
        (["--batch-size", "1000000000000"], "batch size must be at most"),
        (["--lr", "nan"], "learning rate must be a finite number"),
        (["--lr", "-1"], "learning rate must be greater than 0"),
        (["--patience", "-1"], "patience must be at least 1"),
        (["--layers", "1"], "--layers must be at least 2"),
        (["--layers", "1000000000000"], "--layers must be at most"),
        (["--width", "0"], "--width must be at least 1"),
        (["--width", "1000000000000"], "--width must be at most"),
        (["--final-seeds", "-1"], "--final-seeds must be at least 0"),
        (["--final-seeds", "1000000000000"], "--final-seeds must be at most"),
        (["--top-k", "-1"], "--top-k must be at least 0"),
        (["--limit", "0"], "limit must be a positive integer"),
        (["--epochs", "1.5"], "invalid int value"),
        (["--epochs"], "expected one argument"),
    ],
)
def test_every_numeric_option_is_checked_in_one_line(tmp_path, capsys, args, expected):
    """The same checks as above, through the command's own entry point in this process (fast)."""
    from actlab.cli import main

    try:
        code = main(["search", *FAST, "--trials", "1", "--out", str(tmp_path / "o"), *args])
    except SystemExit as e:  # argparse's own one-line errors
        code = e.code
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "o" / "results.json").exists()


def test_a_study_with_another_search_space_is_refused(tmp_path):
    out = str(tmp_path / "o")
    assert run(*FAST, "--trials", "1", "--final-seeds", "0", "--out", out).returncode == 0
    r = run(*FAST, "--candidates", "relu,gelu", "--trials", "1", "--out", out)
    assert r.returncode == 2 and "different search space" in r.stderr and "candidates" in r.stderr


def test_cmaes_and_grid_samplers_run(tmp_path):
    for sampler, cands in (("cmaes", "relu,tanh,elu,sin"), ("grid", "relu,tanh")):
        r = run(
            "--dataset",
            "iris",
            "--layers",
            "3",
            "--candidates",
            cands,
            "--epochs",
            "3",
            "--sampler",
            sampler,
            "--trials",
            "4",
            "--final-seeds",
            "0",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(tmp_path / sampler),
        )
        assert r.returncode == 0, r.stderr
        res = json.loads((tmp_path / sampler / "results.json").read_text())
        assert res["counts"]["done"] == 4
        plans = [tuple(t["plan"].values()) for t in res["trials"] if t["plan"]]
        if sampler == "grid":  # 2 x 2 grid: every point once
            assert sorted(plans) == sorted({(a, b) for a in ("relu", "tanh") for b in ("relu", "tanh")})


def test_offline_suite_prints_a_win_tie_loss_table(tmp_path):
    from actlab.data import available

    r = run(
        "--suite",
        "offline",
        "--layers",
        "3",
        "--candidates",
        "relu,tanh,elu",
        "--trials",
        "3",
        "--epochs",
        "3",
        "--final-seeds",
        "3",
        "--top-k",
        "1",
        "--limit",
        "300",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    expected = ["iris", "wine", "breast_cancer", "digits", "mnist1d"] + (
        ["fashion-mnist"] if available("fashion-mnist") else []
    )
    table = r.stdout.split("outcome", 1)[1]
    for name in expected:
        line = next(ln for ln in table.splitlines() if ln.startswith(name))
        assert line.endswith(OUTCOMES)  # 3 epochs, doubled up to 12: some may still be "not converged"
        assert (tmp_path / name / "report.html").exists()
    tally = [int(v) for v in r.stdout.split("win / tie / loss against the baseline:")[1].split()[0:5:2]]
    late = table.count(f"  {NOT_CONVERGED}\n")
    assert sum(tally) + late == len(expected)
    assert (f"({late} {NOT_CONVERGED})" in r.stdout) == (late > 0)
    assert "FutureWarning" not in r.stderr


def test_a_pack_of_trials_trains_together_each_as_if_alone(tmp_path):
    out = tmp_path / "pack"
    r = run(*FAST, "--trials", "8", "--pack", "4", "--pruner", "none", "--final-seeds", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    ts = trials_of(f"sqlite:///{out / 'study.db'}", "actlab-iris-mlp")
    assert sorted(t.number for t in ts) == list(range(8)) and all(t.state == TrialState.COMPLETE for t in ts)
    assert all(t.user_attrs["packed"] == 4 for t in ts)
    data = load("iris", seed=0)
    cfg = TrainConfig(
        epochs=8, batch_size=128, patience=5, monitor="val_accuracy", threads=1, seed=0, diagnostics=False
    )
    for t in ts[:4]:  # the value Optuna got is what the plan gives trained alone (the command's settings)
        plan = t.user_attrs["plan"]
        alone = train(
            lambda plan=plan: build("mlp", data.input_shape, data.n_classes, plan, width=64, depth=3), data, cfg
        )
        assert t.value == max(e["val_accuracy"] for e in alone.epochs)


RACER = """
import sys
from pathlib import Path
import optuna
from actlab.studies.search.study import make_storage, open_study
print("ready", flush=True)
for line in sys.stdin:
    storage = make_storage(None, Path(line.strip()))
    open_study(storage, "race", {"a": 1}, optuna.samplers.RandomSampler())
    print("ok", flush=True)
"""


def test_processes_started_together_create_and_share_one_sqlite_study(tmp_path):
    """Four real processes create the default SQLite storage and the study in one fresh folder at
    the same instant, eight times over (the race is narrow: one round alone often misses it)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        assert all(p.stdout.readline().strip() == "ready" for p in procs)
        for k in range(8):
            folder = tmp_path / f"r{k}"
            folder.mkdir()
            for p in procs:  # released together: each is already waiting on its input
                p.stdin.write(f"{folder}\n")
                p.stdin.flush()
            for p in procs:
                if p.stdout.readline().strip() != "ok":
                    p.kill()
                    pytest.fail(f"round {k}: a process failed: {p.stderr.read()[-1500:]}")
        assert len(optuna.get_all_study_summaries(make_storage(None, folder))) == 1
    finally:
        for p in procs:
            p.kill()


def test_two_searches_started_at_once_on_one_fresh_out_share_the_study(tmp_path):
    out = tmp_path / "fresh"
    procs = [
        subprocess.Popen(
            [*CLI, *FAST, "--trials", "6", "--pruner", "none", "--final-seeds", "0", "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    ts = trials_of(f"sqlite:///{out / 'study.db'}", "actlab-iris-mlp")
    numbers = [t.number for t in ts]
    assert len(numbers) == len(set(numbers))
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in ts) == 6
    assert all(t.system_attrs.get(SURPLUS) for t in ts if t.state == TrialState.FAIL)
    assert json.loads((out / "results.json").read_text())["counts"]["done"] == 6


def final_records(out: Path) -> dict[int, list[dict]]:
    """The final evaluation's run records in ``out/final``, by their epoch budget."""
    by_budget: dict[int, list[dict]] = {}
    for f in (out / "final").glob("*.json"):
        rec = json.loads(f.read_text())
        by_budget.setdefault(rec["unit"]["train"]["epochs"], []).append(rec)
    return by_budget


def verdicts_follow_the_convergence_rule(final: dict, records: list[dict]) -> None:
    """Each contender's convergence, and each verdict, is the rule of actlab.stats applied to the
    records of the last round: "not converged" exactly where a side had not converged."""
    late = set()
    for c in final["configs"]:
        runs = [r for r in records if {k: v or "linear" for k, v in r["unit"]["plan"].items()} == c["plan"]]
        assert len(runs) == len(final["seeds"])
        settled = [result_converged(r["result"]) for r in runs]
        assert c["converged"] == converged(settled) and c["unconverged"] == settled.count(False)
        late |= {c["name"]} if not c["converged"] else set()
    for c in final["configs"][1:]:
        assert (c["outcome"] == NOT_CONVERGED) == bool({c["name"], "baseline"} & late)


def test_the_final_evaluation_treats_the_baseline_like_every_contender(tmp_path):
    """The README's first search (iris, 5 layers, the 48 candidates, batch 8): every contender,
    the ReLU baseline included, gets the same seeds and the full epoch budget with its best
    validation epoch restored. (The baseline used to be retrained for the epoch count of one flat
    validation run: 1 epoch, 0.39 test accuracy, and every configuration 'won'.)"""
    out = tmp_path / "iris"
    r = run(
        "--dataset",
        "iris",
        "--layers",
        "5",
        "--candidates",
        "sipper48",
        "--trials",
        "12",
        "--batch-size",
        "8",
        "--final-seeds",
        "3",
        "--top-k",
        "2",
        "--threads",
        "1",
        "--quiet",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    final = json.loads((out / "results.json").read_text())["final"]
    seeds = final["seeds"]
    assert len(seeds) == 3 and 0 not in seeds  # fresh seeds, not the search's own
    records = final_records(out)
    assert sorted(records) == final["budgets"] and final["budgets"][0] == 30 and final["epochs"] == final["budgets"][-1]
    for (
        budget,
        recs,
    ) in records.items():  # every run: the full budget of its round, the best validation-loss epoch restored
        assert len(recs) == 3 * len(final["configs"])
        for rec in recs:
            assert rec["unit"]["train"]["epochs"] == budget and rec["unit"]["train"]["monitor"] == "val_loss"
            assert len(rec["result"]["epochs"]) == budget and rec["result"]["best_epoch"] is not None
    base = next(c for c in final["configs"] if c["name"] == "baseline")
    assert set(base["plan"].values()) == {"relu"} and len(base["plan"]) == 4  # the 4 searched slots
    assert base["mean"] > 0.6  # ReLU at its strength on iris, not a one-epoch model (0.39)
    assert all(c["outcome"] in ("baseline", *OUTCOMES) for c in final["configs"])
    verdicts_follow_the_convergence_rule(final, records[final["epochs"]])


def test_a_final_evaluation_that_has_not_converged_trains_everyone_longer_then_gives_no_verdict(tmp_path):
    """Iris at batch 128 for 3 epochs is 3 optimizer steps: no run has converged. Every contender
    trains again, alike, with 6 and then 12 epochs (the limit, 4 times the budget); still
    improving there, the top-1 gets "not converged", not a win or a loss, and the table says why."""
    out = tmp_path / "short"
    r = run(
        "--dataset",
        "iris",
        "--layers",
        "3",
        "--candidates",
        "relu,tanh,elu",
        "--epochs",
        "3",
        "--trials",
        "3",
        "--pruner",
        "none",
        "--final-seeds",
        "3",
        "--top-k",
        "1",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-3000:]
    final = json.loads((out / "results.json").read_text())["final"]
    records = final_records(out)
    assert final["budgets"] == sorted(records) == [3, 6, 12] and final["epochs"] == 12
    assert all(len(recs) == 3 * 2 and all(len(x["result"]["epochs"]) == b for x in recs) for b, recs in records.items())
    assert "every contender again with 6 epochs" in r.stderr and "every contender again with 12 epochs" in r.stderr
    assert final["configs"][1]["outcome"] == NOT_CONVERGED
    verdicts_follow_the_convergence_rule(final, records[12])
    assert "not converged" in r.stdout and "train longer with --epochs" in r.stdout and "doubled from 3" in r.stdout
    assert "not converged" in (out / "report.html").read_text()
    warning = [ln for ln in r.stderr.splitlines() if ln.startswith("actlab: warning:")]
    assert warning == [next(ln for ln in r.stderr.splitlines() if "optimizer step per epoch, 3 in 3 epochs" in ln)]


def test_the_top_configuration_and_the_baseline_transfer_to_other_tasks(tmp_path):
    """--transfer-to: the final contenders train on other tasks with the final seeds and epochs."""
    import actlab

    out = tmp_path / "t"
    options = {"dataset": "iris", "layers": 3, "width": 8, "candidates": "relu,tanh", "trials": 2, "epochs": 2}
    options |= {"batch_size": 16, "final_seeds": 2, "top_k": 1, "threads": 1, "quiet": True}
    result = actlab.search(**options, transfer_to="wine", out=out)
    final = result.results["final"]
    table = final["transfer"]
    assert [t["task"] for t in table["tasks"]] == ["wine/mlp"] and table["functions"] == ["baseline", "top-1"]
    assert table["reference"] == "baseline" and table["seeds"] == final["seeds"]
    runs = [json.loads(p.read_text()) for p in (out / "transfer").glob("*.json")]
    assert len(runs) == 2 * 2 and {r["unit"]["dataset"] for r in runs} == {"wine"}
    assert {r["unit"]["train"]["seed"] for r in runs} == set(final["seeds"])
    assert {r["unit"]["train"]["epochs"] for r in runs} == {final["epochs"]}
    assert "transfer to other tasks" in result.table()
    assert "Transfer to other tasks" in (out / "report.html").read_text()


def test_trials_are_selected_on_validation_and_never_score_test(monkeypatch):
    """A pack of trials and a trial alone (softmax acts along a dimension: it never packs) train
    without final scores, and Optuna gets each one's best validation accuracy."""
    import actlab.studies.search.trials as T
    from actlab.studies.search.config import SearchConfig

    results = []

    def kept(fn):
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            results.extend(out if isinstance(out, list) else [out])
            return out

        return wrapper

    monkeypatch.setattr(T, "train_population", kept(T.train_population))
    monkeypatch.setattr(T, "train", kept(T.train))

    class Trial:
        def __init__(self):
            self.attrs = {}

        def report(self, value, epoch):
            pass

        def should_prune(self):
            return False

        def set_user_attr(self, key, value):
            self.attrs[key] = value

    class Bar:
        def update(self, text):
            pass

    config = SearchConfig(dataset="iris", train={"epochs": 3, "patience": None, "threads": 1})
    slots = ["input", *(f"hidden_{i}" for i in range(1, config.layers - 1))]
    plans = [dict.fromkeys(slots, fn) for fn in ("tanh", "elu", "softmax")]
    trials = [Trial() for _ in plans]
    got = T._run_trials(trials, plans, config, load("iris", seed=0), Bar())
    # the two packable trials train as one pack, then softmax alone: results in that order
    assert [t.attrs["packed"] for t in trials] == [2, 2, 1] and len(results) == 3
    assert all(r.test == {} and r.final_train == {} for r in results)
    assert [v for _, v in got] == [max(e["val_accuracy"] for e in r.epochs) for r in results]
