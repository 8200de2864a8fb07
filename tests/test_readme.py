"""The README's Python examples run, unchanged, against a loopback sandbox.

Beyond "each block runs once on a fresh sandbox", the first-screen snippet, the quick
start and the streaming example are run in the situations a newcomer meets first
(issue 17): the same snippet twice within the duplicate window, an empty balance, a
balance that runs out mid-stream, statuses asked for right after sending.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from smsclub_async.sandbox import Sandbox, SandboxConfig, serve

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def block_with(fragment: str) -> str:
    """The one README block containing ``fragment``."""
    found = [code for code in BLOCKS if fragment in code]
    assert len(found) == 1, f"{len(found)} README blocks contain {fragment!r}"
    return found[0]


FIRST = BLOCKS[0]
QUICK_START = block_with("sms.send_personalized(")
STREAMING = block_with("sms.send_iter(numbers()")


async def run_block(
    code: str, tmp_path: Path, sandbox: Sandbox | None = None, *, name: str = "example"
) -> tuple[int, str]:
    """Run ``code`` as a script (or a pytest file) against ``sandbox`` on loopback."""
    is_test_file = "def test_" in code
    script = tmp_path / (f"test_readme_{name}.py" if is_test_file else f"{name}.py")
    script.write_text(code, encoding="utf-8")
    async with serve(Sandbox() if sandbox is None else sandbox) as server:
        env = {**os.environ, "SMSCLUB_BASE_URL": server.url, "SMSCLUB_TOKEN": "readme"}
        args = (
            ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
             "-p", "no:looptime_plugin", str(script)]
            if is_test_file
            else [str(script)]
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    text = output.decode()
    assert process.returncode is not None
    if is_test_file:
        assert "1 passed" in text, text
    return process.returncode, text


def test_readme_has_examples() -> None:
    """The README shows code; if this fails the regex above has gone stale."""
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("index", range(len(BLOCKS)))
async def test_readme_example_runs(index: int, tmp_path: Path) -> None:
    """Each block runs as a script (or, for the pytest recipe, as a test file)."""
    code, output = await run_block(BLOCKS[index], tmp_path, name=str(index))
    assert code == 0, output


def test_the_first_screen_commands_are_as_documented() -> None:
    """A virtual environment first, then the two commands, exactly as they were."""
    first_bash = TEXT.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in first_bash.splitlines() if line and not line.startswith("#")]
    assert lines[0].startswith("python -m venv .venv")
    assert "python -m pip install -e '.[cli]' && smsclub demo" in lines
    assert "python -m pip install -e '.[dev]' && python -m pytest" in lines
    assert TEXT.index("virtual environment") < TEXT.index("smsclub demo")


async def test_quick_start_waits_for_statuses_before_counting(tmp_path: Path) -> None:
    """Statuses asked for right after sending are all ENROUTE: "0 delivered". The
    quick start waits for final statuses, so both messages count as delivered."""
    sandbox = Sandbox(SandboxConfig(delivery_delay=1.0))
    code, output = await run_block(QUICK_START, tmp_path, sandbox)
    assert code == 0, output
    assert not re.search(r"(^|\s)0 (of \d+ )?delivered", output), output
    assert "2 of 2 delivered" in output


async def test_streaming_example_shows_why_sends_stop(tmp_path: Path) -> None:
    """When the balance runs out mid-stream, the output says so for the phones that
    were not sent, instead of just counting fewer sends."""
    sandbox = Sandbox(SandboxConfig(balance=Decimal("100")))
    code, output = await run_block(STREAMING, tmp_path, sandbox)
    assert code == 0, output
    assert "0 sent in this request" in output
    assert "not sent:" in output
    assert "Not enough money" in output


# Issue 17: nothing sent means nothing to ask: wait_for_final({}) is an empty report.
async def test_first_snippet_runs_twice_within_the_duplicate_window(tmp_path: Path) -> None:
    """The second run gets 453 for both phones (nothing sent, nothing to wait for)
    and must still finish cleanly."""
    sandbox = Sandbox()
    first, output = await run_block(FIRST, tmp_path, sandbox, name="first")
    assert first == 0, output
    second, output = await run_block(FIRST, tmp_path, sandbox, name="second")
    assert second == 0, output
    assert "{}" in output  # result.sent is empty the second time


async def test_first_snippet_runs_with_an_empty_balance(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(balance=Decimal("0")))
    code, output = await run_block(FIRST, tmp_path, sandbox)
    assert code == 0, output
    assert "Not enough money" in output
