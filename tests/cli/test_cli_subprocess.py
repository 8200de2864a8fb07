"""Real processes: ``python -m smsclub_async``, the loopback server, and Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, SENDER, Invoke, cli_env, smsclub_command

pytestmark = pytest.mark.loopback

Spawn = Callable[..., subprocess.Popen[str]]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``python -m smsclub_async ARGS...`` to the end."""
    return subprocess.run(
        smsclub_command(*args),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=cli_env(),
        timeout=timeout,
        check=False,
    )


def test_python_dash_m_runs_the_command_line() -> None:
    result = run("--sandbox", "--json", "balance")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"money": "1000.00", "currency": "UAH"}


def test_python_dash_m_bad_input_is_one_line_and_exit_2() -> None:
    result = run("send", "380501234567", "-m", "Hi", "-s", SENDER)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "smsclub: error: no API token: pass --token or set SMSCLUB_TOKEN"
        " (or try the command with --sandbox first)"
    ]


def test_sandbox_server_serves_send_and_status_then_stops_on_ctrl_c(
    spawn: Spawn, invoke: Invoke
) -> None:
    """``smsclub sandbox --port 0`` prints its URL; send and status go to it over
    HTTP with --base-url; SIGINT stops it cleanly with exit code 0."""
    server = spawn("--json", "sandbox", "--port", "0", "--delivery-delay", "0.3")
    assert server.stdout is not None
    announced = json.loads(server.stdout.readline())
    url = announced["url"]
    assert url.startswith("http://127.0.0.1:")

    sent = run("--base-url", url, "--token", "t", "--json", "send", "380501234567",
               "380671112239", "-m", "Hi", "-s", SENDER)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    ids = list(json.loads(sent.stdout)["sent"])
    assert len(ids) == 2

    status = invoke("--base-url", url, "--token", "t", "--json", "status", *ids, "--wait",
                    "--interval", "0.2", "--timeout", "10")  # fmt: skip
    assert status.exit_code == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["all_final"] is True
    assert sorted(report["statuses"].values()) == ["DELIVRD", "UNDELIV"]
    other_token = invoke("--base-url", url, "--token", "someone-else", "status", ids[0])
    assert other_token.exit_code == 1  # another account: the id is not found

    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=10)
    assert server.returncode == 0, err
    assert "sandbox stopped after" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("gateway", "phone", "balance"),
    [
        ("smsc", "77011234567", {"money": "990.00", "currency": "KZT"}),
        ("smstele", "79160001234", None),
    ],
)
def test_sandbox_serves_the_other_gateways_emulators(
    spawn: Spawn, gateway: str, phone: str, balance: dict[str, str] | None
) -> None:
    """``smsclub --gateway smsc|smstele sandbox`` serves that gateway's emulator over
    HTTP: the same command line talks to it with --base-url, Ctrl-C stops it."""
    server = spawn("--gateway", gateway, "--json", "sandbox", "--port", "0")
    assert server.stdout is not None
    url = json.loads(server.stdout.readline())["url"]
    common = ("--gateway", gateway, "--base-url", url, "--token", "demo:demo", "--json")

    sent = run(*common, "send", phone, "-m", "Hi", "-s", "MyShop")
    assert sent.returncode == 0, sent.stderr
    assert list(json.loads(sent.stdout)["sent"].values()) == [phone]
    if balance is not None:
        money = run(*common, "balance")
        assert money.returncode == 0, money.stderr
        assert json.loads(money.stdout) == balance  # 1000 less one part

    server.send_signal(signal.SIGINT)
    _, err = server.communicate(timeout=10)
    assert server.returncode == 0, err
    assert f"{gateway} emulator stopped after" in err
    assert "and 1 message" in err
    assert "1 messages" not in err
    assert "Traceback" not in err


def test_sandbox_says_it_stopped_on_sigterm(spawn: Spawn) -> None:
    """``kill`` (SIGTERM, as docker stop and service managers send) stops the sandbox
    like Ctrl-C: the closing line, exit code 0, no traceback."""
    server = spawn("--json", "sandbox", "--port", "0")
    assert server.stdout is not None
    assert json.loads(server.stdout.readline())["url"].startswith("http://127.0.0.1:")
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=10)
    assert server.returncode == 0, err
    assert "sandbox stopped by SIGTERM after 0 requests and 0 messages" in err
    assert "Traceback" not in err


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 15) -> str:
    """Read stderr until a line with ``text`` appears."""
    assert process.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"{text!r} never appeared on stderr")


@pytest.fixture
def phones_file(tmp_path: Path) -> Path:
    """2,000 numbers: 20 requests, about 2.2 s at 9 per second."""
    path = tmp_path / "phones.txt"
    path.write_text("".join(f"38050{i:07d}\n" for i in range(2000)))
    return path


def test_ctrl_c_mid_send_keeps_every_issued_id(
    spawn: Spawn, phones_file: Path, tmp_path: Path
) -> None:
    """SIGINT a bulk send: exit 130, JSON with the ids sent so far, the same ids in
    --save-ids, and every number in exactly one of sent/failed/unknown/not_sent."""
    ids_path = tmp_path / "ids.csv"
    process = spawn("--sandbox", "--json", "send", "--file", str(phones_file), "-m", "Hi",
                    "-s", SENDER, "--save-ids", str(ids_path))  # fmt: skip
    wait_for_line(process, "sending to 2,000 recipients")
    time.sleep(0.8)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    document = json.loads(out)
    assert document["interrupted"] is True
    sent = document["sent"]
    assert 0 < len(sent) < 2000
    rows = ids_path.read_text().splitlines()
    assert rows[0] == "message_id,phone"
    assert dict(row.split(",") for row in rows[1:]) == sent
    everyone = [*sent.values(), *document["failed"], *document["unknown"], *document["not_sent"]]
    assert sorted(everyone) == [f"38050{i:07d}" for i in range(2000)]
    assert "Interrupted:" in err


def test_ctrl_c_without_json_prints_the_ids(spawn: Spawn, phones_file: Path) -> None:
    """Without --json or --save-ids the ids go to stdout as message_id,phone lines."""
    process = spawn("--sandbox", "send", "--file", str(phones_file), "-m", "Hi", "-s", SENDER)
    wait_for_line(process, "sending to 2,000 recipients")
    time.sleep(0.8)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    headline = next(line for line in out.splitlines() if line.startswith("Interrupted: "))
    sent = int(headline.split()[1].replace(",", ""))
    assert sent > 0
    rows = [line for line in out.splitlines() if line.count(",") == 1 and line[0].isdigit()]
    assert len(rows) == sent
    assert len({row.split(",")[0] for row in rows}) == sent


def test_the_library_does_not_import_the_cli_dependencies() -> None:
    """typer is the [cli] extra: importing the library (even smsclub_async.cli, whose
    main() imports it lazily) must not import it. (rich and click cannot be checked
    this way: httpx imports them for its own command line when they are installed.)"""
    code = (
        "import sys, smsclub_async, smsclub_async.sandbox, smsclub_async.cli;"
        " print(sorted(m for m in sys.modules if m.split('.')[0] == 'typer'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=cli_env(),
        timeout=30, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "[]"
