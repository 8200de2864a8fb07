"""The README's Python examples run, unchanged, against a loopback sandbox."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from smsclub_async.sandbox import Sandbox, serve

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_examples() -> None:
    """The README shows code; if this fails the regex above has gone stale."""
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_readme_example_runs(index: int, tmp_path: Path) -> None:
    """Each block runs as a script (or, for the pytest recipe, as a test file)."""
    code = BLOCKS[index]
    is_test_file = "def test_" in code
    script = tmp_path / (f"test_readme_{index}.py" if is_test_file else f"example_{index}.py")
    script.write_text(code, encoding="utf-8")
    async with serve(Sandbox()) as server:
        env = {**os.environ, "SMSCLUB_BASE_URL": server.url, "SMSCLUB_TOKEN": "readme"}
        args = (
            ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
             "-p", "no:looptime_plugin", str(script)]
            if is_test_file
            else [str(script)]
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode()
    if is_test_file:
        assert b"1 passed" in output
