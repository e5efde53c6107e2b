"""The studies from Python (actlab.compare, search, evolve, screen), end to end on tiny real data:
each result prints what the command line prints, resumes its folder, gives a tidy frame, its
winner, its report and a figure; keywords are the command line's options, checked in one line."""

from __future__ import annotations

import argparse
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

import actlab
from actlab import ActlabError
from actlab.api._keywords import keywords

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402  (after the backend is chosen)

CLI = [sys.executable, "-m", "actlab.cli"]
IRIS = {"dataset": "iris", "epochs": 1, "threads": 1}
STUDIES = {  # study -> its tiny options (pack=1: a packed comparison times every function again)
    "compare": {**IRIS, "activations": "relu,tanh", "seeds": 1, "pack": 1},
    "search": {**IRIS, "candidates": "relu,tanh", "trials": 2, "top_k": 1, "final_seeds": 1},
    "evolve": {**IRIS, "population": 4, "generations": 2, "final_seeds": 1, "final_epochs": 1},
    "screen": {**IRIS, "candidates": "relu,gelu,expr:x*tanh(x)", "train_top": 1, "train_random": 0, "seeds": 1},
}
AGAIN = {"evolve": ["--resume"]}  # how the command line continues a finished study in its folder


def argv(options: dict) -> list[str]:
    """``options`` as command-line words."""
    return [w for k, v in options.items() for w in (f"--{k.replace('_', '-')}", str(v))]


@pytest.fixture(scope="module", params=list(STUDIES))
def studied(request, tmp_path_factory):
    """(study, its result from Python, the files of its runs and their times just after it)."""
    name = request.param
    out = tmp_path_factory.mktemp(name) / "out"
    result = getattr(actlab, name)(**STUDIES[name], out=out, quiet=True)
    return name, result, _stamps(out)


def _stamps(out: Path) -> dict[str, int]:
    """Every file of a study's runs and trainings and when it was last written."""
    return {str(p): p.stat().st_mtime_ns for p in out.rglob("*.json") if p.parent != out}


def test_the_table_is_what_the_command_line_prints_and_its_runs_are_reused(studied):
    name, result, stamps = studied
    r = subprocess.run(
        [*CLI, name, *argv(STUDIES[name]), "--out", str(result.out), "--quiet", *AGAIN.get(name, [])],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert result.table() in r.stdout
    assert r.stdout.split(result.table())[1].startswith("\nresults: ")  # then where the results are
    assert stamps and _stamps(result.out) == stamps  # nothing trained twice, nothing written again


def test_the_same_call_again_reuses_the_folder(studied):
    name, result, stamps = studied
    if name == "evolve":
        again = actlab.evolve(**STUDIES[name], out=result.out, quiet=True, resume=True)
    else:
        again = getattr(actlab, name)(**STUDIES[name], out=result.out, quiet=True)
    assert again.table() == result.table()
    assert _stamps(result.out) == stamps


def test_to_pandas_is_one_row_per_run_with_the_documented_columns(studied):
    name, result, _ = studied
    frame = result.to_pandas()
    assert list(frame.columns) == result.columns()
    assert list(frame.columns[: len(result.COLUMNS)]) == list(result.COLUMNS)
    runs = {
        "compare": lambda r: len(r["runs"]),
        "search": lambda r: len(r["trials"]),
        "evolve": lambda r: sum(len(c["seeds"]) for c in r["final"]["contenders"]),
        "screen": lambda r: len(r["candidates"]),
    }[name](result.results)
    assert len(frame) == runs > 0
    if name == "compare":
        assert sorted(zip(frame["activation"], frame["seed"], strict=True)) == [("relu", 0), ("tanh", 0)]
    if name == "search":  # one column per layer's activation, as the trial chose it
        assert set(result.results["space"]["slots"]) <= set(frame.columns)
        assert set(frame[result.results["space"]["slots"][0]]) <= {"relu", "tanh"}


def test_best_is_the_winner_and_its_score(studied):
    name, result, _ = studied
    best = result.best
    if name == "compare":
        summary = {r["activation"]: r["mean"] for r in result.results["summary"]}
        assert summary[best["activation"]] == max(summary.values()) == best["mean"]
    elif name == "search":
        top = next(c for c in result.results["final"]["configs"] if c["name"] == "top-1")
        assert best["plan"] == top["plan"] and best["mean"] == top["mean"]
    elif name == "evolve":
        assert best["functions"] == result.results["hall_of_fame"][0]["functions"]
        assert best["fitness"] == max(h["fitness"] for h in result.results["hall_of_fame"])
    else:
        trained = [r for r in result.results["candidates"] if r["val_accuracy"] is not None]
        assert best["val_accuracy"] == max(r["val_accuracy"] for r in trained)


def test_report_writes_the_html_page_where_asked_and_plot_is_a_figure(studied, tmp_path):
    _, result, _ = studied
    page = result.report(tmp_path / "elsewhere")
    assert page == tmp_path / "elsewhere" / "report.html"
    assert page.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html>")
    assert (result.out / "report.html").exists()  # the study wrote its own, as the command line does
    fig = result.plot()
    assert isinstance(fig, Figure) and fig.axes


def test_every_long_option_of_the_command_is_a_keyword():
    """Derived from the declared options: an option the command line gains is a keyword at once."""
    from actlab.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in STUDIES:
        study = importlib.import_module(f"actlab.api._{name}").STUDY
        longs = {
            s[2:].replace("-", "_") for a in commands[name]._actions for s in a.option_strings if s.startswith("--")
        }
        assert set(keywords(study)) == longs - {"help"}, name


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"epoch": 1}, "compare() has no option 'epoch'; did you mean 'epochs'?"),
        ({"optimiser": "adam"}, "compare() has no option 'optimiser'; did you mean 'optimizer'?"),
        ({"optimizer": "adamm"}, "did you mean 'adam'?"),
        ({"seeds": 0}, "--seeds"),
        ({"quiet": "yes"}, "quiet is True or False"),
        ({"data_arg": 5}, 'data_arg is a dict or "NAME=VALUE" strings'),
        ({"data_arg": ["n"]}, "data_arg: 'n' is not KEY=VALUE"),
        ({"data_arg": {"not a name": 1}}, "data_arg: the names must be Python names"),
    ],
)
def test_a_bad_keyword_is_one_line_naming_the_closest_option(options, message, tmp_path):
    with pytest.raises(ActlabError) as e:
        actlab.compare(**options, out=tmp_path / "out")
    assert message in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()  # refused before anything is written


def test_a_keyword_string_is_read_as_the_command_line_reads_it():
    from actlab.api._evolve import STUDY, config_from_args
    from actlab.api._keywords import arguments

    config = config_from_args(arguments(STUDY, "evolve", {"budget": "2m", "unary": "tanh,sin", "no_constants": True}))
    assert (config.budget, config.unary, config.constants) == (120.0, ["tanh", "sin"], False)
    for given in ({"n": 5, "name": "x"}, ["n=5", "name=x"]):  # a dict, or the command line's NAME=VALUE
        assert arguments(STUDY, "evolve", {"data_arg": given}).data_arg == {"n": 5, "name": "x"}
    with pytest.raises(ActlabError, match="^budget: a duration like 90s"):
        arguments(STUDY, "evolve", {"budget": "soon"})


def test_another_commands_folder_is_refused(studied, tmp_path):
    name, result, _ = studied
    other = "screen" if name == "compare" else "compare"
    with pytest.raises(ActlabError, match=f"holds the results of 'actlab {name}'"):
        getattr(actlab, other)(**STUDIES[other], out=result.out, quiet=True)


def test_to_pandas_without_pandas_says_how_to_install_it(studied, monkeypatch):
    _, result, _ = studied
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(ActlabError, match=r"^to_pandas\(\) needs pandas: pip install pandas$"):
        result.to_pandas()


@pytest.mark.parametrize("name", list(STUDIES))
def test_the_docstring_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write their folders into the current one
    module = importlib.import_module(f"actlab.api._{name}")
    tests = [t for t in doctest.DocTestFinder().find(module) if t.examples]
    assert [t.name.rsplit(".", 1)[-1] for t in tests] == [name]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0 and runner.tries >= 3
    assert (tmp_path / f"iris-{name}" / "report.html").exists()


class ZMQInteractiveShell:  # the class of a Jupyter kernel's shell, as IPython names it
    pass


@pytest.fixture
def in_a_notebook(monkeypatch):
    """This process as a Jupyter kernel looks to actlab (no kernel runs in the tests)."""
    ipython = type(sys)("IPython")
    ipython.get_ipython = ZMQInteractiveShell
    monkeypatch.setitem(sys.modules, "IPython", ipython)


def test_progress_in_a_notebook_is_a_tqdm_bar(in_a_notebook, capsys):
    import io

    from tqdm.auto import tqdm

    from actlab._progress import Progress

    stream = io.StringIO()
    p = Progress(3, "runs", stream=stream, done=1)
    assert isinstance(p.bar, tqdm) and p.bar.n == 1
    p.begin("relu seed 0")
    p.finish("finished, test acc 0.900")
    assert p.bar.n == 2 and stream.getvalue() == ""  # the bar, not lines
    p.finish("finished", skipped=True)
    assert p.bar.n == 3 and p.bar.disable  # closed when every unit is done


def test_progress_in_a_notebook_without_tqdm_is_lines(in_a_notebook, monkeypatch):
    import io

    from actlab._progress import Progress

    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto now fails
    stream = io.StringIO()
    p = Progress(2, "runs", stream=stream)
    p.begin("relu seed 0")
    p.finish("finished")
    assert p.bar is None and "1/2 runs" in stream.getvalue()


def test_progress_in_a_terminal_or_a_log_is_lines():
    import io

    from actlab._progress import Progress

    stream = io.StringIO()
    p = Progress(1, "runs", stream=stream)
    p.finish("finished")
    assert p.bar is None and stream.getvalue().startswith("[####################] 1/1 runs")
