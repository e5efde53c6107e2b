"""Shared test helpers.

Tests that need something from outside Python (Debian's Chromium, Fashion-MNIST, PostgreSQL)
skip when it is missing on a developer's machine, and FAIL when ACTLAB_REQUIRE_REAL=1 (CI sets
it in .ci/run), so CI can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRE_REAL = os.environ.get("ACTLAB_REQUIRE_REAL") == "1"


def pytest_sessionstart(session):
    """Say the seed of the random test order even under -q (pytest-randomly's header line is not
    shown then): a failure that depends on the order is repeated with the same seed."""
    config = session.config
    seed = getattr(config.option, "randomly_seed", None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    quiet = config.option.verbose < 0  # otherwise pytest-randomly's header says it
    if quiet and isinstance(seed, int) and reporter is not None and not hasattr(config, "workerinput"):
        reporter.write_line(f"random test order: Using --randomly-seed={seed} (pass it to repeat this order)")


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tests train small models: one thread is fastest, and two threads oversubscribe a 2-core
    machine that is also running a test subprocess (10-100x slowdowns were seen)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def torch_default_dtype_restored(one_torch_thread):
    """Torch's default dtype as it was after every test, even one that failed before restoring it:
    float64 left behind changes every later training's numbers and its data cache."""
    import torch

    before = torch.get_default_dtype()
    yield
    torch.set_default_dtype(before)


@pytest.fixture(autouse=True)
def no_user_modules_left(tmp_path_factory):
    """A user's module that a test imported from its temporary folder (``mypkg.models``) is
    forgotten after it: a later test's package of the same name, in its own folder, is found anew
    rather than as the module an earlier test left in ``sys.modules``."""
    before = set(sys.modules)
    yield
    base = str(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - before:
        file = getattr(sys.modules.get(name), "__file__", None) or ""
        if file.startswith(base):
            del sys.modules[name]


@contextlib.contextmanager
def restored_registry():
    """The catalogue's registry, left as it was on leaving (names registered meanwhile gone)."""
    from actlab.catalogue import REGISTRY

    entries, keys = dict(REGISTRY._entries), dict(REGISTRY._keys)
    try:
        yield REGISTRY
    finally:
        REGISTRY._entries.clear()
        REGISTRY._entries.update(entries)
        REGISTRY._keys.clear()
        REGISTRY._keys.update(keys)


@pytest.fixture
def registry():
    """The catalogue's registry for a test that registers functions: no other test sees them."""
    with restored_registry() as r:
        yield r


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """The test's folder as the current one, for a user's code that imports from there (``sys.path``
    as it was again after the test)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def wait_until(pred, timeout: float = 300.0, step: float = 0.1) -> bool:
    """Poll ``pred()`` until it is true (True) or ``timeout`` seconds pass (False)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def stopped_when(group: int, pred, timeout: float = 300.0, step: float = 0.1) -> bool:
    """Stop process group ``group`` (SIGSTOP) at a moment when ``pred()`` holds, and leave it
    stopped (True); False if that does not happen within ``timeout`` seconds (it then runs on).
    The state is judged while the processes stand still, so a kill that follows lands exactly in
    that state, however slowly the machine runs."""
    import signal
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(group, signal.SIGSTOP)
        except ProcessLookupError:  # every process of the group has ended
            return False
        if pred():
            return True
        os.killpg(group, signal.SIGCONT)
        time.sleep(step)
    return False


def killed_mid_run(args: list[str], folder: Path, at_least: int, env: dict | None = None) -> dict[str, bytes]:
    """Start command ``args`` in its own process group, SIGKILL it once ``folder`` holds at least
    ``at_least`` finished ``*.json`` files, and return those files (name -> content)."""
    import signal
    import subprocess

    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    assert stopped_when(proc.pid, lambda: folder.exists() and len(list(folder.glob("*.json"))) >= at_least, 240)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return {p.name: p.read_bytes() for p in folder.glob("*.json")}


def require_real(condition: bool, why: str) -> None:
    """Skip (or fail under ACTLAB_REQUIRE_REAL=1) unless ``condition`` holds."""
    if condition:
        return
    if REQUIRE_REAL:
        pytest.fail(f"ACTLAB_REQUIRE_REAL=1 but {why}")
    pytest.skip(why)


def chromium_path() -> str | None:
    return next(
        (
            p
            for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium")
            if p and Path(p).exists()
        ),
        None,
    )


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture
def chromium(tmp_path):
    """Run headless Chromium: ``chromium(url, "--screenshot=out.png")`` -> CompletedProcess."""
    exe = chromium_path()
    require_real(exe is not None, "Chromium is not installed (apt-get install chromium)")

    def run(url: str, *flags: str, timeout: int = 120) -> subprocess.CompletedProcess:
        profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
        return subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, url],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits (real, offline) through actlab's loader: 64 features, 10 classes."""
    from actlab.data import load

    return load("digits", seed=0)


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on loopback in a temporary folder (initdb + pg_ctl), stopped after.

    PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user."""
    import socket

    bin_dir = _pg_bin()
    require_real(bin_dir is not None, "PostgreSQL is not installed (apt-get install postgresql)")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="actlab-pg-"))  # not under pytest's root-only tmp: postgres must reach it
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        require_real(shutil.which("runuser") is not None, "running as root needs runuser to start PostgreSQL")
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "actlab", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}"
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "actlab", "actlab"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://actlab@127.0.0.1:{port}/actlab"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
