"""Bad input: one line on stderr, exit code 2, no traceback, nothing sent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smsclub_async.sandbox import Sandbox

from .conftest import SENDER, Invoke

PHONE = "380501234567"


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    """Exactly one line, ``smsclub: error: ...``, containing each fragment."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("smsclub: error: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def test_missing_token(invoke: Invoke) -> None:
    result = invoke("send", PHONE, "-m", "Hi", "-s", SENDER)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "no API token", "--token", "SMSCLUB_TOKEN")
    assert result.stdout == ""


def test_missing_token_for_a_read_command_too(invoke: Invoke) -> None:
    result = invoke("balance")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "no API token")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["send", "12345", "-m", "Hi", "-s", SENDER], ["argument 1", "not a phone number"]),
        (["send", PHONE, "-m", "Hi", "-s", SENDER, "--lifetime", "0"], ["--lifetime"]),
        (["send", PHONE, "-m", "Hi", "-s", SENDER, "--lifetime", "soon"], ["--lifetime"]),
        (["send", PHONE, "-m", "Hi"], ["missing --sender"]),
        (["send", PHONE, "-s", SENDER], ["missing --message"]),
        (["send", PHONE, "-m", "   ", "-s", SENDER], ["the message is empty"]),
        (["send", "-m", "Hi", "-s", SENDER], ["no recipients"]),
        (["send", PHONE, "-m", "x" * 400, "-s", SENDER, "--max-parts", "2"], ["3 SMS parts"]),
        (["status"], ["no message ids"]),
        (["frobnicate"], ["No such command"]),
        (["--gateway", "smsc", "sender-status", "X"], ["not available for --gateway smsc"]),
        (["--gateway", "carrier-pigeon", "balance"], ["--gateway"]),
        (["sender-status", "NoSuchName"], ["NoSuchName", "Data not found"]),
        (
            ["register-sender", "Shop", "--company-type", "tov", "--company", "ACME",
             "--subject", "s", "--description", "d", "--site", "x.example"],
            ["needs --okpo"],
        ),
        (
            ["register-sender", "Shop", "--company-type", "fop", "--company", "ACME",
             "--subject", "s", "--description", "d", "--site", "x.example"],
            ["needs --inn"],
        ),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    invoke: Invoke, embedded: Callable[..., Sandbox], args: list[str], fragments: list[str]
) -> None:
    sandbox = embedded()
    result = invoke("--sandbox", *args)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, *fragments)
    assert sandbox.deliveries() == {}


def test_an_invalid_number_in_a_file_names_its_line(invoke: Invoke, tmp_path: Path) -> None:
    path = write(tmp_path, "phones.txt", f"{PHONE}\n\n380-12\n")
    result = invoke("--sandbox", "send", "--file", path, "-m", "Hi", "-s", SENDER)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, f"{path} line 3", "'380-12'", "--skip-invalid")


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (None, ["cannot read", "No such file or directory"]),
        (b"\xff\xfe\x00garbage", ["cannot read", "not UTF-8"]),
        (f"phone,message\n{PHONE},Hi\n380671112233\n", ["line 3", "expected phone,message"]),
        (f"{PHONE},Hi\n0501,Hi\n", ["line 2", "not a phone number"]),
        ("phone,message\n", ["no phone,message rows"]),
    ],
)
def test_unreadable_or_malformed_csv(
    invoke: Invoke, tmp_path: Path, content: str | bytes | None, fragments: list[str]
) -> None:
    path = str(tmp_path / "missing.csv") if content is None else write(tmp_path, "p.csv", content)
    result = invoke("--sandbox", "send-personalized", path, "-s", SENDER)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, *fragments)


def test_a_sender_the_gateway_refuses_is_bad_input(invoke: Invoke) -> None:
    """The request is refused whole: the summary is printed, then one error line."""
    result = invoke("--sandbox", "--json", "send", PHONE, "-m", "Hi", "-s", "NotMine")
    assert result.exit_code == 2
    assert "smsclub: error: the gateway refused the request: src_addr" in result.stderr
    assert "Traceback" not in result.stderr


def test_save_ids_to_an_unwritable_place(invoke: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "ids.csv"
    result = invoke("--sandbox", "send", PHONE, "-m", "Hi", "-s", SENDER, "--save-ids", str(target))
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "cannot write")
