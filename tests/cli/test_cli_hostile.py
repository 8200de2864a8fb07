"""A hostile gateway (issue 13, item 15): what it says never drives the terminal or a file.

The gateway here is an ``httpx.MockTransport`` that answers with ids holding newlines
and commas, and with reasons, statuses, sender names and currencies full of terminal
escape sequences and rich markup. Whatever the command line prints or saves must keep
them inert: no raw control character reaches stdout or stderr, no markup is
interpreted, and no forged row appears in a ``--save-ids`` file.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from pathlib import Path

import httpx
import pytest

from smsclub_async import SendResult, SmsClub
from smsclub_async.cli._bulk import IdsFile, is_plain_id
from smsclub_async.cli._gateways import GATEWAYS, GatewayName
from smsclub_async.cli._input import ID_HEADERS, gather_lines, parse_ids
from smsclub_async.cli._output import safe

from .conftest import SENDER, Invoke

GOOD, BLOCKED = "380501234567", "380671112233"
FORGED_ID = "100\n999,380000000000"
"""An id whose newline would start a forged row ``999,380000000000``."""
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
"""A window title, a cleared screen, a C1 CSI and a bidi override."""
MARKUP = "[bold red]boom[/bold red]"
# What must never reach a terminal: C0 controls but newline, DEL, C1, bidi controls.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_gateway(request: httpx.Request) -> httpx.Response:
    """SMS Club's JSON shapes, with hostile values in every string the CLI prints."""
    path = request.url.path
    if path.endswith("/sms/send"):
        return httpx.Response(
            200,
            json={
                "success_request": {
                    "info": {FORGED_ID: GOOD},
                    "add_info": {BLOCKED: f"blocked {ESCAPES}{MARKUP}"},
                }
            },
        )
    if path.endswith("/sms/status"):
        ids = json.loads(request.content)["id_sms"]
        # The first id is delivered; the others get a status that is pure escape codes.
        info = {ids[0]: "DELIVRD", **dict.fromkeys(ids[1:], ESCAPES + MARKUP)}
        return httpx.Response(200, json={"success_request": {"info": info}})
    if path.endswith("/sms/balance"):
        return httpx.Response(
            200, json={"success_request": {"info": {"money": "1.00", "currency": ESCAPES + MARKUP}}}
        )
    if path.endswith("/sms/originator"):
        return httpx.Response(200, json={"success_request": {"info": [ESCAPES + MARKUP]}})
    return httpx.Response(404, json={"error": f"{ESCAPES}{MARKUP}"})


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables on 300 columns, so no cell wraps in the middle of the markup."""
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def hostile(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--sandbox`` answers from the hostile gateway."""
    spec = GATEWAYS[GatewayName.SMSCLUB]

    def factory(token: str) -> SmsClub:
        del token
        return SmsClub(
            f"hostile-{uuid.uuid4().hex}", transport=httpx.MockTransport(hostile_gateway)
        )

    monkeypatch.setitem(GATEWAYS, GatewayName.SMSCLUB, dataclasses.replace(spec, sandbox=factory))


def assert_inert(*streams: str) -> None:
    """No raw control character, and the markup shown as text (or not at all)."""
    for stream in streams:
        assert not RAW_CONTROL.search(stream), repr(stream)
        assert "boom" not in stream or MARKUP in stream


@pytest.mark.usefixtures("hostile")
def test_send_output_keeps_escape_sequences_and_markup_inert(invoke: Invoke) -> None:
    """The failure reason and the id are printed escaped, markup as literal text."""
    result = invoke("--sandbox", "send", GOOD, BLOCKED, "-m", "Hi", "-s", SENDER)
    assert result.exit_code == 1, result.stderr
    assert_inert(result.stdout, result.stderr)
    assert MARKUP in result.stdout
    assert "\\x1b]0;pwned\\x07" in result.stdout
    assert "100\\x0a999,380000000000" in result.stdout.replace(" ", "")


@pytest.mark.usefixtures("hostile")
def test_json_output_escapes_what_json_leaves_raw(invoke: Invoke) -> None:
    """``json.dumps(ensure_ascii=False)`` keeps C1 and bidi characters raw; the
    document on stdout escapes them and still decodes to the gateway's exact text."""
    result = invoke("--sandbox", "--json", "send", GOOD, BLOCKED, "-m", "Hi", "-s", SENDER)
    assert_inert(result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert document["failed"][BLOCKED] == f"blocked {ESCAPES}{MARKUP}"


@pytest.mark.usefixtures("hostile")
def test_save_ids_never_writes_a_forged_row(invoke: Invoke, tmp_path: Path) -> None:
    """An id with a newline goes on an escaped ``#`` line: every row of the file is a
    phone that was sent to, and ``status --file`` reads no forged id from it."""
    path = tmp_path / "ids.csv"
    result = invoke(
        "--sandbox", "send", GOOD, BLOCKED, "-m", "Hi", "-s", SENDER, "--save-ids", str(path)
    )
    assert_inert(result.stdout, result.stderr)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "message_id,phone"
    data = [line for line in lines[1:] if not line.startswith("#")]
    assert all(line.split(",")[1] in (GOOD, BLOCKED) for line in data), lines
    assert not any(line.startswith("999,") for line in lines)
    comments = [line for line in lines if line.startswith("#")]
    assert comments == [f"# unusable message id '100\\x0a999,380000000000' for '{GOOD}'"]
    assert parse_ids(gather_lines([], str(path), ID_HEADERS)) == [i.split(",")[0] for i in data]
    assert "not plain text" in result.stderr


@pytest.mark.usefixtures("hostile")
@pytest.mark.parametrize("command", [["balance"], ["senders"], ["status", "100", "101"]])
def test_other_commands_print_gateway_strings_inert(invoke: Invoke, command: list[str]) -> None:
    result = invoke("--sandbox", *command)
    assert_inert(result.stdout, result.stderr)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("100", "100"),
        ("Київ", "Київ"),
        ("a\nb", "a\\x0ab"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x9b31m", "\\x9b31m"),
        ("\u202etxt", "\\u202etxt"),
        ("[bold]x[/bold]", "[bold]x[/bold]"),
    ],
)
def test_safe_escapes_only_what_a_terminal_acts_on(text: str, shown: str) -> None:
    assert safe(text) == shown


@pytest.mark.parametrize(
    ("message_id", "plain"),
    [("1234567", True), ("abc-1", True), ("1\n2", False), ("1,2", False), ('1"', False),
     ("", False), ("1 2", False), ("#1", False), ("1" * 65, False), ("\x1b", False)],
)  # fmt: skip
def test_which_ids_are_written_as_rows(message_id: str, plain: bool) -> None:
    assert is_plain_id(message_id) is plain


def test_ids_file_writes_each_id_once(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    with path.open("a", encoding="utf-8") as handle:
        ids = IdsFile(handle)
        ids.write(SendResult(sent={"1": GOOD, "2\r": BLOCKED}))
        ids.write(SendResult(sent={"1": GOOD}))
    assert path.read_text().splitlines() == [
        "message_id,phone",
        f"1,{GOOD}",
        f"# unusable message id '2\\x0d' for '{BLOCKED}'",
    ]
    assert ids.refused == ["2\r"]


@pytest.mark.usefixtures("hostile")
def test_an_odd_status_string_shows_escaped_in_the_gateway_column(invoke: Invoke) -> None:
    """A status the library does not know keeps the gateway's own word, which gets the
    "gateway says" column, escaped."""
    result = invoke("--sandbox", "status", "100", "101")
    assert_inert(result.stdout, result.stderr)
    assert "gateway says" in result.stdout
    assert "\\x1b]0;pwned" in result.stdout
