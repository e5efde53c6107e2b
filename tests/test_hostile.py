"""Acceptance test of actlab against hostile input: one table of cases over every sub-command,
every option and every file actlab reads.

Each case runs ``actlab ...`` (in this process through ``actlab.cli.main``; in a fresh process
only where the case needs one, e.g. bytes in argv that are not UTF-8) or one library call, in
a temporary working directory ``work/`` next to a folder ``outside/``. For every case:

* the exit status is 2 (a library call raises :class:`ActlabError`);
* stderr is exactly one line, starting ``actlab: error:`` (a library error is one line), and no
  ``Traceback`` appears anywhere; a password given in a URL is never printed;
* no file or folder is created, changed or removed anywhere but inside the case's ``--out``
  folder ``work/out`` (``work/`` and ``outside/`` are compared byte by byte before and after);
* files that were in ``work/out`` before (earlier results) are still there, byte for byte;
* nothing the input smuggles in runs: specs and files that would create ``outside/CANARY`` if
  they were evaluated or unpickled leave it absent;
* nothing trains: every case fails before the first training step (a trip-wire replaces the
  trainers), so each takes a second or two (the test allows 120 s: it bounds runaway work, not
  the speed of a loaded machine).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import math
import os
import pickle
import shlex
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from actlab import ActlabError
from actlab.cli import main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


# ------------------------------------------------------------------------------- the harness
@dataclass
class Ctx:
    """Where a case runs: ``work`` is the working directory, ``out`` the case's --out folder
    (inside ``work``), ``files`` the inputs a case prepares, ``outside`` a sibling folder."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def out(self) -> Path:
        return self.work / "out"

    @property
    def files(self) -> Path:
        return self.work / "files"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    @property
    def canary(self) -> Path:
        return self.outside / "CANARY"

    def fill(self, text: str) -> str:
        for k in ("out", "files", "outside", "canary", "work"):
            text = text.replace("{" + k + "}", str(getattr(self, k)))
        return text


@dataclass
class Case:
    id: str
    argv: str | list | None = None  # a shell-like line (split with shlex) or a list; placeholders {out} {files} ...
    setup: Callable[[Ctx], Any] | None = None  # prepares input files (before the snapshot)
    call: Callable[[Ctx], Any] | None = None  # a library call instead of the command line
    fresh: bool = False  # in a fresh process (argv may hold bytes)
    secret: str | None = None  # must never be printed
    marks: tuple = ()
    patch: dict = field(default_factory=dict)  # "module.NAME": value, set for the case (e.g. a smaller limit)
    env: dict = field(default_factory=dict)  # environment of a fresh process
    says: str | None = None  # text the one line must hold (e.g. the real range of a value)


def _snapshot(root: Path) -> dict[str, str]:
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        for n in dirnames:
            p = d / n
            snap[str(p.relative_to(root))] = "link:" + os.readlink(p) if p.is_symlink() else "dir"
        for n in filenames:
            p = d / n
            if p.is_symlink():
                snap[str(p.relative_to(root))] = "link:" + os.readlink(p)
            else:
                snap[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return snap


class TrainingStarted(BaseException):
    """Raised by the trip-wire that replaces the trainers: a case got as far as training."""


@pytest.fixture
def no_training(monkeypatch):
    import actlab.execution.worker
    import actlab.studies.compare.run
    import actlab.studies.search.trials

    def tripwire(*args, **kwargs):
        raise TrainingStarted("a hostile case got as far as training")

    for mod, name in (
        (actlab.execution.worker, "train"),
        (actlab.execution.worker, "train_population"),
        (actlab.studies.search.trials, "train"),
        (actlab.studies.search.trials, "train_population"),
        (actlab.studies.compare.run, "train"),
    ):
        monkeypatch.setattr(mod, name, tripwire)


def _run_fresh(ctx: Ctx, argv: list, extra_env: dict) -> tuple[int, str, str]:
    args = [os.fsencode(ctx.fill(os.fsdecode(a))) for a in argv]
    env = {**os.environ, "ACTLAB_DATA": str(ctx.work / "data-cache"), "PYTHONPATH": str(REPO), **extra_env}
    p = subprocess.run(
        [sys.executable.encode(), b"-m", b"actlab.cli", *args], cwd=ctx.work, env=env, capture_output=True, timeout=120
    )
    return p.returncode, p.stdout.decode("utf-8", "backslashreplace"), p.stderr.decode("utf-8", "backslashreplace")


def _run_here(ctx: Ctx, argv: list, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        rc = main([ctx.fill(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------------- the files
def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def files(name: str, content: bytes | str | Callable[[Ctx], bytes]):
    """A setup writing ``work/files/NAME``."""

    def setup(ctx: Ctx):
        write(ctx.files / name, content(ctx) if callable(content) else content)

    return setup


def both(*setups):
    def setup(ctx: Ctx):
        for s in setups:
            s(ctx)

    return setup


class _Canary:
    """Unpickling this calls ``open(CANARY, "w")``: it creates the canary file."""

    def __init__(self, path: Path, how: str = "open"):
        self.path, self.how = str(path), how

    def __reduce__(self):
        if self.how == "system":
            return os.system, (f"touch {shlex.quote(self.path)}",)
        if self.how == "eval":
            return eval, (f"open({self.path!r}, 'w')",)
        if self.how == "exec":
            return exec, (f"open({self.path!r}, 'w')",)
        return open, (self.path, "w")


def evil_pickle(ctx: Ctx, how: str = "open", protocol: int = 2) -> bytes:
    return pickle.dumps({b"data": _Canary(ctx.canary, how), b"labels": [0]}, protocol=protocol)


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def npy_with_header(header: str, payload: bytes = b"") -> bytes:
    """An .npy file with a hand-written header (e.g. a shape of 10**12 rows)."""
    h = header.encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + payload


def zip_of(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


RNG = np.random.default_rng(0)
X_OK = RNG.normal(size=(40, 3))
Y_OK = np.arange(40) % 2


def idx(dtype_code: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, dtype_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def mnist_files(**replace: bytes):
    """A setup writing the four MNIST IDX files (20 train, 10 test images) into work/files/mnist,
    with some of them replaced."""
    n, m = 20, 10
    good = {
        "train-images-idx3-ubyte": idx(0x08, (n, 28, 28), bytes(n * 784)),
        "train-labels-idx1-ubyte": idx(0x08, (n,), bytes(i % 10 for i in range(n))),
        "t10k-images-idx3-ubyte": idx(0x08, (m, 28, 28), bytes(m * 784)),
        "t10k-labels-idx1-ubyte": idx(0x08, (m,), bytes(i % 10 for i in range(m))),
    }

    def setup(ctx: Ctx):
        for k, v in {**good, **replace}.items():
            write(ctx.files / "mnist" / k, v(ctx) if callable(v) else v)

    return setup


def cifar_batch(n: int = 10, override: dict | None = None) -> bytes:
    d = {b"data": np.zeros((n, 3072), np.uint8), b"labels": [i % 10 for i in range(n)], **(override or {})}
    return pickle.dumps(d, protocol=2)


def cifar_dir(**replace):
    """A setup writing cifar-10-batches-py (tiny batches) into work/files/cifar, some replaced."""

    def setup(ctx: Ctx):
        batches = {f"data_batch_{i}": cifar_batch() for i in range(1, 6)}
        batches["test_batch"] = cifar_batch()
        for k, v in {**batches, **replace}.items():
            write(ctx.files / "cifar" / "cifar-10-batches-py" / k, v(ctx) if callable(v) else v)

    return setup


def cifar_tar(member_name: str, content: Callable[[Ctx], bytes]):
    """A setup writing cifar-10-python.tar.gz whose batch ``member_name`` is ``content``."""

    def setup(ctx: Ctx):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
                data = content(ctx) if name == member_name else cifar_batch()
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo("../../outside/ESCAPED")  # never extracted
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        write(ctx.files / "cifar" / "cifar-10-python.tar.gz", buf.getvalue())

    return setup


def usps_files(train: bytes):
    def setup(ctx: Ctx):
        write(ctx.files / "usps" / "usps", train)
        write(ctx.files / "usps" / "usps.t", b"1 1:0.5\n2 2:0.5\n")

    return setup


# ------------------------------------------------------------------------ earlier results in out
def mark(ctx: Ctx, command: str) -> None:
    write(ctx.out / ".actlab.json", json.dumps({"command": command}))


def prior_search(ctx: Ctx) -> None:
    mark(ctx, "search")
    write(ctx.out / "results.json", json.dumps({"study": "s", "space": {}, "counts": {}, "trials": []}))
    write(ctx.out / "report.html", "<html>search</html>")


def prior_compare(ctx: Ctx) -> None:
    mark(ctx, "compare")
    write(ctx.out / "results.json", json.dumps({"summary": [], "runs": [], "config": {}}))
    write(ctx.out / "report.html", "<html>compare</html>")


def prior_evolve(ctx: Ctx) -> None:
    mark(ctx, "evolve")
    write(ctx.out / "checkpoint.json", checkpoint_text())
    write(ctx.out / "best.json", json.dumps(BEST))


def foreign_results(ctx: Ctx) -> None:
    """A folder holding a results.json and report that actlab did not write."""
    write(ctx.out / "results.json", json.dumps({"my": "thesis numbers"}))
    write(ctx.out / "report.html", "<html>mine</html>")


RESULT = {
    "status": "finished",
    "epochs": [{"epoch": 1, "seconds": 0.02, "train_accuracy": 0.5, "val_accuracy": 0.4}],
    "test": {"loss": 1.0, "accuracy": 0.5, "f1": 0.4},
    "final_train": {"loss": 1.0, "accuracy": 0.6},
    "best_epoch": 1,
    "n_params": 100,
    "seconds": 0.05,
    "diagnostics": {},
}


def prior_runs(ctx: Ctx) -> None:
    """Finished compare runs of another configuration (another key) under out/runs."""
    mark(ctx, "compare")
    for name in ("relu__seed0", "tanh__seed0"):
        write(
            ctx.out / "runs" / f"{name}.json",
            json.dumps({"format": "actlab-unit", "key": "0123456789abcdef", "unit": {}, "result": RESULT, "packed": 1}),
        )


_CHECKPOINT: dict[str, str] = {}


def checkpoint_text() -> str:
    """A real evolve checkpoint (iris, single mode, generation 0; made without training)."""
    if "text" not in _CHECKPOINT:
        import tempfile

        from actlab.studies.evolve.config import EvolveConfig
        from actlab.studies.evolve.run import run_evolution

        cfg = EvolveConfig(dataset="iris", data_options={}, population=4, generations=3, final_seeds=0)
        with tempfile.TemporaryDirectory() as d:
            run_evolution(
                cfg, Path(d) / "run", evaluator=lambda t: {"fitness": 0.5, "status": "ok"}, progress=False, stop_after=0
            )
            _CHECKPOINT["text"] = (Path(d) / "run" / "checkpoint.json").read_text()
    return _CHECKPOINT["text"]


def checkpoint(change: Callable[[dict], Any] | bytes | str):
    """A setup writing out/checkpoint.json: the real one changed by ``change``, or given bytes."""

    def setup(ctx: Ctx):
        mark(ctx, "evolve")
        if callable(change):
            d = json.loads(checkpoint_text())
            change(d)
            write(ctx.out / "checkpoint.json", json.dumps(d))
        else:
            write(ctx.out / "checkpoint.json", change)

    return setup


def _set(path: tuple, value):
    def change(d):
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value

    return change


BEST = {"format": "actlab-evolve-best", "version": 1, "mode": "single", "functions": {"all": "x * tanh(x)"}}


def best(**changes):
    return files("best.json", json.dumps({**BEST, **changes}))


def best_learned(*values):
    """A setup writing a best.json whose run learned its one constant per layer: ``values`` of input, hidden_1."""
    return best(
        functions={"all": "x * tanh(1.5 * x)"},
        learn_constants=True,
        learned={layer: {"constants": [v]} for layer, v in zip(("input", "hidden_1"), values, strict=True)},
    )


def swap_with_a_wrong_example_input(ctx: Ctx):
    import torch

    import actlab

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    actlab.swap_activations(model, "frelu", example_input=torch.zeros(2, 5, 8, 8))


# ------------------------------------------------------------------------------------ the cases
EVO = "evolve --dataset iris --out {out}"  # iris loads in milliseconds, offline
CMP = "compare --dataset iris --out {out}"
SRCH = "search --dataset iris --out {out} --trials 2 --quiet"

CASES: list[Case] = [
    # ---------------------------------------------------------------- the command itself
    Case("cli-no-command", ""),
    Case("cli-unknown-command", "frobnicate"),
    Case("cli-unknown-option", "--frobnicate"),
    Case("cli-command-shell-metachars", ["list; touch {canary}"]),
    # ---------------------------------------------------------------------------- list
    Case("list-kind-unknown", "list --kind bogus"),
    Case("list-kind-missing-value", "list --kind"),
    Case("list-kind-empty", ["list", "--kind", ""]),
    Case("list-format-unknown", "list --format xml"),
    Case("list-extra-argument", "list ../../etc/passwd"),
    # ---------------------------------------------------------------------------- show
    Case("show-missing-spec", "show"),
    Case("show-empty-spec", ["show", ""]),
    Case("show-unknown-name", "show sofmax --out {out}/x.png"),
    Case("show-very-long-name", ["show", "a" * 100_000, "--out", "{out}/x.png"]),
    Case(
        "show-import-in-arguments", ["show", "relu(__import__('os').system('touch {canary}'))", "--out", "{out}/x.png"]
    ),
    Case(
        "show-call-in-arguments", ["show", "leaky_relu(negative_slope=open('{canary}', 'w'))", "--out", "{out}/x.png"]
    ),
    Case("show-argument-nan", ["show", "leaky_relu(negative_slope=nan)", "--out", "{out}/x.png"]),
    Case("show-argument-inf", ["show", "elu(alpha=1e999)", "--out", "{out}/x.png"]),
    Case("show-argument-beyond-float", ["show", f"elu(alpha={10**400})", "--out", "{out}/x.png"]),
    Case("show-argument-huge-channels", ["show", "prelu(num_parameters=1000000000000)", "--out", "{out}/x.png"]),
    Case("show-argument-negative-channels", ["show", "prelu(num_parameters=-1)", "--out", "{out}/x.png"]),
    Case("show-argument-huge-kernel", ["show", "frelu(kernel_size=1000001)", "--out", "{out}/x.png"]),
    Case("show-argument-even-kernel", ["show", "frelu(kernel_size=4)", "--out", "{out}/x.png"]),
    Case("show-argument-large-kernel", ["show", "frelu(kernel_size=1001)", "--out", "{out}/x.png"]),
    Case("show-argument-huge-dim", ["show", f"softmax(dim={10**30})", "--out", "{out}/x.png"]),
    Case("show-argument-wrong-type", ["show", "elu(alpha='big')", "--out", "{out}/x.png"]),
    Case("show-argument-unknown", ["show", "elu(beta=1)", "--out", "{out}/x.png"]),
    Case("show-spec-shell-metachars", ["show", "relu; touch {canary}", "--out", "{out}/x.png"]),
    Case("show-spec-path-traversal", ["show", "../../outside/relu", "--out", "{out}/x.png"]),
    Case("show-expr-empty", ["show", "expr:", "--out", "{out}/x.png"]),
    Case("show-expr-constant", ["show", "expr:1 + 2", "--out", "{out}/x.png"]),
    Case("show-expr-constant-of-functions", ["show", "expr:tanh(3) * exp(1)", "--out", "{out}/x.png"]),
    Case("show-expr-import", ["show", "expr:__import__('os').system('touch {canary}')", "--out", "{out}/x.png"]),
    Case("show-expr-dunder-attribute", ["show", "expr:x.__class__.__mro__", "--out", "{out}/x.png"]),
    Case("show-expr-lambda", ["show", "expr:(lambda: open('{canary}', 'w'))()", "--out", "{out}/x.png"]),
    Case("show-expr-deep", ["show", "expr:" + "(" * 300 + "x" + ")" * 300, "--out", "{out}/x.png"]),
    Case("show-expr-deep-calls", ["show", "expr:" + "tanh(" * 200 + "x" + ")" * 200, "--out", "{out}/x.png"]),
    Case("show-expr-too-many-nodes", ["show", "expr:" + "+".join(["x"] * 1500), "--out", "{out}/x.png"]),
    Case("show-expr-too-long", ["show", "expr:" + "1*" * 2100 + "x", "--out", "{out}/x.png"]),
    Case("show-expr-huge-power", ["show", "expr:x**1000000000000", "--out", "{out}/x.png"]),
    Case("show-expr-huge-constant", ["show", "expr:x * 1e999", "--out", "{out}/x.png"]),
    Case("show-expr-nan-constant", ["show", "expr:x * nan", "--out", "{out}/x.png"]),
    Case("show-expr-unknown-function", ["show", "expr:eval(x)", "--out", "{out}/x.png"]),
    Case("show-out-is-a-folder", "show relu --out {out}/"),
    Case("show-out-unknown-format", "show relu --out {out}/x.exe"),
    Case("show-out-in-proc", "show relu --out /proc/actlab-x.png"),
    Case("show-json-missing", "show {files}/nothing.json --out {out}/x.png"),
    Case("show-json-traversal-missing", "show ../../outside/best.json --out {out}/x.png"),
    Case("show-best-not-json", "show {files}/best.json --out {out}/x.png", files("best.json", "{not json")),
    Case(
        "show-best-not-utf8", "show {files}/best.json --out {out}/x.png", files("best.json", b'{"format": "\xff\xfe"}')
    ),
    Case(
        "show-best-deeply-nested",
        "show {files}/best.json --out {out}/x.png",
        files("best.json", b"[" * 100_000 + b"]" * 100_000),
    ),
    Case("show-best-empty-file", "show {files}/best.json --out {out}/x.png", files("best.json", b"")),
    Case(
        "show-best-slot-traversal",
        "show {files}/best.json --out {out}/x.png",
        best(mode=None, functions={"../../outside/evil": "x"}),
    ),
    Case(
        "show-best-slot-absolute",
        "show {files}/best.json --out {out}/x.png",
        best(mode="triple", functions={"input": "x", "hidden": "x", "/tmp/evil": "x"}),
    ),
    Case(
        "show-best-function-import",
        "show {files}/best.json --out {out}/x.png",
        lambda ctx: best(functions={"all": f"__import__('os').system('touch {ctx.canary}')"})(ctx),
    ),
    Case("show-best-function-constant", "show {files}/best.json --out {out}/x.png", best(functions={"all": "2 * 3"})),
    Case("show-best-function-not-text", "show {files}/best.json --out {out}/x.png", best(functions={"all": ["x"]})),
    Case("show-best-mode-unknown", "show {files}/best.json --out {out}/x.png", best(mode="../../x")),
    Case("show-best-wrong-format", "show {files}/best.json --out {out}/x.png", best(format="something-else")),
    Case(
        "show-compare-results-json",
        "show {files}/results.json --out {out}/x.png",
        files("results.json", json.dumps({"summary": [], "runs": []})),
    ),
    Case(
        "show-evolve-results-without-best",
        "show {files}/results.json --out {out}/x.png",
        files(
            "results.json", json.dumps({"format": "actlab-evolve-results", "config": {"mode": "single"}, "best": None})
        ),
    ),
    Case(
        "show-best-function-huge",
        "show {files}/best.json --out {out}/x.png",
        best(functions={"all": "+".join(["x"] * 2_000_000)}),
    ),
    Case(
        "show-best-too-large",
        "show {files}/best.json --out {out}/x.png",
        best(functions={"all": "x" + " " * 500}),
        patch={"actlab._io.MAX_JSON_BYTES": 100},
    ),
    Case(
        "show-best-huge-number",
        "show {files}/best.json --out {out}/x.png",
        files("best.json", b'{"format": "actlab-evolve-best", "version": ' + b"9" * 100_000 + b"}"),
    ),
    Case(
        "show-results-slot-traversal",
        "show {files}/results.json --out {out}/x.png",
        files(
            "results.json",
            json.dumps(
                {
                    "format": "actlab-evolve-results",
                    "config": {"mode": "single"},
                    "best": {"functions": {"../../outside/x": "x"}},
                }
            ),
        ),
    ),
    Case(
        "show-best-is-a-folder",
        "show {files}/best.json --out {out}/x.png",
        lambda ctx: (ctx.files / "best.json").mkdir(parents=True),
    ),
    Case("show-best-learned-huge-constant", "show {files}/best.json --no-plot", best_learned(10**400, 2.0)),
    Case("show-best-learned-constant-text", "show {files}/best.json --no-plot", best_learned("2.0", 2.0)),
    Case("show-best-learned-constant-true", "show {files}/best.json --no-plot", best_learned(True, 2.0)),
    Case("show-argument-divides-by-zero", "show 'snake(alpha=0)' --no-plot", says="non-finite"),
    Case("show-argument-divides-by-zero-plot", "show 'snake(alpha=0)' --out {out}/x.png", says="non-finite"),
    Case("show-argument-hinges-huge", "show 'apl(hinges=1000000000)' --no-plot", says="from 1 to 64"),
    Case("show-argument-hinges-zero", "show 'apl(hinges=0)' --no-plot", says="from 1 to 64"),
    # ---------------------------------------------------------------------------- plot
    Case("plot-missing-out", "plot relu"),
    Case("plot-missing-specs", "plot --out {out}/p.png"),
    Case("plot-unknown-spec", "plot relu sofmax --out {out}/p.png"),
    Case("plot-expr-import", ["plot", "relu", "expr:__import__('os')", "--out", "{out}/p.png"]),
    Case("plot-range-reversed", "plot relu --range 5 -5 --out {out}/p.png"),
    Case("plot-range-equal", "plot relu --range 1 1 --out {out}/p.png"),
    Case("plot-range-nan", "plot relu --range nan 1 --out {out}/p.png"),
    Case("plot-range-inf", "plot relu --range 0 inf --out {out}/p.png"),
    Case("plot-range-huge", "plot relu --range 0 1e12 --out {out}/p.png"),
    Case("plot-range-text", "plot relu --range a b --out {out}/p.png"),
    Case("plot-range-one-value", "plot relu --out {out}/p.png --range 1"),
    Case("plot-out-empty", ["plot", "relu", "--out", ""]),
    Case("plot-out-is-a-folder", "plot relu --out {out}/"),
    Case("plot-out-unknown-format", "plot relu --out {out}/p.txt"),
    Case("plot-argument-divides-by-zero", "plot relu 'snake(alpha=0)' --out {out}/p.png", says="non-finite"),
    Case("plot-range-negative-exponent", "plot relu --range -1e7 1 --out {out}/p.png", says="--range LO"),
    # ---------------------------------------------------------------------------- export
    Case("export-name-very-long", ["export", "mish", "--to", "timm", "--name", "a" * 10_000]),
    Case(
        "export-name-very-long-to-out",
        ["export", "mish", "--to", "keras", "--name", "a" * 10_000, "--out", "{out}/k.py"],
    ),
    Case("export-out-name-very-long", ["export", "mish", "--to", "keras", "--out", "{out}/" + "a" * 10_000 + ".py"]),
    Case("export-best-learned-huge-constant", "export {files}/best.json --to code", best_learned(2.0, 10**400)),
    Case(
        "export-best-learned-huge-constant-onnx",
        "export {files}/best.json --to onnx --slot input --out {out}/a.onnx",
        best_learned(10**400, 2.0),
    ),
    Case(
        "export-best-slot-not-in-file",
        "export {files}/best.json --to code --slot hidden_7",
        best_learned(2.0, 2.0),
        says="input, hidden_1",
    ),
    Case(
        "export-best-slot-traversal",
        "export {files}/best.json --to code --slot ../../outside/x",
        best_learned(2.0, 2.0),
    ),
    Case("export-slot-of-a-spec", "export mish --to code --slot hidden_1"),
    # ---------------------------------------------------------------------------- gallery
    Case("gallery-kind-unknown", "gallery --out {out} --kind bogus"),
    Case("gallery-out-is-a-file", "gallery --out {files}/afile", files("afile", "x")),
    Case("gallery-out-empty", ["gallery", "--out", ""]),
    Case("gallery-out-in-proc", "gallery --out /proc/actlab-gallery"),
    # ---------------------------------------------------------------------------- compare: options
    Case("compare-preset-unknown", CMP + " --preset bogus"),
    Case("compare-dataset-empty", ["compare", "--dataset", "", "--out", "{out}"]),
    Case("compare-dataset-unknown", "compare --dataset bogus --out {out}"),
    Case("compare-dataset-traversal", "compare --dataset ../../outside/x --out {out}"),
    Case("compare-dataset-shell-metachars", ["compare", "--dataset", "iris; touch {canary}", "--out", "{out}"]),
    Case("compare-model-unknown", CMP + " --model bogus"),
    Case("compare-model-empty", CMP + " --model ''"),
    Case("compare-activations-empty", CMP + " --activations ''"),
    Case("compare-activations-commas", CMP + " --activations ,,,"),
    Case("compare-activations-twice", CMP + " --activations relu,relu"),
    Case("compare-activations-unknown", CMP + " --activations relu,sofmax"),
    Case("compare-activations-traversal", CMP + " --activations relu,../../outside/x"),
    Case(
        "compare-activations-import",
        [
            "compare",
            "--dataset",
            "iris",
            "--out",
            "{out}",
            "--activations",
            "relu,expr:__import__('os').system('touch {canary}')",
        ],
    ),
    Case("compare-activations-expr-constant", CMP + " --activations relu,expr:7"),
    Case("compare-activations-huge-channels", CMP + " --activations relu,prelu(num_parameters=1000000000)"),
    Case(
        "compare-activations-expr-deep",
        ["compare", "--dataset", "iris", "--out", "{out}", "--activations", "relu,expr:" + "(" * 500 + "x" + ")" * 500],
    ),
    Case(
        "compare-activations-very-long",
        ["compare", "--dataset", "iris", "--out", "{out}", "--activations", ",".join(["relu"] * 20_000)],
    ),
    Case("compare-baseline-not-compared", CMP + " --activations relu,tanh --baseline elu"),
    Case("compare-seeds-zero", CMP + " --seeds 0"),
    Case("compare-seeds-negative", CMP + " --seeds -1"),
    Case("compare-seeds-huge", CMP + f" --seeds {10**30}"),
    Case("compare-seeds-float", CMP + " --seeds 1e12"),
    Case("compare-seeds-nan", CMP + " --seeds nan"),
    Case("compare-epochs-zero", CMP + " --epochs 0"),
    Case("compare-epochs-huge", CMP + " --epochs 1000000000000"),
    Case("compare-batch-size-zero", CMP + " --batch-size 0"),
    Case("compare-batch-size-huge", CMP + f" --batch-size {10**30}"),
    Case("compare-optimizer-unknown", CMP + " --optimizer bogus"),
    Case("compare-lr-nan", CMP + " --lr nan"),
    Case("compare-lr-inf", CMP + " --lr inf"),
    Case("compare-lr-negative", CMP + " --lr -0.1"),
    Case("compare-lr-zero", CMP + " --lr 0"),
    Case("compare-lr-huge", CMP + " --lr 1e12"),
    Case("compare-lr-text", CMP + " --lr fast"),
    Case("compare-loss-unknown", CMP + " --loss bogus"),
    Case("compare-loss-import", CMP + " --loss __import__"),
    Case("compare-patience-negative", CMP + " --patience -1"),
    Case("compare-patience-huge", CMP + f" --patience {10**30}"),
    Case("compare-threads-negative", CMP + " --threads -1"),
    Case("compare-threads-huge", CMP + f" --threads {10**30}"),
    Case("compare-device-unknown", CMP + " --device bogus"),
    Case(
        "compare-device-shell-metachars",
        ["compare", "--dataset", "iris", "--out", "{out}", "--device", "cpu; touch {canary}"],
    ),
    Case("compare-device-cuda-99", CMP + " --device cuda:99"),
    Case("compare-workers-zero", CMP + " --workers 0"),
    Case("compare-workers-huge", CMP + f" --workers {10**30}"),
    Case("compare-pack-zero", CMP + " --pack 0"),
    Case("compare-pack-huge", CMP + f" --pack {10**30}"),
    Case("compare-dask-garbage", CMP + " --dask '::not an address::'"),
    Case("compare-dask-password", CMP + " --dask tcp://me:hunter2secret@127.0.0.1:8786", secret="hunter2secret"),
    Case("compare-lr-negative-exponent", CMP + " --lr -1e-3", says="learning rate must be greater than 0"),
    Case("compare-lr-minus-inf", CMP + " --lr -inf", says="learning rate must be a finite number"),
    Case("compare-width-zero", CMP + " --width 0"),
    Case("compare-width-huge", CMP + " --width 1000000000000"),
    Case("compare-depth-one", CMP + " --depth 1"),
    Case("compare-depth-huge", CMP + f" --depth {10**30}"),
    Case("compare-width-with-cnn", CMP + " --model seed-cnn --width 8"),
    Case("compare-limit-zero", CMP + " --limit 0"),
    Case("compare-limit-negative", CMP + " --limit -5"),
    Case("compare-shape-unknown", CMP + " --shape bogus"),
    Case(
        "compare-data-dir-is-a-file",
        "compare --dataset cifar10 --data-dir {files}/afile --no-download --out {out}",
        files("afile", "x"),
    ),
    Case("compare-target-for-builtin", CMP + " --target label"),
    Case("compare-data-seed-negative", CMP + " --data-seed -1"),
    Case("compare-data-seed-huge", CMP + f" --data-seed {10**30}"),
    Case("compare-model-for-tabular", CMP + " --model seed-cnn"),
    Case("compare-out-empty", ["compare", "--dataset", "iris", "--out", ""]),
    Case("compare-out-is-a-file", "compare --dataset iris --out {files}/afile", files("afile", "x")),
    Case("compare-out-in-proc", "compare --dataset iris --out /proc/actlab-out"),
    Case("compare-out-holds-search", CMP + " --activations relu,tanh --seeds 1", prior_search),
    Case("compare-out-holds-evolve", CMP + " --activations relu,tanh --seeds 1", prior_evolve),
    Case("compare-out-holds-foreign-results", CMP + " --activations relu,tanh --seeds 1", foreign_results),
    Case("compare-out-runs-of-another-config", CMP + " --activations relu,tanh --seeds 1 --epochs 1", prior_runs),
    Case(
        "compare-out-results-deeply-nested",
        CMP + " --activations relu,tanh --seeds 1",
        lambda ctx: write(ctx.out / "results.json", b"[" * 100_000 + b"]" * 100_000),
    ),
    Case(
        "compare-out-mark-deeply-nested",
        CMP + " --activations relu,tanh --seeds 1",
        both(prior_search, lambda ctx: write(ctx.out / ".actlab.json", b"[" * 100_000 + b"]" * 100_000)),
    ),
    Case(
        "compare-out-runs-of-another-config-and-a-junk-claim",
        CMP + " --activations relu,tanh --seeds 1 --epochs 1",
        both(prior_runs, lambda ctx: write(ctx.out / "runs" / "relu__seed0.claim", b"[" * 100_000 + b"]" * 100_000)),
    ),
    Case(
        "compare-out-runs-is-a-file",
        CMP + " --activations relu,tanh --seeds 1",
        lambda ctx: write(ctx.out / "runs", "not a folder"),
    ),
    # ---------------------------------------------------------------------------- csv: and npz: files
    Case("csv-missing-file", "compare --dataset csv:{files}/none.csv --target y --out {out}"),
    Case("csv-empty-path", "compare --dataset csv: --target y --out {out}"),
    Case("csv-is-a-folder", "compare --dataset csv:{files} --target y --out {out}", files("x", "")),
    Case("csv-empty", "compare --dataset csv:{files}/d.csv --target y --out {out}", files("d.csv", "")),
    Case("csv-header-only", "compare --dataset csv:{files}/d.csv --target y --out {out}", files("d.csv", "a,b,y\n")),
    Case("csv-no-target-option", "compare --dataset csv:{files}/d.csv --out {out}", files("d.csv", "a,y\n1,0\n2,1\n")),
    Case(
        "csv-target-missing",
        "compare --dataset csv:{files}/d.csv --target label --out {out}",
        files("d.csv", "a,y\n1,0\n2,1\n"),
    ),
    Case("csv-only-target", "compare --dataset csv:{files}/d.csv --target y --out {out}", files("d.csv", "y\n0\n1\n")),
    Case(
        "csv-text-in-numbers",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,b,y\n" + "".join(f"{i},{'abc' if i == 7 else i},{i % 2}\n" for i in range(40))),
    ),
    Case(
        "csv-nan",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,b,y\n" + "".join(f"{i},{'nan' if i == 7 else i},{i % 2}\n" for i in range(40))),
    ),
    Case(
        "csv-inf-overflow",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,b,y\n" + "".join(f"{i},{'1e999' if i == 7 else i},{i % 2}\n" for i in range(40))),
    ),
    Case(
        "csv-ragged-rows",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,b,y\n1,2,0\n1,2\n3,4,1\n"),
    ),
    Case(
        "csv-one-class",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,y\n" + "".join(f"{i},same\n" for i in range(20))),
    ),
    Case(
        "csv-two-rows", "compare --dataset csv:{files}/d.csv --target y --out {out}", files("d.csv", "a,y\n1,0\n2,1\n")
    ),
    Case(
        "csv-not-utf8",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", b"a,y\n1,\xff\xfe\n2,1\n"),
    ),
    Case(
        "csv-formula-injection",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", "a,y\n" + "".join(f"=cmd|' /C calc'!A0,{i % 2}\n" for i in range(20))),
    ),
    Case(
        "csv-binary-garbage",
        "compare --dataset csv:{files}/d.csv --target y --out {out}",
        files("d.csv", bytes(range(256)) * 8),
    ),
    Case(
        "csv-outside-bad",
        "compare --dataset csv:{outside}/d.csv --target y --out {out}",
        lambda ctx: write(ctx.outside / "d.csv", "a,y\nx,0\n"),
    ),
    Case("npz-missing-file", "compare --dataset npz:{files}/none.npz --out {out}"),
    Case("npz-not-a-zip", "compare --dataset npz:{files}/d.npz --out {out}", files("d.npz", "x,y\n1,2\n")),
    Case(
        "npz-zip-of-garbage",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", zip_of(**{"x.npy": b"garbage", "y.npy": b"more"})),
    ),
    Case(
        "npz-truncated",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=Y_OK)[:300]),
    ),
    Case("npz-empty", "compare --dataset npz:{files}/d.npz --out {out}", files("d.npz", npz_bytes())),
    Case(
        "npz-target-option",
        "compare --dataset npz:{files}/d.npz --target y --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=Y_OK)),
    ),
    Case(
        "npz-pickled-objects",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", lambda ctx: npz_bytes(x=np.array([_Canary(ctx.canary)] * 40, dtype=object), y=Y_OK)),
    ),
    Case(
        "npz-x-one-dimensional",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=np.arange(40.0), y=Y_OK)),
    ),
    Case(
        "npz-y-two-dimensional",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=np.zeros((40, 2)))),
    ),
    Case(
        "npz-length-mismatch",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=Y_OK[:30])),
    ),
    Case(
        "npz-nan",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=np.where(np.arange(120).reshape(40, 3) == 7, np.nan, X_OK), y=Y_OK)),
    ),
    Case(
        "npz-text-in-x",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=np.full((40, 3), "abc"), y=Y_OK)),
    ),
    Case(
        "npz-fractional-labels",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=Y_OK + 0.5)),
    ),
    Case(
        "npz-no-examples",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=np.zeros((0, 3)), y=np.zeros(0, np.int64))),
    ),
    Case(
        "npz-one-class",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x=X_OK, y=np.zeros(40, np.int64))),
    ),
    Case(
        "npz-test-shape-mismatch",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files("d.npz", npz_bytes(x_train=X_OK, y_train=Y_OK, x_test=np.zeros((4, 5)), y_test=np.arange(4) % 2)),
    ),
    Case(
        "npz-huge-dims-header",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files(
            "d.npz",
            zip_of(
                **{
                    "x.npy": npy_with_header(
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 1000000000000), }"
                    ),
                    "y.npy": npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }"),
                }
            ),
        ),
    ),
    Case(
        "npz-huge-rows-header",
        "compare --dataset npz:{files}/d.npz --out {out}",
        files(
            "d.npz",
            zip_of(
                **{
                    "x.npy": npy_with_header(
                        "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 3), }", b"\0" * 64
                    ),
                    "y.npy": npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
                }
            ),
        ),
    ),
    Case(
        "npz-header-code",
        "compare --dataset npz:{files}/d.npz --out {out}",
        lambda ctx: files(
            "d.npz",
            zip_of(
                **{
                    "x.npy": npy_with_header(f"__import__('os').system('touch {ctx.canary}')"),
                    "y.npy": npy_with_header("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 16),
                }
            ),
        )(ctx),
    ),
    # ---------------------------------------------------------------------------- IDX files (mnist)
    Case(
        "idx-bad-magic",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": b"\x01\x02\x03\x04" + bytes(100)}),
    ),
    Case(
        "idx-empty",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-labels-idx1-ubyte": b""}),
    ),
    Case(
        "idx-truncated-header",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": idx(0x08, (20, 28, 28), b"")[:9]}),
    ),
    Case(
        "idx-truncated-data",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": idx(0x08, (20, 28, 28), bytes(20 * 784 - 1))}),
    ),
    Case(
        "idx-huge-dims",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": idx(0x08, (2**22, 2**21, 2**21), b"")}),
    ),
    Case(
        "idx-huge-dims-max",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": idx(0x08, (2**32 - 1, 2**32 - 1, 2**32 - 1), bytes(16))}),
    ),
    Case(
        "idx-float-images",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": idx(0x0D, (20, 28, 28), bytes(20 * 784 * 4))}),
    ),
    Case(
        "idx-labels-out-of-range",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-labels-idx1-ubyte": idx(0x08, (20,), bytes([200] * 20))}),
    ),
    Case(
        "idx-count-mismatch",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-labels-idx1-ubyte": idx(0x08, (19,), bytes(19))}),
    ),
    Case(
        "idx-broken-gzip",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": gzip.compress(idx(0x08, (20, 28, 28), bytes(20 * 784)))[:60]}),
    ),
    Case(
        "idx-gzip-bomb-header",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": gzip.compress(idx(0x08, (2**22, 2**21, 2**21), b""))}),
    ),
    Case(
        "idx-decompression-bomb",
        "compare --dataset mnist --data-dir {files}/mnist --no-download --out {out}",
        mnist_files(**{"train-images-idx3-ubyte": gzip.compress(bytes(200_000))}),
        patch={"actlab.data._formats.MAX_DECOMPRESSED": 100_000},
    ),
    Case(
        "idx-missing-files",
        "compare --dataset mnist --data-dir {files}/empty --no-download --out {out}",
        lambda ctx: (ctx.files / "empty").mkdir(parents=True),
    ),
    Case(
        "usps-index-zero",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"1 0:0.5 1:0.2\n2 2:0.5\n"),
    ),
    Case(
        "usps-index-negative",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"1 -3:0.5\n2 2:0.5\n"),
    ),
    Case(
        "usps-index-huge",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"1 99999999999999999999:0.5\n2 2:0.5\n"),
    ),
    Case(
        "usps-value-nan",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"1 1:nan\n2 2:0.5\n"),
    ),
    Case(
        "usps-label-inf",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"inf 1:0.5\n2 2:0.5\n"),
    ),
    Case(
        "usps-label-out-of-range",
        "compare --dataset usps --data-dir {files}/usps --no-download --out {out}",
        usps_files(b"11 1:0.5\n2 2:0.5\n"),
    ),
    # ---------------------------------------------------------------------------- CIFAR-10 batches
    Case(
        "cifar-pickle-open",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=lambda ctx: evil_pickle(ctx, "open")),
    ),
    Case(
        "cifar-pickle-os-system",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_3=lambda ctx: evil_pickle(ctx, "system")),
    ),
    Case(
        "cifar-pickle-eval",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(test_batch=lambda ctx: evil_pickle(ctx, "eval", protocol=4)),
    ),
    Case(
        "cifar-pickle-exec-protocol-0",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_2=lambda ctx: evil_pickle(ctx, "exec", protocol=0)),
    ),
    Case(
        "cifar-pickle-codecs-other-encoding",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."),
    ),
    Case(
        "cifar-pickle-persistent-id",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=b"\x80\x02X\x03\x00\x00\x00abcQ."),
    ),
    Case(
        "cifar-pickle-truncated",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=cifar_batch()[:100]),
    ),
    Case(
        "cifar-pickle-huge-array-shape",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(
            data_batch_1=cifar_batch().replace(
                b"K\nM\x00\x0c\x86", pickle.dumps(10**12, protocol=2)[2:-1] + b"M\x00\x0c\x86", 1
            )
        ),
    ),
    Case(
        "cifar-pickle-not-a-dict",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=pickle.dumps([1, 2, 3], protocol=2)),
    ),
    Case(
        "cifar-wrong-dtype",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=cifar_batch(override={b"data": np.zeros((10, 3072), np.float64)})),
    ),
    Case(
        "cifar-labels-out-of-range",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=cifar_batch(override={b"labels": [99] * 10})),
    ),
    Case(
        "cifar-labels-text",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(data_batch_1=cifar_batch(override={b"labels": ["cat"] * 10})),
    ),
    Case(
        "cifar-meta-pickle-open",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(**{"batches.meta": lambda ctx: evil_pickle(ctx, "open")}),
    ),
    Case(
        "cifar-batch-is-a-folder",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        lambda ctx: (
            cifar_dir()(ctx),
            (ctx.files / "cifar" / "cifar-10-batches-py" / "data_batch_2").unlink(),
            (ctx.files / "cifar" / "cifar-10-batches-py" / "data_batch_2").mkdir(),
        ),
    ),
    Case(
        "cifar-batch-too-large",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_dir(),
        patch={"actlab.data._formats.MAX_CIFAR_FILE": 1000},
    ),
    Case(
        "cifar-missing-batch",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        lambda ctx: (cifar_dir()(ctx), (ctx.files / "cifar" / "cifar-10-batches-py" / "data_batch_4").unlink()),
    ),
    Case(
        "cifar-tar-evil-member",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        cifar_tar("data_batch_5", lambda ctx: evil_pickle(ctx, "open")),
    ),
    Case(
        "cifar-tar-corrupt",
        "compare --dataset cifar10 --data-dir {files}/cifar --no-download --out {out}",
        files("cifar/cifar-10-python.tar.gz", gzip.compress(b"not a tar file" * 100)[:80]),
    ),
    # ---------------------------------------------------------------------------- search
    Case("search-dataset-unknown", "search --dataset bogus --out {out}"),
    Case("search-suite-unknown", "search --suite everything --out {out}"),
    Case("search-model-unknown", SRCH + " --model bogus"),
    Case("search-layers-one", SRCH + " --layers 1"),
    Case("search-layers-huge", SRCH + f" --layers {10**30}"),
    Case("search-layers-text", SRCH + " --layers many"),
    Case("search-width-zero", SRCH + " --width 0"),
    Case("search-width-huge", SRCH + " --width 1000000000000"),
    Case("search-layers-with-cnn", SRCH + " --model seed-cnn --layers 3"),
    Case("search-candidates-empty", SRCH + " --candidates ''"),
    Case("search-candidates-unknown", SRCH + " --candidates relu,sofmax"),
    Case("search-candidates-twice", SRCH + " --candidates relu,relu"),
    Case(
        "search-candidates-import",
        [
            "search",
            "--dataset",
            "iris",
            "--out",
            "{out}",
            "--candidates",
            "relu,expr:__import__('os').system('touch {canary}')",
        ],
    ),
    Case("search-candidates-expr-constant", SRCH + " --candidates relu,expr:0"),
    Case("search-trials-zero", SRCH + " --trials 0"),
    Case("search-trials-huge", SRCH + f" --trials {10**30}"),
    Case("search-sampler-unknown", SRCH + " --sampler bogus"),
    Case("search-sampler-grid-too-large", SRCH + " --sampler grid --candidates sipper48 --layers 6"),
    Case("search-pruner-unknown", SRCH + " --pruner bogus"),
    Case("search-seed-negative", SRCH + " --seed -1"),
    Case("search-seed-huge", SRCH + f" --seed {10**30}"),
    Case("search-n-jobs-zero", SRCH + " --n-jobs 0"),
    Case("search-n-jobs-huge", SRCH + f" --n-jobs {10**30}"),
    Case("search-pack-zero", SRCH + " --pack 0"),
    Case("search-top-k-negative", SRCH + " --top-k -1"),
    Case("search-final-seeds-negative", SRCH + " --final-seeds -2"),
    Case("search-epochs-zero", SRCH + " --epochs 0"),
    Case("search-patience-negative", SRCH + " --patience -3"),
    Case("search-batch-size-negative", SRCH + " --batch-size -1"),
    Case("search-lr-nan", SRCH + " --lr nan"),
    Case("search-lr-negative", SRCH + " --lr -1"),
    Case("search-limit-zero", SRCH + " --limit 0"),
    Case("search-target-for-builtin", SRCH + " --target y"),
    Case("search-threads-huge", SRCH + f" --threads {10**30}"),
    Case("search-heartbeat-zero", SRCH + " --heartbeat 0"),
    Case("search-heartbeat-nan", SRCH + " --heartbeat nan"),
    Case("search-heartbeat-inf", SRCH + " --heartbeat inf"),
    Case("search-heartbeat-huge", SRCH + " --heartbeat 1e12"),
    Case("search-heartbeat-negative-exponent", SRCH + " --heartbeat -1e3", says="--heartbeat must be"),
    Case("search-out-empty", ["search", "--dataset", "iris", "--out", ""]),
    Case("search-suite-out-empty", ["search", "--suite", "offline", "--out", "", "--trials", "1"]),
    Case("search-out-holds-compare", SRCH, prior_compare),
    Case("search-out-holds-evolve", SRCH, prior_evolve),
    Case("search-out-holds-foreign-results", SRCH, foreign_results),
    Case("search-csv-bad", "search --dataset csv:{files}/d.csv --target y --out {out}", files("d.csv", "a,y\nx,0\n")),
    # storage URLs
    Case("storage-unknown-scheme", SRCH + " --storage ftp://example.org/study"),
    Case("storage-garbage", SRCH + " --storage '%%%garbage%%%'"),
    Case("storage-empty-journal", SRCH + " --storage journal:"),
    Case("storage-journal-folder", SRCH + " --storage journal:{files}", files("x", "")),
    Case("storage-sqlite-in-memory", SRCH + " --storage sqlite://"),
    Case("storage-sqlite-missing-folder", SRCH + " --storage sqlite:////nonexistent-actlab/dir/study.db"),
    Case(
        "storage-sqlite-not-a-database",
        SRCH + " --storage sqlite:///{files}/study.db",
        files("study.db", "not sqlite" * 100),
    ),
    Case(
        "storage-postgres-password-redacted",
        SRCH + " --storage postgresql://me:hunter2secret@127.0.0.1:1/actlab",
        secret="hunter2secret",
    ),
    Case(
        "storage-query-password-redacted",
        SRCH + " --storage 'postgresql://me@127.0.0.1:1/actlab?password=hunter2secret'",
        secret="hunter2secret",
    ),
    Case(
        "storage-mysql-no-driver-redacted",
        SRCH + " --storage mysql://me:hunter2secret@127.0.0.1:1/actlab",
        secret="hunter2secret",
    ),
    Case("storage-no-scheme-redacted", SRCH + " --storage me:hunter2secret@dbhost/actlab", secret="hunter2secret"),
    Case(
        "storage-unknown-dialect-redacted",
        SRCH + " --storage postgres://me:hunter2secret@127.0.0.1:1/actlab",
        secret="hunter2secret",
    ),
    Case(
        "storage-shell-metachars",
        [
            "search",
            "--dataset",
            "iris",
            "--out",
            "{out}",
            "--trials",
            "2",
            "--storage",
            "sqlite:///$(touch {canary})/x.db",
        ],
    ),
    # ---------------------------------------------------------------------------- evolve: options
    Case("evolve-mode-unknown", EVO + " --mode bogus"),
    Case("evolve-population-zero", EVO + " --population 0"),
    Case("evolve-population-one", EVO + " --population 1"),
    Case("evolve-population-huge", EVO + f" --population {10**30}"),
    Case("evolve-generations-zero", EVO + " --generations 0"),
    Case("evolve-generations-huge", EVO + " --generations 1000000000000"),
    Case("evolve-tournament-zero", EVO + " --tournament 0"),
    Case("evolve-tournament-above-population", EVO + " --population 4 --tournament 9"),
    Case("evolve-elite-negative", EVO + " --elite -1"),
    Case("evolve-elite-whole-population", EVO + " --population 4 --elite 4"),
    Case("evolve-cxpb-nan", EVO + " --cxpb nan"),
    Case("evolve-cxpb-above-one", EVO + " --cxpb 1.5"),
    Case("evolve-mutpb-negative", EVO + " --mutpb -0.1"),
    Case("evolve-mutpb-inf", EVO + " --mutpb inf"),
    Case("evolve-init-min-negative", EVO + " --init-min -1"),
    Case("evolve-init-max-above-max-height", EVO + " --init-max 5 --max-height 3"),
    Case("evolve-max-height-huge", EVO + f" --max-height {10**30}"),
    Case("evolve-hof-zero", EVO + " --hof 0"),
    Case("evolve-unary-unknown", EVO + " --unary tanh,bogus"),
    Case("evolve-unary-import", EVO + " --unary __import__"),
    Case("evolve-unary-binary-one", EVO + " --unary add"),
    Case("evolve-binary-unary-one", EVO + " --binary tanh"),
    Case("evolve-no-primitives", ["evolve", "--dataset", "iris", "--out", "{out}", "--unary", "", "--binary", ""]),
    Case("evolve-mutations-unknown", EVO + " --mutations bogus"),
    Case("evolve-mutations-empty", ["evolve", "--dataset", "iris", "--out", "{out}", "--mutations", ","]),
    Case("evolve-seed-negative", EVO + " --seed -1"),
    Case("evolve-seed-huge", EVO + f" --seed {10**30}"),
    Case("evolve-epochs-zero", EVO + " --epochs 0"),
    Case("evolve-batch-size-zero", EVO + " --batch-size 0"),
    Case("evolve-optimizer-unknown", EVO + " --optimizer bogus"),
    Case("evolve-lr-nan", EVO + " --lr nan"),
    Case("evolve-lr-zero", EVO + " --lr 0"),
    Case("evolve-threads-negative", EVO + " --threads -1"),
    Case("evolve-final-seeds-negative", EVO + " --final-seeds -1"),
    Case("evolve-final-epochs-zero", EVO + " --final-epochs 0"),
    Case("evolve-catalogue-unknown", EVO + " --catalogue relu,bogus"),
    Case(
        "evolve-catalogue-import",
        [
            "evolve",
            "--dataset",
            "iris",
            "--out",
            "{out}",
            "--catalogue",
            "relu(__import__('os').system('touch {canary}'))",
        ],
    ),
    Case("evolve-catalogue-expr-constant", EVO + " --catalogue expr:3"),
    Case("evolve-workers-zero", EVO + " --workers 0"),
    Case("evolve-workers-huge", EVO + f" --workers {10**30}"),
    Case("evolve-pack-zero", EVO + " --pack 0"),
    Case("evolve-dask-timeout-zero", EVO + " --dask-timeout 0"),
    Case("evolve-dask-timeout-nan", EVO + " --dask-timeout nan"),
    Case("evolve-dask-timeout-huge", EVO + " --dask-timeout 1e12"),
    Case("evolve-dask-unreachable", EVO + " --dask tcp://127.0.0.1:1 --dask-timeout 0.5"),
    Case(
        "evolve-dask-password",
        EVO + " --dask tcp://me:hunter2secret@127.0.0.1:8786 --dask-timeout 0.5",
        secret="hunter2secret",
    ),
    Case("evolve-dask-user", EVO + " --dask tcp://me@127.0.0.1:8786 --dask-timeout 0.5", says="no user or password"),
    Case(
        "evolve-dask-password-without-scheme",
        EVO + " --dask me:hunter2secret@127.0.0.1:8786 --dask-timeout 0.5",
        secret="hunter2secret",
    ),
    Case("evolve-budget-negative", EVO + " --budget -5m", says="--budget must be greater than 0"),
    Case("evolve-budget-negative-joined", EVO + " --budget=-5m", says="--budget must be greater than 0"),
    Case("evolve-cxpb-negative-exponent", EVO + " --cxpb -1e-1", says="cxpb must be at least 0"),
    Case("evolve-limit-negative", EVO + " --limit -1"),
    Case("evolve-data-seed-negative", EVO + " --data-seed -1"),
    Case("evolve-width-zero", EVO + " --width 0"),
    Case("evolve-layers-one", EVO + " --layers 1"),
    Case("evolve-width-with-cnn", EVO + " --model seed-cnn --width 8"),
    Case("evolve-model-unknown", EVO + " --model bogus"),
    Case("evolve-model-for-tabular", EVO + " --model seed-cnn"),
    Case("evolve-dataset-unknown", "evolve --dataset bogus --out {out}"),
    Case("evolve-target-for-builtin", EVO + " --target y"),
    Case("evolve-npz-bad", "evolve --dataset npz:{files}/d.npz --out {out}", files("d.npz", "garbage")),
    Case("evolve-out-empty", ["evolve", "--dataset", "iris", "--out", ""]),
    Case("evolve-out-is-a-file", "evolve --dataset iris --out {files}/afile --resume", files("afile", "x")),
    Case("evolve-out-holds-compare", EVO, prior_compare),
    Case("evolve-out-holds-search", EVO + " --resume", prior_search),
    Case("evolve-out-holds-foreign-results", EVO, foreign_results),
    Case("evolve-out-holds-evolution-no-resume", EVO, prior_evolve),
    Case("evolve-resume-other-settings", EVO + " --resume --population 8", prior_evolve),
    # evolve checkpoints
    Case("checkpoint-not-json", EVO + " --resume", checkpoint("{ not json")),
    Case("checkpoint-empty", EVO + " --resume", checkpoint(b"")),
    Case("checkpoint-not-utf8", EVO + " --resume", checkpoint(b'{"format": "\xff"}')),
    Case("checkpoint-deeply-nested", EVO + " --resume", checkpoint(b"[" * 200_000 + b"]" * 200_000)),
    Case("checkpoint-huge-number", EVO + " --resume", checkpoint(b"1" * 100_000)),
    Case("checkpoint-wrong-format", EVO + " --resume", checkpoint(_set(("format",), "actlab-evolve-best"))),
    Case("checkpoint-version-2", EVO + " --resume", checkpoint(_set(("version",), 2))),
    Case("checkpoint-generation-past-the-end", EVO + " --resume", checkpoint(_set(("generation",), 99))),
    Case("checkpoint-generation-nan", EVO + " --resume", checkpoint(_set(("generation",), float("nan")))),
    Case("checkpoint-population-huge", EVO + " --resume", checkpoint(_set(("config", "population"), 10**30))),
    Case("checkpoint-population-text", EVO + " --resume", checkpoint(_set(("config", "population"), "16"))),
    Case("checkpoint-mode-unknown", EVO + " --resume", checkpoint(_set(("config", "mode"), "../../x"))),
    Case("checkpoint-config-not-a-table", EVO + " --resume", checkpoint(_set(("config",), [1, 2]))),
    Case(
        "checkpoint-individual-import",
        EVO + " --resume",
        lambda ctx: checkpoint(
            lambda d: d["populations"][0][0].update(slots=[f"__import__('os').system('touch {ctx.canary}')"])
        )(ctx),
    ),
    Case(
        "checkpoint-individual-foreign-primitive",
        EVO + " --resume --unary tanh,relu",
        checkpoint(
            lambda d: (d["config"].update(unary=["tanh", "relu"]), d["populations"][0][0].update(slots=["sin(x)"]))
        ),
    ),
    Case(
        "checkpoint-individual-deep",
        EVO + " --resume",
        checkpoint(lambda d: d["populations"][0][0].update(slots=["(" * 1000 + "x" + ")" * 1000])),
    ),
    Case("checkpoint-random-state-garbage", EVO + " --resume", checkpoint(_set(("random_state",), [3, ["a"], None]))),
    Case("checkpoint-cache-not-a-table", EVO + " --resume", checkpoint(_set(("cache",), "x"))),
    Case("checkpoint-history-short", EVO + " --resume", checkpoint(_set(("history",), []))),
    Case(
        "checkpoint-fitness-huge-int",
        EVO + " --resume",
        checkpoint(lambda d: d["populations"][0][0].update(fitness=10**400)),
    ),
    Case(
        "checkpoint-hall-of-fame-fitness-huge-int",
        EVO + " --resume",
        checkpoint(_set(("hall_of_fame", 0, "fitness"), 10**400)),
    ),
    Case(
        "checkpoint-history-seconds-huge-int", EVO + " --resume", checkpoint(_set(("history", 0, "seconds"), 10**400))
    ),
    Case(
        "checkpoint-history-median-huge-int", EVO + " --resume", checkpoint(_set(("history", 0, "median"), -(10**400)))
    ),
    Case("checkpoint-history-seconds-text", EVO + " --resume", checkpoint(_set(("history", 0, "seconds"), "0.5"))),
    Case(
        "checkpoint-cache-seconds-huge-int",
        EVO + " --resume",
        checkpoint(lambda d: next(iter(d["cache"].values())).update(seconds=10**400)),
    ),
    Case(
        "checkpoint-status-huge-text",
        EVO + " --resume",
        checkpoint(_set(("hall_of_fame", 0, "status"), "x" * 1_000_000)),
    ),
    Case(
        "checkpoint-session-huge-text",
        EVO + " --resume",
        checkpoint(_set(("sessions", 0, "executor"), "x" * 1_000_000)),
    ),
    Case("checkpoint-huge-key", EVO + " --resume", checkpoint(lambda d: d["sessions"][0].update({"k" * 1_000_000: 1}))),
    Case(
        "checkpoint-is-a-folder",
        EVO + " --resume",
        lambda ctx: (mark(ctx, "evolve"), (ctx.out / "checkpoint.json").mkdir(parents=True)),
    ),
    # ---------------------------------------------------------------------------- library calls
    Case(
        "lib-get-import",
        call=lambda ctx: __import__("actlab").get(f"relu(__import__('os').system('touch {ctx.canary}'))"),
    ),
    Case("lib-get-expr-constant", call=lambda ctx: __import__("actlab").get("expr:3 * 4")),
    Case(
        "lib-load-best-traversal",
        call=lambda ctx: __import__("actlab").load(ctx.files / "best.json"),
        setup=best(mode=None, functions={"../../outside/x": "x"}),
    ),
    Case(
        "lib-data-load-csv-nan",
        call=lambda ctx: __import__("actlab.data").data.load(f"csv:{ctx.files}/d.csv", target="y"),
        setup=files("d.csv", "a,y\nnan,0\n1,1\n"),
    ),
    Case(
        "lib-cifar-batch-evil",
        call=lambda ctx: __import__("actlab.data._formats").data._formats.read_cifar_batch(evil_pickle(ctx), "batch"),
    ),
    Case(
        "lib-read-checkpoint-garbage",
        call=lambda ctx: importlib.import_module("actlab.studies.evolve.checkpoint").read_checkpoint(
            ctx.files / "c.json"
        ),
        setup=files("c.json", b"\x00\x01garbage"),
    ),
    Case(
        "lib-storage-password",
        call=lambda ctx: importlib.import_module("actlab.studies.search.study").make_storage(
            "postgresql://me:hunter2secret@127.0.0.1:1/x", ctx.out
        ),
        secret="hunter2secret",
    ),
    Case(
        "lib-compare-config-seeds-huge",
        call=lambda ctx: importlib.import_module("actlab.studies.compare").CompareConfig(
            dataset="iris", activations=["relu"], seeds=10**30
        ),
    ),
    Case(
        "lib-load-best-learned-huge-constant",
        call=lambda ctx: __import__("actlab").load(ctx.files / "best.json"),
        setup=best_learned(10**400, 2.0),
    ),
    Case(
        "lib-to-code-best-learned-huge-constant",
        call=lambda ctx: __import__("actlab").to_code(ctx.files / "best.json"),
        setup=best_learned(2.0, -(10**400)),
    ),
    Case("lib-to-onnx-path-none", call=lambda ctx: __import__("actlab").to_onnx("mish", None)),
    Case("lib-to-onnx-path-number", call=lambda ctx: __import__("actlab").to_onnx("mish", 3)),
    Case("lib-swap-example-input-wrong-shape", call=swap_with_a_wrong_example_input),
    Case(
        "lib-dask-address-with-password",
        call=lambda ctx: importlib.import_module("actlab.execution.runner").Runner(
            dask="tcp://me:hunter2secret@127.0.0.1:8786", dask_timeout=0.5
        ),
        secret="hunter2secret",
    ),
    # ---------------------------------------------------------------------------- fresh processes
    Case("fresh-show-not-utf8-spec", [b"show", b"\xff\xfe", b"--out", b"{out}/x.png"], fresh=True),
    Case("fresh-expr-not-utf8", [b"show", b"expr:x\xff", b"--out", b"{out}/x.png"], fresh=True),
    Case(
        "fresh-csv-path-not-utf8",
        [b"compare", b"--dataset", b"csv:files/\xff.csv", b"--target", b"y", b"--out", b"{out}"],
        fresh=True,
    ),
    Case(
        "fresh-csv-path-not-utf8-printed-then-refused",  # the path is printed before the --out is refused
        [
            b"compare",
            b"--dataset",
            b"csv:files/\xff.csv",
            b"--target",
            b"y",
            b"--activations",
            b"relu,tanh",
            b"--seeds",
            b"1",
            b"--out",
            b"{out}",
        ],
        both(files(os.fsdecode(b"\xff.csv"), "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40))), prior_search),
        fresh=True,
        env={"PYTHONIOENCODING": "utf-8:strict"},
    ),
    Case("fresh-evolve-unary-not-utf8", [b"evolve", b"--unary", b"tanh\xff", b"--out", b"{out}"], fresh=True),
    # a Dask client that could not start says nothing more when Python ends
    Case("fresh-compare-dask-garbage", CMP + " --dask '::not an address::'", fresh=True),
    Case("fresh-evolve-dask-unreachable", EVO + " --dask tcp://127.0.0.1:1 --dask-timeout 0.5", fresh=True),
]


assert len(CASES) >= 120 and len({c.id for c in CASES}) == len(CASES), "the table: at least 120 cases, unique ids"


def _param(c: Case):
    return pytest.param(c, id=c.id, marks=c.marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input(case: Case, tmp_path, monkeypatch, capsys, no_training):
    ctx = Ctx(tmp_path)
    for d in (ctx.work, ctx.files, ctx.outside):
        d.mkdir(parents=True, exist_ok=True)
    write(ctx.outside / "notes.txt", "a neighbour's file")
    monkeypatch.chdir(ctx.work)
    monkeypatch.setenv("ACTLAB_DATA", str(ctx.work / "data-cache"))  # a download or cache would show as a change
    for target, value in case.patch.items():
        monkeypatch.setattr(target, value)
    if case.setup is not None:
        case.setup(ctx)
    earlier = {p: p.read_bytes() for p in ctx.out.rglob("*") if p.is_file()} if ctx.out.exists() else {}
    before = _snapshot(tmp_path)
    t0 = time.perf_counter()

    if case.call is not None:
        capsys.readouterr()
        with pytest.raises(ActlabError) as info:
            case.call(ctx)
        out, err = capsys.readouterr()
        message = str(info.value)
        assert message and "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        shown = out + err + message
    else:
        argv = shlex.split(case.argv) if isinstance(case.argv, str) else list(case.argv)
        rc, out, err = _run_fresh(ctx, argv, case.env) if case.fresh else _run_here(ctx, argv, capsys)
        shown = out + err
        assert rc == 2, f"exit status {rc}, stderr: {err[-2000:]}"
        lines = err.splitlines()
        assert len(lines) == 1 and err.endswith("\n"), f"stderr is not one line: {err[-3000:]!r}"
        assert lines[0].startswith("actlab: error: "), lines[0]
        message = lines[0]
    seconds = time.perf_counter() - t0
    if case.says:
        assert case.says in message, f"the line does not say {case.says!r}: {message}"

    assert "Traceback" not in shown
    if case.secret:
        assert case.secret not in shown, "a password was printed"
    assert not ctx.canary.exists(), "input was executed: the canary file exists"
    after = _snapshot(tmp_path)
    inside = str(ctx.out.relative_to(tmp_path))
    changed = sorted(
        k
        for k in set(before) | set(after)
        if before.get(k) != after.get(k) and not (k == inside or k.startswith(inside + os.sep))
    )
    assert not changed, f"created, changed or removed outside --out: {changed}"
    for p, content in earlier.items():
        assert p.is_file() and p.read_bytes() == content, f"earlier result {p.relative_to(ctx.work)} was changed"
    # the trip-wire proves that nothing trained; this bounds other long work (a retried connection,
    # sympy on a huge formula) at a limit that no machine's load comes near (a case takes a second)
    assert seconds < 120, f"took {seconds:.1f} s"


# ------------------------------------------------- hostile values that must not pass silently
# Inputs that are not errors of the user's command, but files and values actlab must read right:
# a damaged file is set aside (or computed again), a value is shown as given, a shape is kept.
def _compare_tanh(out: Path) -> int:
    return main(
        [
            "compare",
            "--dataset",
            "iris",
            "--activations",
            "tanh",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--out",
            str(out),
            "--quiet",
        ]
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A compare folder with one finished run (tanh on iris, one epoch), and that run's record."""
    out = tmp_path_factory.mktemp("compare") / "out"
    assert _compare_tanh(out) == 0
    return out, json.loads((out / "runs" / "tanh__seed0.json").read_text())


def _changed(doc: dict, path: tuple, value: Any) -> dict:
    doc = json.loads(json.dumps(doc))
    _set(path, value)(doc)
    return doc


IMPOSSIBLE = [  # where in a run record, the value a run file cannot hold
    (("result", "test", "accuracy"), float("nan")),
    (("result", "test", "accuracy"), float("inf")),
    (("result", "test", "accuracy"), 5.0),
    (("result", "test", "accuracy"), -0.25),
    (("result", "test", "accuracy"), None),
    (("result", "test", "accuracy"), 10**400),
    (("result", "test", "accuracy"), "0.5"),
    (("result", "test", "accuracy"), True),
    (("result", "final_train", "accuracy"), float("nan")),
    (("result", "epochs", 0, "val_accuracy"), 1.5),
    (("result", "epochs", 0, "val_accuracy"), float("-inf")),
    (("result", "epochs", 0, "train_accuracy"), None),
    (("result", "test", "loss"), 10**400),
    (("result", "n_params"), 10**400),
    (("result", "seconds"), "slow"),
    (("result", "status"), "x" * 1_000_000),
    (("result", "epochs", 0, "x" * 1_000_000), 1.0),
    (("trained_by",), "x" * 1_000_000),
]


@pytest.mark.parametrize("where, value", IMPOSSIBLE, ids=lambda v: str(v)[:30])
def test_a_run_file_with_an_impossible_number_is_set_aside(finished_run, tmp_path, where, value):
    from actlab.execution import read_unit

    _, good = finished_run
    runs = tmp_path / "runs"
    runs.mkdir()
    raw = json.dumps(_changed(good, where, value), allow_nan=True).encode()
    (runs / "tanh__seed0.json").write_bytes(raw)
    assert read_unit(runs, _unit_of(good)) is None  # not finished: it trains again
    assert (runs / "tanh__seed0.json.damaged").read_bytes() == raw  # and nothing is lost


def _unit_of(record: dict):
    from actlab.execution import Unit

    unit = Unit.from_dict(record["unit"])
    assert unit.key() == record["key"]
    return unit


def test_a_diverged_run_keeps_its_null_accuracy(finished_run, tmp_path):
    """null where a diverged epoch has no accuracy is a value actlab writes: it is read back."""
    from actlab.execution import read_unit

    _, good = finished_run
    d = _changed(good, ("result", "status"), "diverged")
    d["result"]["epochs"][0].update(train_loss=None, train_accuracy=None)
    (tmp_path / "tanh__seed0.json").write_text(json.dumps(d))
    assert read_unit(tmp_path, _unit_of(good))["result"]["epochs"][0]["train_accuracy"] is None


def test_compare_trains_again_a_run_whose_accuracy_is_impossible(finished_run, capsys):
    out, good = finished_run
    for value in (float("nan"), float("inf"), 5.0):
        (out / "runs" / "tanh__seed0.json").write_text(
            json.dumps(_changed(good, ("result", "test", "accuracy"), value))
        )
        capsys.readouterr()
        assert _compare_tanh(out) == 0
        shown = capsys.readouterr().out
        row = next(line for line in shown.splitlines() if line.startswith("tanh"))
        assert 0 <= float(row.split()[1]) <= 1, row  # the mean of the one seed: a trained accuracy
        assert 0 <= json.loads((out / "runs" / "tanh__seed0.json").read_text())["result"]["test"]["accuracy"] <= 1
        assert (out / "runs" / "tanh__seed0.json.damaged").exists()


def test_damaged_feature_files_are_computed_again(tmp_path):
    from actlab.surrogate import BLOCKS, Surrogate, Task
    from actlab.surrogate.features import block_values

    task = Task(dataset="iris")
    Surrogate(task, folder=tmp_path).features("tanh")
    path = next(tmp_path.glob("*.json"))
    good = json.loads(path.read_text())
    first_init = next(iter(good["init"]))
    for where, value in [
        (("seconds",), "slow"),
        (("seconds",), 10**400),
        (("seconds",), -1.0),
        (("seconds",), None),
        (("note",), {"a": 1}),
        (("note",), "x" * 1_000_000),
        (("outputs", 0), 10**400),
        (("outputs", 0), True),
        (("slopes", 3), "0.5"),
        (("fisher", 0), None),
        (("init", first_init), float("nan")),
        (("ok",), "yes"),
    ]:
        path.write_text(json.dumps(_changed(good, where, value), allow_nan=True))
        f = Surrogate(task, folder=tmp_path).features("tanh")
        assert isinstance(f["seconds"], float) and 0 <= f["seconds"] < 1e6, where
        assert f["note"] is None or isinstance(f["note"], str) and len(f["note"]) < 1000, where
        assert all(isinstance(v, float) and math.isfinite(v) for b in BLOCKS for v in block_values(f, b)), where
        assert json.loads(path.read_text())["seconds"] == f["seconds"]  # the file was written again


def _best_learned_file(path: Path, layers: dict[str, float]) -> Path:
    path.write_text(
        json.dumps(
            {
                **BEST,
                "functions": {"all": "x * tanh(1.5 * x)"},
                "learn_constants": True,
                "learned": {k: {"constants": [v]} for k, v in layers.items()},
            }
        )
    )
    return path


def test_show_of_a_best_json_shows_the_learned_constants(tmp_path, capsys):
    path = _best_learned_file(tmp_path / "best.json", {"input": 1.25, "hidden_1": 2.75, "hidden_2": 2.75})
    assert main(["show", str(path), "--no-plot"]) == 0
    shown = capsys.readouterr().out
    assert "tanh(1.25 * x)" in shown and "tanh(2.75 * x)" in shown and "1.5 * x" not in shown
    assert shown.count("tanh(2.75 * x)  [") == 1  # two layers, one function: shown once, naming both
    assert "hidden_1, hidden_2" in shown


def test_show_names_the_arguments_given(capsys):
    assert main(["show", "snake(alpha=-1)", "--no-plot"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("parameters:"))
    assert "alpha=-1.0" in line


def test_an_element_wise_function_keeps_the_shape_of_its_input():
    import torch

    import actlab
    from actlab.catalogue import entries

    for e in entries():
        if not e.elementwise or e.stochastic:
            continue
        for shape in ((), (3,), (2, 3)):
            x = torch.full(shape, 0.5)
            assert actlab.get(e.name)(x).shape == shape, (e.name, shape)
            assert actlab.catalogue.functional(e.name)(x).shape == shape, (e.name, shape)


def test_export_reaches_every_layer_of_a_best_json(tmp_path, capsys):
    path = _best_learned_file(tmp_path / "best.json", {"input": 1.25, "hidden_1": 2.75})
    assert main(["export", str(path), "--to", "code", "--slot", "hidden_1"]) == 0
    code = capsys.readouterr().out
    assert "2.75" in code and "1.25" not in code


def test_layers_with_equal_learned_constants_share_one_exported_function(tmp_path):
    import importlib.util

    import torch

    import actlab

    layers = {"input": 2.0, **{f"hidden_{i}": 2.0 if i % 2 else 3.0 for i in range(1, 10_000)}}
    path = _best_learned_file(tmp_path / "best.json", layers)
    code = actlab.to_code(path)
    assert len(code) < 20_000 and code.count("\ndef ") == 2 and code.count("\nclass ") == 2
    (tmp_path / "exported.py").write_text(code)
    spec = importlib.util.spec_from_file_location("exported", tmp_path / "exported.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fns = [v for k, v in vars(mod).items() if k.startswith("expr_") and callable(v)]
    x = torch.linspace(-3, 3, 7)
    assert len(fns) == 2
    for f in fns:
        assert any(torch.allclose(f(x), x * torch.tanh(c * x)) for c in (2.0, 3.0))


def test_a_killed_writer_leaves_no_temporary_for_ever(tmp_path):
    from actlab._io import STALE_TEMPORARY_AGE, write_file_atomic

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    dead, alive, old = p.pid, os.getppid(), time.time() - 2 * STALE_TEMPORARY_AGE  # another live process's
    stale = [tmp_path / f".act.{dead}.tmp.onnx", tmp_path / f".act.{dead + 10**6}.tmp.onnx"]
    kept = [
        tmp_path / f".act.{alive}.tmp.onnx",
        tmp_path / f".other.{dead}.tmp.onnx",
        tmp_path / ".act.x.tmp.onnx",
        tmp_path / f".act.{dead}.tmp.png",
    ]
    for t in stale + kept:
        t.write_bytes(b"half written")
        os.utime(t, (old, old))
    young = tmp_path / f".act.{dead + 2 * 10**6}.tmp.onnx"  # being written by another machine's process, perhaps
    young.write_bytes(b"half written")
    write_file_atomic(tmp_path / "act.onnx", lambda t: t.write_bytes(b"model"))
    assert not any(t.exists() for t in stale) and all(t.exists() for t in [*kept, young])
    assert (tmp_path / "act.onnx").read_bytes() == b"model"


def test_a_wrong_example_input_leaves_the_model_as_it_was():
    import torch

    with pytest.raises(ActlabError) as e:
        swap_with_a_wrong_example_input(None)
    assert "example_input" in str(e.value)
    import actlab

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(ActlabError):
        actlab.swap_activations(model, "frelu", example_input=torch.zeros(2, 5, 8, 8))
    assert isinstance(model[1], torch.nn.ReLU)


def test_values_that_start_with_a_minus_are_values(tmp_path, capsys):
    assert main(["plot", "relu", "--range", "-5e-1", "1", "--out", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").exists()
