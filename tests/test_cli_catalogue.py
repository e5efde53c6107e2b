"""The catalogue commands, run as a user runs them: a real `actlab` process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import actlab
from actlab.catalogue import entries


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "actlab.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_list_table_and_json():
    r = run("list")
    assert r.returncode == 0, r.stderr
    names = [
        line.split()[0]
        for line in r.stdout.splitlines()[2:]
        if line.strip() and not line.startswith(tuple("0123456789"))
    ]
    assert set(names) >= {e.name for e in entries()}
    r = run("list", "--kind", "math", "--format", "json")
    data = json.loads(r.stdout)
    assert {d["name"] for d in data} == {e.name for e in entries("math")}
    assert all(d["kind"] == "math" for d in data) and len(data) == 23
    relu = json.loads(run("list", "--format", "json").stdout)
    by_name = {d["name"]: d for d in relu}
    assert by_name["relu"]["range"] == [0, None] and by_name["relu"]["monotonic"] is True


def test_show_prints_values_derivatives_and_writes_png(tmp_path):
    r = run("show", "selu", "--out", str(tmp_path / "selu.png"))
    assert r.returncode == 0, r.stderr
    assert "monotonic" in r.stdout and "zero-centred" in r.stdout and "1706.02515" in r.stdout
    # the value and the derivative at x = 1 (lambda = 1.0507...), at -1: lambda*alpha*(e^-1 - 1)
    rows = {
        float(m.group(1)): (float(m.group(2)), float(m.group(3)))
        for m in re.finditer(r"^\s+(-?\d\.\d\d)\s+(\S+)\s+(\S+)$", r.stdout, re.M)
    }
    assert rows[1.0] == pytest.approx((1.0507, 1.0507), rel=1e-4)
    assert rows[-1.0][0] == pytest.approx(1.0507009873554805 * 1.6732632423543772 * (np.exp(-1) - 1), rel=1e-5)
    w, h = png_size(tmp_path / "selu.png")
    assert w > 300 and h > 200
    assert str((tmp_path / "selu.png").resolve()) in r.stdout


def test_show_spec_with_arguments_and_default_png_location(tmp_path):
    r = run("show", "leaky_relu(negative_slope=0.2)", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"-1\.00\s+-0\.2\s+0\.2", r.stdout)
    assert (tmp_path / "leaky_relu.png").exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (("show", "nosuch"), r"unknown activation 'nosuch'; did you mean"),
        (("show", "relu(__import__('os'))"), r"not a literal"),
        (("show", "leaky_relu(slope=1)"), r"no argument 'slope'; valid arguments: negative_slope"),
        (("show", "elu(alpha='x')"), r"must be float"),
        (("plot", "relu", "nosuch", "--out", "x.png"), r"unknown activation 'nosuch'"),
        (("plot", "relu", "--out", "x.png", "--range", "1", "0"), r"LO < HI"),
        (("plot", "relu", "--out", "x.png", "--range", "nan", "1"), r"--range LO must be a finite number"),
        (("plot", "relu", "--out", "x.png", "--range", "0", "inf"), r"--range HI must be a finite number"),
        (("plot", "relu", "--out", "x.png", "--range", "0", "1e300"), r"--range HI must be at most"),
        (("plot", "relu", "--out", "x.png", "--range", "0"), r"expected 2 arguments"),
        (("show", "leaky_rlu"), r"did you mean 'leaky_relu', 'leaky_relu_keras'\?$"),
        (("list", "--kind", "nope"), r"invalid choice"),
    ],
)
def test_user_errors_are_one_line_exit_2(args, expected, tmp_path):
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("actlab: error:"), r.stderr
    assert "Traceback" not in r.stderr and re.search(expected, lines[0]), lines[0]


def test_suggestions_name_each_function_once():
    from actlab._errors import ActlabError
    from actlab.catalogue import REGISTRY

    for typo in ("leaky_rlu", "Leaky-Rlu", "swsh", "hardswsh", "rleu"):
        with pytest.raises(ActlabError) as e:
            REGISTRY.lookup(typo)
        names = re.findall(r"'([^']+)'", str(e.value).split("did you mean", 1)[1])
        assert names and len(names) == len(set(names)) <= 3, str(e.value)


def test_unwritable_out_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("show", "relu", "--out", str(blocker / "sub" / "relu.png"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "cannot create folder" in r.stderr


def test_every_command_has_help_with_an_example():
    for cmd in ("list", "show", "plot", "gallery"):
        r = run(cmd, "--help")
        assert r.returncode == 0 and "Example" in r.stdout and "actlab " + cmd in r.stdout, cmd


def test_plot_several_functions(tmp_path):
    r = run("plot", "relu", "selu", "swish", "elu(alpha=0.5)", "--out", str(tmp_path / "p.png"))
    assert r.returncode == 0, r.stderr
    w, h = png_size(tmp_path / "p.png")
    assert w > 800 and h > 300


def test_gallery_in_headless_chromium(tmp_path, chromium):
    r = run("gallery", "--out", str(tmp_path / "gallery"))
    assert r.returncode == 0, r.stderr
    page = tmp_path / "gallery" / "index.html"
    assert str(page.resolve()) in r.stdout
    names = [e.name for e in entries()]
    assert all((tmp_path / "gallery" / "img" / f"{n}.png").stat().st_size > 5000 for n in names)

    # the page as Chromium rendered it lists every entry
    dom = chromium(page.as_uri(), "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = set(re.findall(r'class="card entry" id="([^"]+)"', dom.stdout))
    assert rendered == set(names)

    # and the screenshot is a real, non-blank picture
    shot = tmp_path / "gallery.png"
    res = chromium(page.as_uri(), f"--screenshot={shot}", "--window-size=1280,2000")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] == 2000 and img.shape[1] == 1280
    assert img[..., :3].std() > 0.05  # not a blank page
    assert (img[..., :3].mean(axis=2) < 0.5).mean() > 0.01  # dark pixels: text and curves


def test_python_api_roundtrip():
    m = actlab.get("leaky_relu(negative_slope=0.1)")
    import torch

    assert torch.equal(m(torch.tensor([-1.0, 2.0])), torch.tensor([-0.1, 2.0]))
    assert actlab.lookup("swish").name == "silu"


def _one_line(r: subprocess.CompletedProcess, *words: str) -> None:
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-1000:])
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def _unwritable_places(tmp_path: Path) -> list[Path]:
    places = [Path("/proc/actlab-show.png"), Path("/sys/actlab-show.png")]  # read-only even for root
    ro = tmp_path / "read-only"
    ro.mkdir()
    ro.chmod(0o500)
    probe = ro / "probe"
    try:
        probe.write_text("x")  # root writes anyway: then this one proves nothing
        probe.unlink()
    except OSError:
        places.append(ro / "relu.png")
    return [p for p in places if p.parent.exists()]


@pytest.mark.parametrize("command", ["show", "plot"])
def test_an_unwritable_out_is_one_line_for_every_plot(tmp_path, command):
    places = _unwritable_places(tmp_path)
    assert places
    for place in places:
        args = (
            ("show", "relu", "--out", str(place))
            if command == "show"
            else ("plot", "relu", "tanh", "--out", str(place))
        )
        _one_line(run(*args, cwd=tmp_path), "cannot")
        assert not place.exists()


def test_a_bad_out_name_is_one_line_before_any_output(tmp_path):
    _one_line(run("show", "relu", "--out", "relu.txt", cwd=tmp_path), "'.txt' image")
    _one_line(run("show", "relu", "--out", ".", cwd=tmp_path), "is a folder")
    _one_line(run("show", "nosuch.json", cwd=tmp_path), "no file 'nosuch.json'")
    assert not list(tmp_path.iterdir())


def test_show_best_json_writes_only_its_own_files(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    best = {
        "format": "actlab-evolve-best",
        "mode": "triple",
        "functions": {"input": "x * sigmoid(x)", "hidden": "relu(x)", "output": "x / 0"},
    }
    (work / "best.json").write_text(json.dumps(best))
    r = run("show", "best.json", cwd=work)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "best-hidden.png",
        "best-input.png",
        "best-output.png",
        "best.json",
        "work",
    ]
    assert "f(x) = 1000000 x" in r.stdout  # x / 0: the protected division's value, not sympy's x / 0


@pytest.mark.parametrize("functions", [3, "x", [], {}, None, {"all": 3}, {"all": "x", "../../evil": "x"}])
def test_show_best_json_of_junk_is_one_line_and_writes_nothing(tmp_path, functions):
    work = tmp_path / "work"
    work.mkdir()
    (work / "best.json").write_text(json.dumps({"format": "actlab-evolve-best", "functions": functions}))
    _one_line(run("show", "best.json", cwd=work))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["best.json", "work"]
