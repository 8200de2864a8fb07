"""examples/notebook.ipynb runs top to bottom in a real Jupyter kernel.

nbclient starts an ipykernel (the installed ``python3`` kernel, i.e. this
interpreter), executes every cell, and fails on the first error. The notebook uses
top-level ``await`` (IPython's autoawait, no nest_asyncio) against the in-process
sandbox; the outputs must show the rendered tables, the rows, the statuses and the
balance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebook.ipynb"


def outputs_of(cell: Any) -> str:
    """Everything a code cell showed: streams, plain text and HTML, joined."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        for mime in ("text/plain", "text/html"):
            parts.append(output.get("data", {}).get(mime, ""))
    return "\n".join(parts)


def html_of(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


def test_the_notebook_has_no_stored_outputs() -> None:
    """The notebook is committed clean; outputs come from running it."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(not cell.outputs for cell in code)
    source = "\n".join(cell.source for cell in code)
    assert "nest_asyncio" not in source
    assert "asyncio.run" not in source
    assert "await sms.send(" in source


async def test_the_notebook_runs_against_the_sandbox(tmp_path: Path) -> None:
    """Every cell runs; top-level await works; the outputs say what they should."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=60,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    await client.async_execute()

    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    by_source = {cell.source.splitlines()[0]: cell for cell in cells}

    def cell_starting(prefix: str) -> Any:
        [cell] = [c for first, c in by_source.items() if first.startswith(prefix)]
        return cell

    send = cell_starting("result = await sms.send(")
    assert "<caption>SendResult: 3 sent, 1 failed, 0 unknown</caption>" in html_of(send)
    assert "<td>380989361130</td><td>failed</td>" in html_of(send)
    assert "This number is in the black list" in html_of(send)

    rows = outputs_of(cell_starting("rows = result.to_rows()"))
    assert "380989361132" in rows
    assert "sent" in rows
    assert "failed" in rows

    assert "StatusReport(3 ids: ENROUTE=3)" in outputs_of(cell_starting("report = await"))
    final = cell_starting("final = await sms.wait_for_final(")
    assert "StatusReport(3 ids: DELIVRD=2, UNDELIV=1)" in html_of(final)

    assert "998.50 UAH" in outputs_of(cell_starting("balance = await sms.balance()"))
    assert "Stats(requests=" in outputs_of(cell_starting("print(sms.stats)"))
    assert outputs_of(cell_starting("await sms.aclose()")).strip() == "True"
