"""References to a user's code (``file.py:name``, ``package.module:name``): imported only when
named, every failure one line naming the user's file and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from actlab import ActlabError
from actlab._refs import call_user, is_ref, load_ref, qualified_name


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "helpers.py").write_text("WIDTH = 7\n")
    (tmp_path / "mine.py").write_text(
        textwrap.dedent(
            """\
            from helpers import WIDTH

            def build(n=WIDTH):
                return n * 2

            def broken():
                table = {}
                return table["missing"]

            NOT_CALLABLE = 3
            """
        )
    )
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text("def build():\n    return 'from a package'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return tmp_path


def test_the_form_of_a_reference():
    assert is_ref("models.py:build") and is_ref("pkg.mod:build") and is_ref("dir/m.py:Net.make")
    assert not any(is_ref(t) for t in ("mnist1d", "mlp", "m.py", ":build", "m.py:", "a b:c", "m.py:1x", 3, None))


def test_a_file_imports_with_its_neighbours_and_is_named_without_its_folder(project):
    build = load_ref("mine.py:build", "model builder")
    assert build() == 14
    assert qualified_name(build) == "mine.py:build"
    assert load_ref(str(project / "mine.py") + ":build", "model builder") is build  # imported once


def test_a_package_module_imports_from_the_current_folder(project):
    build = load_ref("mypkg.models:build", "model builder")
    assert build() == "from a package" and qualified_name(build) == "mypkg.models:build"


@pytest.mark.parametrize(
    "ref, words",
    [
        ("nowhere.py:build", ["not found", "nowhere.py"]),
        ("mine.py:nope", ["has no 'nope'"]),
        ("mine.py:NOT_CALLABLE", ["int", "callable"]),
        ("nosuchpackage.mod:build", ["no module named 'nosuchpackage'"]),
        ("mine.py", ["path/to/file.py:function"]),
    ],
)
def test_a_reference_that_cannot_load_is_one_line(project, ref, words):
    with pytest.raises(ActlabError) as e:
        load_ref(ref, "model builder")
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)


def test_a_file_that_fails_to_import_names_its_line(project):
    (project / "bad.py").write_text("x = 1\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(ActlabError, match=r"RuntimeError: no GPU here \(.*bad\.py:2\)"):
        load_ref("bad.py:build", "data loader")
    (project / "syntax.py").write_text("def f(:\n")
    with pytest.raises(ActlabError, match=r"SyntaxError: .*syntax\.py:1"):
        load_ref("syntax.py:f", "data loader")


def test_what_the_users_code_raises_names_its_file_and_line(project):
    broken = load_ref("mine.py:broken", "model builder")
    with pytest.raises(ActlabError) as e:
        call_user(broken, what="model builder")
    msg = str(e.value)
    assert "model builder mine.py:broken failed: KeyError: 'missing'" in msg and "mine.py:8)" in msg, msg


def test_an_actlab_error_of_the_users_code_passes_unchanged():
    def loader():
        raise ActlabError("say it like this")

    with pytest.raises(ActlabError, match="^say it like this$"):
        call_user(loader, what="data loader")


def test_naming_nothing_imports_nothing(tmp_path):
    """Only load_ref imports: is_ref and the module's import do not touch the user's file."""
    (tmp_path / "loud.py").write_text("open('imported', 'w').close()\ndef f():\n    pass\n")
    code = "import actlab, actlab._refs as r; assert r.is_ref('loud.py:f')"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert not (tmp_path / "imported").exists()
    subprocess.run(
        [sys.executable, "-c", "import actlab._refs as r; r.load_ref('loud.py:f', 'x')"], cwd=tmp_path, check=True
    )
    assert (tmp_path / "imported").exists()
