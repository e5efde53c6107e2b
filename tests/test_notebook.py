"""The example notebook (examples/own_model.ipynb) runs end to end on a model and data of its
own, and is kept in the repository without outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOK = EXAMPLES / "own_model.ipynb"


def _text(output) -> str:
    return str(output.get("text") or (output.get("data") or {}).get("text/plain") or "")


def test_the_notebook_is_kept_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.timeout(900)
def test_the_notebook_runs_end_to_end(tmp_path, monkeypatch):
    for f in ("own_model.ipynb", "my_cnn.py", "my_data.py"):
        shutil.copy(EXAMPLES / f, tmp_path / f)
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES.parent))  # the kernel imports this checkout's actlab
    nb = nbformat.read(tmp_path / "own_model.ipynb", as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(_text(o) for o in outputs)
    assert "relu" in text and "gelu" in text and "tanh" in text  # the comparison's table
    assert "conv" in text and "head" in text  # the search's grouped slots
    assert "3 activations swapped" in text and "<Figure" in text
    for out in ("own-compare", "own-search", "own-evolve"):
        assert (tmp_path / out / "results.json").is_file() and (tmp_path / out / "report.html").is_file()
    assert (tmp_path / "own-evolve" / "best.json").is_file()
