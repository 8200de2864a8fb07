"""The documentation's runnable Python examples run, unchanged, against the sandbox.

A ```python block in ``docs/**/*.md`` preceded by ``<!-- test -->`` is run:

* as a pytest file when it defines ``test_`` functions (the fixture recipes);
* otherwise as a script.

Each runs in its own interpreter with warnings as errors (an unclosed client's
ResourceWarning included), and with ``SMSCLUB_BASE_URL``/``SMSCLUB_TOKEN`` pointing
at a loopback sandbox (with 380989361130 blacklisted), so examples written for the
real gateway run too.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsclub_async.sandbox import Sandbox, serve

DOCS = Path(__file__).resolve().parents[2] / "docs"
MARKED_BLOCK = re.compile(r"<!-- test -->[ \t]*\n(?:[ \t]*\n)*```python\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    code: str

    @property
    def is_test_file(self) -> bool:
        return re.search(r"^(async )?def test_", self.code, re.M) is not None


def collect() -> list[Snippet]:
    snippets = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in MARKED_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start(1)) + 1
            snippets.append(Snippet(str(page.relative_to(DOCS)), line, match.group(1)))
    return snippets


SNIPPETS = collect()


def test_the_docs_have_runnable_examples() -> None:
    """If this fails, the marker or the regex above has gone stale."""
    assert len(SNIPPETS) >= 10
    pages = {snippet.page for snippet in SNIPPETS}
    assert {"quickstart.md", "sandbox.md", "rate-limits-and-retries.md", "errors.md"} <= pages
    assert any(snippet.is_test_file for snippet in SNIPPETS)


def test_every_marker_is_followed_by_a_python_block() -> None:
    """A ``<!-- test -->`` that does not precede a ```python block is a typo."""
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        assert text.count("<!-- test -->") == len(MARKED_BLOCK.findall(text)), page


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: f"{s.page}:{s.line}")
async def test_docs_example_runs(snippet: Snippet, tmp_path: Path) -> None:
    """The block exits 0 with no warning, as a script or as a test file that passes."""
    name = f"test_docs_{snippet.line}.py" if snippet.is_test_file else f"docs_{snippet.line}.py"
    script = tmp_path / name
    script.write_text(snippet.code, encoding="utf-8")
    if snippet.is_test_file:
        args = [
            "-W", "error", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "no:looptime_plugin", "-o", "asyncio_mode=auto",
            "-o", "asyncio_default_fixture_loop_scope=function", "-W", "error",
            str(script),
        ]  # fmt: skip
    else:
        args = ["-W", "error", str(script)]
    sandbox = Sandbox()
    sandbox.add_blacklist("380989361130")  # as in the examples' comments
    async with serve(sandbox) as server:
        env = {
            **os.environ,
            "SMSCLUB_BASE_URL": server.url,
            "SMSCLUB_TOKEN": "docs",
            "PYTHONDEVMODE": "",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    where = f"{snippet.page}:{snippet.line}"
    assert process.returncode == 0, f"{where}\n{text}"
    # A warning raised in __del__ (an unclosed client) is printed, not raised.
    assert "Exception ignored" not in text, f"{where}\n{text}"
    assert "Warning" not in text, f"{where}\n{text}"
    if snippet.is_test_file:
        assert re.search(r"\d+ passed", text), f"{where}\n{text}"
        assert "failed" not in text, f"{where}\n{text}"
