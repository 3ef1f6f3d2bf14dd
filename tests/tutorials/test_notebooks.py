"""The tutorial notebooks: each executes top to bottom in quick mode (small sizes) without
a cell error, and each committed notebook is the one tutorials/build_notebooks.py builds
from its source tutorials/NN_*.py, saved with the outputs of a full run."""
from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("jupytext")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

TUTORIALS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tutorials")
CELL_TIMEOUT_S = 300


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_notebooks", os.path.join(TUTORIALS, "build_notebooks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILDER = _builder()
SOURCES = BUILDER.sources()
NAMES = sorted(SOURCES)


def test_every_notebook_has_a_source_and_is_committed():
    committed = sorted(name[:-len(".ipynb")] for name in os.listdir(TUTORIALS)
                       if name.endswith(".ipynb"))
    assert committed == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_its_source_and_has_full_run_outputs(name):
    assert BUILDER.is_up_to_date(name, SOURCES[name]), \
        f"{name}.ipynb is out of date: run python tutorials/build_notebooks.py --only {name[:2]}"
    committed = nbformat.read(os.path.join(TUTORIALS, name + ".ipynb"), as_version=4)
    code_cells = [c for c in committed.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count for c in code_cells), "not executed"
    outputs = [o for c in code_cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"


def test_check_mode_passes_on_the_committed_notebooks():
    assert BUILDER.main(["--check"]) == 0


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_quick_mode(name, tmp_path, monkeypatch):
    # a copy in a temporary folder: the committed outputs are never overwritten
    source = os.path.join(TUTORIALS, name + ".ipynb")
    shutil.copy(source, tmp_path / (name + ".ipynb"))
    nb = nbformat.read(tmp_path / (name + ".ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    monkeypatch.setenv("TL_TUTORIAL_QUICK", "1")
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
