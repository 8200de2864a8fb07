"""Reading numbers, ids and personalised CSV: pure functions, table tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smsclub_async.cli._errors import CliError
from smsclub_async.cli._input import (
    ID_HEADERS,
    Line,
    gather_lines,
    parse_ids,
    parse_personalized,
    parse_recipients,
    read_text,
)
from smsclub_async.cli._output import group_reasons


def test_recipients_are_normalised_deduplicated_and_invalid_ones_kept_aside() -> None:
    lines = [
        Line("argument 1", "+38 (050) 123-45-67"),
        Line("argument 2", "380501234567"),
        Line("argument 3", "12345"),
        Line("argument 4", "380671112233"),
    ]
    recipients = parse_recipients(lines)
    assert recipients.phones == ["380501234567", "380671112233"]
    assert recipients.duplicates == 1
    assert list(recipients.invalid) == ["12345"]
    assert recipients.invalid["12345"].startswith("argument 3: not a phone number")


def test_file_lines_skip_blanks_comments_and_a_header(tmp_path: Path) -> None:
    path = tmp_path / "phones.txt"
    path.write_text("phone\n\n# a comment\n380501234567\n380671112233,Ivan\n", encoding="utf-8")
    lines = gather_lines([], str(path))
    assert [(line.origin, line.text) for line in lines] == [
        (f"{path} line 4", "380501234567"),
        (f"{path} line 5", "380671112233"),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xef\xbb\xbf380501234567\n", ["380501234567"]),  # a byte-order mark
        (b"380501234567\r\n380671112233\r\n", ["380501234567", "380671112233"]),
    ],
)
def test_files_from_spreadsheets_are_read(
    tmp_path: Path, content: bytes, expected: list[str]
) -> None:
    path = tmp_path / "phones.txt"
    path.write_bytes(content)
    assert parse_recipients(gather_lines([], str(path))).phones == expected


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "No such file or directory"),
        (lambda p: p, "Is a directory"),
    ],
)
def test_unreadable_files_are_one_clear_error(
    tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    with pytest.raises(CliError, match=message):
        read_text(str(make(tmp_path)))


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "cp1251.csv"
    path.write_bytes("380501234567,Привіт\n".encode("cp1251"))
    with pytest.raises(CliError, match="not UTF-8"):
        read_text(str(path))


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("380501234567,Hi\n", {"380501234567": "Hi"}),
        ("phone,message\n380501234567,Hi\n", {"380501234567": "Hi"}),
        ('380501234567,"Hi, Ivan"\n', {"380501234567": "Hi, Ivan"}),
        ("380501234567,Hi, Ivan\n", {"380501234567": "Hi, Ivan"}),  # unquoted comma
        ('380501234567,"two\nlines"\n', {"380501234567": "two\nlines"}),
        ("380501234567,first\n+380501234567,second\n", {"380501234567": "first"}),
    ],
)
def test_personalised_csv_rows(text: str, messages: dict[str, str]) -> None:
    assert parse_personalized(text, "people.csv").messages == messages


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("380501234567,Hi\n380671112233\n", "people.csv line 2: expected phone,message"),
        ("phone,message\n\n380501234567,  \n", "people.csv line 3: the message is empty"),
        ('380501234567,"a\nb"\n380671112233\n', "people.csv line 3: expected"),
    ],
)
def test_a_malformed_csv_row_is_reported_with_its_line_number(text: str, error: str) -> None:
    with pytest.raises(CliError, match=error):
        parse_personalized(text, "people.csv")


def test_invalid_phones_in_csv_are_kept_with_their_line() -> None:
    table = parse_personalized("380501234567,Hi\nabc123,Hi\n", "people.csv")
    assert table.invalid == {
        "abc123": "people.csv line 2: not a phone number: 'abc123'"
        " (10-15 digits expected, + and separators allowed)"
    }


def test_ids_come_from_a_save_ids_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("message_id,phone\n100,380501234567\n101,380671112233\n100,x\n")
    assert parse_ids(gather_lines([], str(path), ID_HEADERS)) == ["100", "101"]


def test_a_bad_id_names_its_place() -> None:
    with pytest.raises(CliError, match="argument 2: not a message id"):
        parse_ids([Line("argument 1", "100"), Line("argument 2", "1 0")])


def test_reasons_group_with_the_number_blanked_out() -> None:
    reasons = {
        "123": "Incorrect phone number (123)",
        "456": "Incorrect phone number (456)",
        "380501234567": "This number is in the black list",
    }
    assert group_reasons(reasons) == [
        ("Incorrect phone number (<number>)", 2),
        ("This number is in the black list", 1),
    ]
