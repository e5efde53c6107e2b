"""Shared test helpers.

Tests that need something from outside Python (Debian's Chromium, Fashion-MNIST, PostgreSQL)
skip when it is missing on a developer's machine, and FAIL when ACTLAB_REQUIRE_REAL=1 (CI sets
it in .ci/run), so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REQUIRE_REAL = os.environ.get("ACTLAB_REQUIRE_REAL") == "1"


def require_real(condition: bool, why: str) -> None:
    """Skip (or fail under ACTLAB_REQUIRE_REAL=1) unless ``condition`` holds."""
    if condition:
        return
    if REQUIRE_REAL:
        pytest.fail(f"ACTLAB_REQUIRE_REAL=1 but {why}")
    pytest.skip(why)


def chromium_path() -> str | None:
    return next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium") if p and Path(p).exists()), None)


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
]


@pytest.fixture
def chromium(tmp_path):
    """Run headless Chromium: ``chromium(url, "--screenshot=out.png")`` -> CompletedProcess."""
    exe = chromium_path()
    require_real(exe is not None, "Chromium is not installed (apt-get install chromium)")

    def run(url: str, *flags: str, timeout: int = 120) -> subprocess.CompletedProcess:
        profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, url],
                              capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits (real, offline) through actlab's loader: 64 features, 10 classes."""
    from actlab.data import load

    return load("digits", seed=0)
