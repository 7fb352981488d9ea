"""Every tutorial notebook is committed with the outputs of a real-size run (GitHub renders
them), and still runs top to bottom at small sizes: the test injects ``SMALL = True`` and a
temporary ``WORKDIR`` after the ``parameters`` cell, as papermill does."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
# the notebooks whose text shows plots
WITH_PLOTS = ("01_quickstart.ipynb", "02_your_own_data.ipynb")
MAX_LINE = 1000


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _parameters_index(notebook) -> int:
    tagged = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def _output_texts(cell):
    for output in cell.outputs:
        if output.output_type == "stream":
            yield output.text
        elif output.output_type in ("execute_result", "display_data"):
            for mime, value in output.data.items():
                if mime.startswith("text/"):
                    yield value if isinstance(value, str) else "".join(value)
        elif output.output_type == "error":
            yield "\n".join(output.traceback)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4
    assert all((REPO / "notebooks" / name).is_file() for name in WITH_PLOTS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    cell = notebook.cells[_parameters_index(notebook)]
    assert cell.cell_type == "code"
    assignments = dict(re.findall(r"^(\w+) = (\S+)", cell.source, flags=re.M))
    assert assignments == {"SMALL": "False", "WORKDIR": '"notebook_outputs"'}, assignments
    assert "environ" not in cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_saved(path):
    notebook = nbformat.read(path, as_version=4)
    cells = _code_cells(notebook)
    counts = [cell.execution_count for cell in cells]
    assert None not in counts, f"{path.name}: a code cell was not executed: {counts}"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), counts
    assert any(cell.outputs for cell in cells)
    for cell in cells:
        assert all(output.output_type != "error" for output in cell.outputs), cell.source[:80]
        for text in _output_texts(cell):
            assert "Traceback" not in text and "Error" not in text, text[:300]
            assert "/work/" not in text, f"a saved output names this machine's path: {text[:300]}"
            assert "\x1b[" not in text, f"terminal escape codes (a redrawn progress bar): {text[:300]}"
            longest = max((len(line) for line in text.splitlines()), default=0)
            assert longest <= MAX_LINE, f"{path.name}: an output line of {longest} characters"
    assert path.stat().st_size < 1_500_000


@pytest.mark.parametrize("name", WITH_PLOTS)
def test_plots_are_saved(name):
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    images = [output for cell in _code_cells(notebook) for output in cell.outputs
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2, f"{name}: {len(images)} saved PNG outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    injected = nbformat.v4.new_code_cell(f"SMALL = True\nWORKDIR = {str(tmp_path)!r}")
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(_parameters_index(notebook) + 1, injected)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()   # raises CellExecutionError naming the failing cell
