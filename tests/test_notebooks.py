"""The notebooks: committed without outputs, and each runs top to bottom in a kernel of this environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "certlab-tests"


def test_the_three_notebooks_exist() -> None:
    assert [p.name for p in NOTEBOOKS] == [
        "01_inventory_analysis.ipynb", "02_compliance_review.ipynb", "03_issue_and_rotate.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name} holds saved widget state"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A kernelspec for this very interpreter, with the checkout first on the path (works on a fresh CI)."""
    from jupyter_client.kernelspec import KernelSpecManager

    kernels = tmp_path_factory.mktemp("kernels")
    spec_dir = kernels / KERNEL
    spec_dir.mkdir()
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "certlab tests",
        "language": "python",
        "env": {"PYTHONPATH": str(ROOT), "CERTLAB_DB": "", "CERTLAB_ACTOR": "", "CERTLAB_MASTER_KEY": ""},
    }))
    return KernelSpecManager(kernel_dirs=[str(kernels)])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, kernel_specs: object) -> None:
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import certlab, sys\nprint(certlab.__file__)\nprint(sys.executable)"))
    km = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = NotebookClient(nb, km=km, timeout=600, allow_errors=False,
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()  # a cell error raises CellExecutionError and fails the test
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream").split()
    assert Path(probe[0]).is_relative_to(ROOT / "certlab"), probe
    assert Path(probe[1]) == Path(sys.executable)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []
    charts = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if any(k.startswith("application/vnd.vegalite") for k in o.get("data", {}))
              or "vega-embed" in str(o.get("data", {}).get("text/html", ""))]
    if path.name != "03_issue_and_rotate.ipynb":
        assert charts, f"{path.name} drew no Altair chart"
