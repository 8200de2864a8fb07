"""Every command against the embedded sandbox (``--sandbox``), as a user runs it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smsclub_async.sandbox import Sandbox

from .conftest import SENDER, Invoke

PHONES = ["380501234567", "380671112233", "380931234569"]


def as_json(stdout: str) -> Any:
    """stdout under --json is exactly one JSON document."""
    return json.loads(stdout)


def test_send_json_accounts_for_every_recipient(invoke: Invoke) -> None:
    """A phone ending in 9 is still sent (it is UNDELIV later); repeats are dropped."""
    result = invoke(
        "--sandbox", "--json", "send", *PHONES, "+38 050 123 45 67", "-m", "Hi", "-s", SENDER
    )
    assert result.exit_code == 0, result.stderr
    document = as_json(result.stdout)
    assert set(document) == {
        "sent",
        "failed",
        "unknown",
        "errors",
        "not_sent",
        "summary",
        "interrupted",
        "error",
    }
    assert sorted(document["sent"].values()) == sorted(PHONES)
    assert document["failed"] == document["unknown"] == document["errors"] == {}
    assert document["summary"]["sent"] == 3
    assert document["summary"]["requests"] == 1
    assert document["interrupted"] is False
    assert "sending to 3 recipients in 1 request" in result.stderr


def test_send_human_output_is_a_table_with_the_ids(invoke: Invoke) -> None:
    result = invoke("--sandbox", "send", PHONES[0], "-m", "Hi", "-s", SENDER)
    assert result.exit_code == 0
    assert "Done: 1 of 1 recipient sent in 1 request" in result.stdout
    assert "100" in result.stdout
    assert PHONES[0] in result.stdout


def test_json_is_accepted_after_the_command_too(invoke: Invoke) -> None:
    result = invoke("--sandbox", "balance", "--json")
    assert as_json(result.stdout) == {"money": "1000.00", "currency": "UAH"}


def test_send_reads_numbers_from_stdin_and_from_a_file(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "phones.txt"
    path.write_text(f"{PHONES[1]}\n{PHONES[2]}\n")
    result = invoke(
        "--sandbox", "--json", "send", "-", "--file", str(path), "-m", "Hi", "-s", SENDER,
        input=f"{PHONES[0]}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(as_json(result.stdout)["sent"].values()) == sorted(PHONES)


def test_blacklisted_and_skipped_invalid_numbers_exit_1_with_reasons(
    invoke: Invoke, embedded: Callable[..., Sandbox]
) -> None:
    """--skip-invalid sends the rest; failures are grouped by reason; exit code 1."""
    embedded(blacklist=frozenset({PHONES[1]}))
    args = ["send", *PHONES, "12345", "--skip-invalid", "-m", "Hi", "-s", SENDER]
    result = invoke("--sandbox", "--json", *args)
    assert result.exit_code == 1
    document = as_json(result.stdout)
    assert sorted(document["sent"].values()) == [PHONES[0], PHONES[2]]
    assert document["failed"][PHONES[1]] == "This number is in the black list"
    assert "12345" in document["failed"]
    assert document["summary"]["failed_reasons"]["This number is in the black list"] == 1
    assert document["summary"]["recipients"] == 4
    # Another text: the same one again within 2 minutes would be a 453 duplicate.
    human = invoke("--sandbox", *args[:-4], "-m", "Hi again", "-s", SENDER)
    assert human.exit_code == 1
    assert "Failed, by reason" in human.stdout
    assert "This number is in the black list" in human.stdout


def test_save_ids_writes_message_id_phone_rows(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    result = invoke("--sandbox", "send", *PHONES, "-m", "Hi", "-s", SENDER, "--save-ids", str(path))
    assert result.exit_code == 0
    rows = path.read_text().splitlines()
    assert rows[0] == "message_id,phone"
    assert sorted(row.split(",")[1] for row in rows[1:]) == sorted(PHONES)
    assert f"message ids saved to {path}" in result.stderr


def test_send_wait_reports_final_statuses(invoke: Invoke) -> None:
    """The sandbox delivers after 0.5 s; numbers ending in 9 end UNDELIV."""
    result = invoke(
        "--sandbox", "--json", "send", *PHONES, "-m", "Hi", "-s", SENDER, "--wait",
        "--interval", "0.2",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    delivery = as_json(result.stdout)["delivery"]
    assert delivery["all_final"] is True
    assert delivery["counts"] == {"DELIVRD": 2, "UNDELIV": 1}


def test_dry_run_shows_parts_and_makes_no_request(
    invoke: Invoke, embedded: Callable[..., Sandbox]
) -> None:
    """Nothing reaches the gateway, and no token is needed."""
    sandbox = embedded()
    text = "Привіт! " * 10  # 80 UCS-2 units: 2 parts
    result = invoke("--json", "send", *PHONES, PHONES[0], "-m", text, "--dry-run")
    assert result.exit_code == 0, result.stderr
    document = as_json(result.stdout)
    assert document["dry_run"] is True
    assert [r["phone"] for r in document["recipients"]] == PHONES
    assert {r["parts"] for r in document["recipients"]} == {2}
    assert document["total_parts"] == 6
    assert document["duplicates"] == 1
    human = invoke("send", *PHONES, "-m", text, "--dry-run")
    assert "total: 6 SMS parts to 3 recipients" in human.stdout
    assert "UCS-2, 2 parts" in human.stdout
    with_sandbox = invoke("--sandbox", "send", *PHONES, "-m", text, "-s", SENDER, "--dry-run")
    assert with_sandbox.exit_code == 0
    assert sandbox.stats().count == 0


def test_send_personalized_from_csv(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        f'phone,message\n{PHONES[0]},"Hi Ivan, your order is ready"\n{PHONES[1]},Hi Olena\n',
        encoding="utf-8",
    )
    result = invoke("--sandbox", "--json", "send-personalized", str(path), "-s", SENDER)
    assert result.exit_code == 0, result.stderr
    assert sorted(as_json(result.stdout)["sent"].values()) == sorted(PHONES[:2])
    dry = invoke("--json", "send-personalized", str(path), "--dry-run")
    assert as_json(dry.stdout)["total_parts"] == 2


def test_status_of_unknown_ids_exits_1(invoke: Invoke) -> None:
    """The embedded sandbox is new each run, so it knows no ids: they are missing."""
    result = invoke("--sandbox", "--json", "status", "100", "101")
    assert result.exit_code == 1
    document = as_json(result.stdout)
    assert document["missing"] == ["100", "101"]
    assert document["statuses"] == {}


def test_senders_and_sender_status(invoke: Invoke) -> None:
    senders = invoke("--sandbox", "--json", "senders")
    assert as_json(senders.stdout) == {"senders": ["VashZakaz", "test1", "test2"]}
    states = invoke("--sandbox", "--json", "sender-status")
    assert as_json(states.stdout)["senders"]["test_an"] == {
        "state": "Being moderated",
        "usable": False,
    }
    one = invoke("--sandbox", "sender-status", "VashZakaz")
    assert one.exit_code == 0
    assert "Approved" in one.stdout


@pytest.mark.parametrize(
    "company",
    [
        ["--company-type", "tov", "--okpo", "12345678"],
        ["--company-type", "fop", "--inn", "1234567890"],
    ],
)
def test_register_sender_for_both_company_types(invoke: Invoke, company: list[str]) -> None:
    result = invoke(
        "--sandbox", "--json", "register-sender", "NewShop", *company, "--company", "ACME",
        "--subject", "orders", "--description", "a shop", "--site", "https://acme.example",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert as_json(result.stdout) == {"sender": "NewShop", "status": "Being moderated"}


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("smsclub ")


def test_save_ids_appends_and_status_reads_the_file(
    invoke: Invoke, embedded: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """Two sends into one --save-ids file (one header); ``status --file`` reads it back."""
    sandbox = embedded(delivery_delay=0)
    path = tmp_path / "ids.csv"
    for text in ("First", "Second"):
        result = invoke("--sandbox", "send", *PHONES, "-m", text, "-s", SENDER,
                        "--save-ids", str(path))  # fmt: skip
        assert result.exit_code == 0, result.stderr
    rows = path.read_text().splitlines()
    assert rows.count("message_id,phone") == 1
    assert len(rows) == 1 + 2 * len(PHONES)
    status = invoke("--sandbox", "--json", "status", "--file", str(path))
    assert status.exit_code == 0, status.stderr
    document = as_json(status.stdout)
    assert sorted(document["statuses"]) == sorted(m.id for m in sandbox.messages())
    assert document["counts"] == {"DELIVRD": 4, "UNDELIV": 2}
    assert document["all_final"] is True
    human = invoke("--sandbox", "status", "--file", str(path))
    assert "Delivery status" in human.stdout
    assert "UNDELIV" in human.stdout


def test_one_message_is_singular(invoke: Invoke) -> None:
    """The title says "Statuses of 1 message", not "1 messages"."""
    sent = invoke("--sandbox", "--json", "send", PHONES[0], "-m", "Hi", "-s", SENDER)
    message_id = next(iter(as_json(sent.stdout)["sent"]))
    result = invoke("--sandbox", "status", message_id)
    assert "Statuses of 1 message" in result.stdout
    assert "1 messages" not in result.stdout


def test_status_table_has_no_empty_gateway_column(invoke: Invoke) -> None:
    """SMS Club's statuses are their own names: no "gateway says" column to leave empty."""
    sent = invoke("--sandbox", "--json", "send", *PHONES, "-m", "Hi", "-s", SENDER)
    result = invoke("--sandbox", "status", *as_json(sent.stdout)["sent"])
    assert "Delivery status" in result.stdout
    assert "gateway says" not in result.stdout
