"""What the command line says to its user: every ``--help``, progress lines of real runs, mistakes
found before anything is made, and the search suite's resume.

* Help: at any terminal width, no option's help splits a name across two lines; every option
  with a default says it; no text speaks of how actlab is made; ``evolve --help`` names its
  default lists.
* Progress: a search on two worker processes prints the bar, an ETA and the best trial for every
  trial; pruned and diverged trials say so in words, never ``nan``.
* ``compare`` refuses an activation that cannot work in the model before it creates anything in
  --out; ``--activations articles`` (and its first name, ``seeds``) is the articles' list.
* ``search --suite`` says how long it may take, and a rerun reads what it finished.
"""

from __future__ import annotations

import argparse
import json
import re

import pytest

from actlab.api._options import read_default
from actlab.catalogue import expr as E
from actlab.cli import _compare, _evolve, _screen, _search, build_parser, main
from actlab.studies.evolve import EvolveConfig
from actlab.studies.search import SearchConfig
from actlab.studies.search.run import run_search
from actlab.training import TrainConfig

# overflows float32 in the first forward pass: the run diverges in epoch 1, before any pruning
DIVERGES = "expr:exp(exp(exp(x)))"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help and a.help is not argparse.SUPPRESS]


def words(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------------- help
@pytest.mark.parametrize("width", [60, 80, 123])
def test_no_help_text_splits_a_name_across_lines(width, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(width))
    for name, parser in subcommands().items():
        page = words(parser.format_help())
        for action in options(parser):
            assert words(action.help.replace("%%", "%")) in page, (name, action.option_strings, width)


def test_every_option_with_a_default_says_it():
    studies = {m.STUDY.name: m.STUDY for m in (_compare, _search, _evolve, _screen)}
    for name, parser in subcommands().items():
        for action in options(parser):
            if isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction, argparse._VersionAction)):
                continue
            if action.nargs == 0:  # a flag (store_const): on or off
                continue
            path = studies[name].paths.get(action.dest) if name in studies else None
            has = action.default is not None or (
                path is not None and read_default(studies[name].config, path) is not None
            )
            assert not has or "default" in action.help, (name, action.option_strings, action.help)


def test_help_speaks_to_the_user_not_of_how_actlab_is_made():
    pages = [build_parser().format_help(), *(p.format_help() for p in subcommands().values())]
    for page in pages:
        assert "seeds'" not in page and "'seeds'" not in page
        assert not re.search(r"\b(issues?|sessions?|todo|helpers?|the lead)\b", page, re.IGNORECASE), page


def test_evolve_help_names_its_default_lists():
    page = words(subcommands()["evolve"].format_help())
    assert f"default: these {len(E.DEFAULT_UNARY)}: {', '.join(E.DEFAULT_UNARY)}" in page
    assert f"default: {', '.join(EvolveConfig().catalogue)}" in page
    assert "default: all four: uniform" in page and "primitives" not in page


def test_search_help_states_the_training_defaults():
    helps = {a.dest: a.help for a in options(subcommands()["search"])}
    assert "default 128" in helps["batch_size"] and "default adam" in helps["optimizer"]
    assert "default: torch's choice" in helps["threads"]


# ---------------------------------------------------------------- mistakes found before any file
def _one_line_error(capsys, *expected: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.splitlines()[-1].startswith("actlab: error:"), err
    for e in expected:
        assert e in err, err
    return err


def test_an_activation_that_cannot_work_in_the_model_is_refused_before_anything_is_made(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", "--dataset", "iris", "--activations", "relu,frelu", "--out", str(out)]) == 2
    err = _one_line_error(capsys, "'frelu' does not work in model 'mlp'")
    assert len(err.splitlines()) == 1 and not out.exists()


def test_articles_is_the_list_of_the_source_articles_and_seeds_its_old_name(tmp_path, capsys):
    listed = ", ".join(_compare.ARTICLES.split(","))
    assert main(["compare", "--activations", "articles", "--baseline", "nosuch", "--out", str(tmp_path / "a")]) == 2
    err = _one_line_error(capsys, f"baseline 'nosuch' is not among the activations compared: {listed}")
    assert len(err.splitlines()) == 1
    assert main(["compare", "--activations", "seeds", "--baseline", "nosuch", "--out", str(tmp_path / "s")]) == 2
    first, last = _one_line_error(capsys, listed).splitlines()
    assert first == "actlab: note: --activations seeds is now called 'articles'; both work"
    assert not (tmp_path / "a").exists() and not (tmp_path / "s").exists()


# ------------------------------------------------------------------------------------ progress
TRIAL = re.compile(
    r"^\[[#-]{20}\] (\d+)/(\d+) trials( eta \S+( min| h)?)? \| trial (\d+) (.+); (best \d\.\d{3} \(trial "
    r"\d+\)|no complete trial yet)$"
)


def tiny_search(train: dict | None = None, **kw) -> SearchConfig:
    train = TrainConfig(**{"epochs": 2, "threads": 1, "monitor": "val_accuracy", **(train or {})})
    return SearchConfig(dataset="iris", layers=2, width=8, final_seeds=0, train=train, **kw)


def test_two_worker_processes_show_a_bar_an_eta_and_the_best_for_every_trial(tmp_path, capsys):
    config = tiny_search(candidates=["relu", "tanh", DIVERGES], sampler="random", trials=4)
    run_search(config, tmp_path / "s", n_jobs=2)
    lines = [line for line in capsys.readouterr().err.splitlines() if " trials" in line]
    matches = [TRIAL.match(line) for line in lines]
    assert len(lines) == 4 and all(matches), lines
    assert sorted(int(m.group(5)) for m in matches) == [0, 1, 2, 3]  # every trial once
    assert [int(m.group(1)) for m in matches] == [1, 2, 3, 4] and all(m.group(2) == "4" for m in matches)
    assert all(m.group(3) for m in matches)  # an ETA on every line
    assert "nan" not in " ".join(lines)


def test_pruned_and_diverged_trials_say_so_in_words(tmp_path, capsys):
    """Three functions that pass almost nothing on (stuck at chance, 0.333) among three that learn
    (0.8 and more): Hyperband prunes the hopeless ones whatever the rounding of the machine."""
    hopeless = ["expr:1e-6*x", "expr:1e-6*tanh(x)", "expr:1e-6*sin(x)"]
    config = tiny_search(
        {"epochs": 3, "lr": 0.05, "batch_size": 16},
        candidates=["relu", "tanh", "elu", *hopeless, DIVERGES],
        sampler="grid",
        trials=7,
    )
    run_search(config, tmp_path / "s")
    lines = [line for line in capsys.readouterr().err.splitlines() if " trials" in line]
    assert len(lines) == 7 and all(TRIAL.match(line) for line in lines), lines
    outcomes = [TRIAL.match(line).group(6) for line in lines]
    assert (
        sum(
            bool(re.fullmatch(r"diverged in epoch \d, scored (0|0\.\d{3}, its best val_acc before)", o))
            for o in outcomes
        )
        == 1
    ), outcomes
    assert any(re.fullmatch(r"pruned after epoch \d \(val_acc 0\.333\)", o) for o in outcomes), outcomes
    assert sum(bool(re.fullmatch(r"val_acc \d\.\d{3}", o)) for o in outcomes) >= 3, outcomes
    assert "nan" not in " ".join(lines)


# ---------------------------------------------------------------------------------------- suite
SUITE = [
    "search",
    "--suite",
    "offline",
    "--layers",
    "2",
    "--width",
    "8",
    "--candidates",
    "relu,tanh",
    "--trials",
    "2",
    "--epochs",
    "2",
    "--top-k",
    "1",
    "--final-seeds",
    "2",
    "--threads",
    "1",
]


def test_the_suite_says_how_long_it_may_take_and_a_rerun_reads_what_it_finished(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_search, "OFFLINE_SUITE", ("iris", "wine"))  # two datasets show the mechanism
    out = tmp_path / "suite"
    assert main([*SUITE, "--quiet", "--out", str(out)]) == 0
    first = capsys.readouterr().out
    assert re.search(r"^suite: 2 datasets; the search takes at most about \d+s on this machine", first, re.M), first
    assert re.search(r"^suite: searching iris -> .* \(at most about \d+s\)$", first, re.M), first
    table = first.split("outcome", 1)[1]
    kept = {f: f.read_bytes() for f in out.rglob("*") if f.is_file() and f.suffix in (".json", ".html")}

    assert main([*SUITE, "--quiet", "--out", str(out)]) == 0  # finished: read, nothing trained or redrawn
    again = capsys.readouterr().out
    assert re.search(r"^suite: 2 datasets, 2 finished before$", again, re.M), again
    assert "suite: iris finished before; its results are read from" in again and "searching" not in again
    assert again.split("outcome", 1)[1] == table
    assert {f: f.read_bytes() for f in kept} == kept

    (out / "wine" / "results.json").unlink()  # killed after its final runs, before its results were written
    assert main([*SUITE, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "searching wine" in captured.out and "iris finished before" in captured.out
    finals = [line for line in captured.err.splitlines() if "final runs" in line]
    assert len(finals) == len(list((out / "wine" / "final").glob("*.json"))) >= 2, captured.err
    assert all(line.endswith("already done, skipped") for line in finals), captured.err
    assert " trials" not in captured.err  # its study was finished too: no trial trained again
    assert json.loads((out / "wine" / "results.json").read_text()) == json.loads(kept[out / "wine" / "results.json"])
