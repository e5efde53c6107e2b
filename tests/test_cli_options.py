"""The study commands' options: one name and one help text per setting across the commands, older
names still understood; every default a help shows is its config's; the one merge of a study's
settings (defaults < preset < checkpoint < command line); 0 read as "none" where a command says
so. And startup: ``actlab --help`` and ``actlab list`` read nothing of the studies.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from actlab.api._options import SHARED, read_default, settle, show
from actlab.cli import _compare, _evolve, _main, _screen, _search, build_parser, main

STUDIES = {m.STUDY.name: m for m in (_compare, _search, _evolve, _screen)}
SHARED_FLAGS = {o.name: o.flags for _, group in SHARED for o in group}


def parser_of(command: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


@pytest.mark.parametrize("command", list(STUDIES))
def test_a_shared_setting_has_one_name_and_one_help_in_every_command(command):
    mine = {a.dest: a for a in parser_of(command)._actions if a.option_strings and a.help != argparse.SUPPRESS}
    others = {c: {a.dest: a for a in parser_of(c)._actions if a.option_strings} for c in STUDIES if c != command}
    for dest, flags in SHARED_FLAGS.items():
        if dest not in mine:
            continue
        assert mine[dest].option_strings == [flags[0]], (command, dest)  # an older name is hidden ...
        for alias in flags[1:]:
            assert f"{alias} is the same" in mine[dest].help, (command, dest)  # ... and named in the help
        for other, actions in others.items():  # the same words, defaults aside
            if dest in actions and actions[dest].help != argparse.SUPPRESS:
                assert _words(actions[dest].help) == _words(mine[dest].help), (command, other, dest)


def _words(text: str) -> str:
    return text.split(" (default")[0]


@pytest.mark.parametrize(
    "argv, dest, value",
    [
        (["search", "--n-jobs", "3"], "workers", 3),
        (["search", "--workers", "3"], "workers", 3),
        (["compare", "--n-jobs", "2"], "workers", 2),
        (["compare", "--depth", "4"], "layers", 4),
        (["evolve", "--depth", "4"], "layers", 4),
        (["screen", "--layers", "4"], "layers", 4),
    ],
)
def test_older_names_are_understood(argv, dest, value):
    assert getattr(parse(*argv), dest) == value


def test_a_mistake_names_the_option_as_typed(tmp_path, capsys):
    for spelling in ("--n-jobs", "--workers"):
        assert main(["search", "--dataset", "iris", spelling, "0", "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"actlab: error: {spelling} must be at least 1, got 0", err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", list(STUDIES))
def test_every_default_a_help_shows_is_the_configs(command):
    study = STUDIES[command].STUDY
    for action in parser_of(command)._actions:
        path = study.paths.get(action.dest)
        value = read_default(study.config, path) if path else None
        if value is None or isinstance(value, (list, dict, bool)) or action.help == argparse.SUPPRESS:
            continue
        assert f"default {show(value)}" in " ".join(action.help.split()), (command, action.dest, value)


def test_help_reads_defaults_without_constructing_a_config(monkeypatch):
    from actlab.studies.compare import CompareConfig
    from actlab.studies.evolve import EvolveConfig
    from actlab.studies.screen import ScreenConfig
    from actlab.studies.search import SearchConfig

    made = []
    for cls in (CompareConfig, SearchConfig, EvolveConfig, ScreenConfig):
        monkeypatch.setattr(cls, "__post_init__", lambda self, cls=cls: made.append(cls.__name__))
    for command in STUDIES:
        parser_of(command).format_help()
    assert made == []


def test_the_layers_merge_in_order_defaults_preset_checkpoint_command_line():
    study = _compare.STUDY
    args = parse("compare", "--epochs", "7")
    d = settle(study, args, preset={"epochs": 3, "seeds": 5, "layers": 4})
    assert d["train"]["epochs"] == 7 and d["seeds"] == 5 and d["model_options"] == {"depth": 4}
    assert d["train"]["batch_size"] == read_default(study.config, "train.batch_size")  # no layer: the default

    args = parse("evolve", "--generations", "9")
    saved = {**settle(_evolve.STUDY, parse("evolve")), "population": 8, "generations": 3, "data_options": {}}
    config = _evolve.config_from_args(args, base=saved)
    assert (config.population, config.generations, config.data_options) == (8, 9, {})


def test_zero_is_none_where_the_command_reads_it_so():
    config = _compare.config_from_args(parse("compare", "--threads", "0", "--patience", "0"))
    assert config.train.threads is None and config.train.patience is None
    config = _evolve.config_from_args(parse("evolve", "--limit", "0", "--threads", "0"))
    assert "limit" not in config.data_options and config.train.threads is None
    assert settle(_search.STUDY, parse("search", "--limit", "0"))["data_options"] == {"limit": 0}  # refused on load


def test_width_and_layers_are_for_the_mlp_only():
    from actlab import ActlabError

    for command in STUDIES:
        with pytest.raises(ActlabError, match="--width and --layers apply to the mlp model only, not 'cnn1d'"):
            settle(STUDIES[command].STUDY, parse(command, "--model", "cnn1d", "--layers", "3"))


# ---------------------------------------------------------------------------------- startup
HEAVY = ("torch", "optuna", "deap", "sympy", "matplotlib", "actlab.studies", "actlab.cli._compare")


def _loaded_after(argv: list[str]) -> list[str]:
    """The heavy modules a fresh interpreter holds after ``main(argv)``."""
    code = (
        "import json, sys\nfrom actlab.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_help_imports_nothing_heavy():
    assert _loaded_after(["--help"]) == []


def test_list_reads_the_catalogue_and_nothing_of_the_studies():
    assert _loaded_after(["list"]) == ["torch"]  # the catalogue's functions are torch's


def test_a_studys_start_and_its_workers_load_no_scipy_and_no_plotting():
    """scipy.stats (about 0.45 s), scipy.special (0.3 s, the catalogue's NumPy references) and
    matplotlib load where they are first needed, at a study's end: at its start this process
    loads torch on the same cores as the workers' server, which loads what the workers run."""
    code = (
        "import json, sys\nimport actlab.cli._evolve, actlab.studies.evolve.run, actlab.execution.worker\n"
        "print(json.dumps([m for m in ('scipy.stats', 'scipy.special', 'matplotlib') if m in sys.modules]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []


COLLECTOR = """
import gc, json, sys
import actlab.cli._catalogue as command
from actlab.cli import main, run
seen = []
def cmd(args):
    seen.append([gc.isenabled(), gc.get_freeze_count() > 100_000])
    return 0
command.cmd_list = cmd
main(["list"])  # in a caller's process: nothing frozen
for argv in (["list"], ["--no-such-option"]):
    sys.argv = ["actlab", *argv]
    try:
        run()
    except SystemExit:
        pass
    seen.append(gc.isenabled())
print(json.dumps(seen))
"""


def test_the_program_runs_a_command_with_its_imports_frozen_and_the_collector_on():
    """In the ``actlab`` program, the chosen command's imports load with the garbage collector off
    (loading torch ran two or three full collections) and are frozen out of its sight before the
    command runs, with the collector on again, also after a command line that does not parse.
    ``main`` in a caller's process freezes nothing."""
    r = subprocess.run([sys.executable, "-c", COLLECTOR], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [[True, False], [True, True], True, True]


END = """
import atexit, gc, sys
from actlab.cli import run
atexit.register(lambda: print("exit handlers ran; objects frozen:", gc.get_freeze_count() > 0))
sys.argv = ["actlab", *sys.argv[1:]]
run()
"""


@pytest.mark.parametrize("argv, status", [(["list"], 0), (["show", "no-such-function"], 2)])
def test_the_program_ends_with_its_status_and_runs_every_exit_handler(argv, status):
    """``actlab`` (the console script and ``python -m actlab.cli``) keeps its objects out of the
    last garbage collection (0.5-0.8 s at the end of a command) and still ends as Python does:
    its status, its output, every exit handler."""
    r = subprocess.run([sys.executable, "-c", END, *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == status, r.stderr
    assert r.stdout.rstrip().endswith("exit handlers ran; objects frozen: True"), r.stdout[-500:]
    assert (len(r.stdout.splitlines()) > 10) if status == 0 else ("actlab: error:" in r.stderr)


def test_import_actlab_is_light_and_every_public_name_loads_on_use():
    code = (
        "import json, sys\nimport actlab\nlight = 'torch' not in sys.modules\n"
        "from actlab import *\n"
        "print(json.dumps([light, [n for n in actlab.__all__ if getattr(actlab, n, None) is None], "
        "actlab.catalogue.get is actlab.get]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [True, [], True]


@pytest.mark.parametrize(
    "argv, asks",
    [
        (["--workers", "2"], True),
        (["--dataset", "iris", "--workers=3"], True),
        (["--n-jobs", "2"], True),
        (["--workers", "1"], False),
        ([], False),
        (["--workers", "2", "--dask", "tcp://127.0.0.1:8786"], False),
        (["--workers", "two"], False),  # the command's own parser says what is wrong
    ],
)
def test_worker_processes_are_read_from_the_arguments_before_the_study_loads(argv, asks):
    assert _main._asks_for_workers(argv) is asks


def test_a_command_with_workers_starts_their_server_before_it_declares_its_options(monkeypatch, capsys):
    """The workers' server imports torch and the training code while the command imports the
    study; a command without workers starts none."""
    started = []
    monkeypatch.setattr(_main, "start_server", lambda: started.append(True))
    for argv, expected in ((["--workers", "2"], [True]), ([], [])):
        started.clear()
        with pytest.raises(SystemExit):  # the options are declared, and then it stops at the unknown one
            main(["evolve", *argv, "--no-such-option"])
        assert started == expected
        assert "--no-such-option" in capsys.readouterr().err
