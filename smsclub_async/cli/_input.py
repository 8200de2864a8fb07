"""Reading what the user gives: numbers, message ids, personalised CSV (no network).

Every item keeps where it came from ("phones.txt line 7", "argument 2") so that a
bad one is reported with its place, in one line.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .._phones import normalize_phone
from ._errors import CliError

__all__ = [
    "ID_HEADERS",
    "PHONE_HEADERS",
    "STDIN",
    "Line",
    "Personalized",
    "Recipients",
    "gather_lines",
    "parse_ids",
    "parse_personalized",
    "parse_recipients",
    "read_text",
]

STDIN = "-"
"""The file name that means standard input."""

PHONE_HEADERS = frozenset({"phone", "phones", "number", "numbers", "msisdn", "recipient"})
"""First-column words that mark a header line in a file of numbers."""
ID_HEADERS = frozenset({"id", "ids", "message_id", "id_sms"})
"""First-column words that mark a header line in a file of message ids."""


@dataclass(frozen=True, slots=True)
class Line:
    """One item of input and where it came from (for error messages)."""

    origin: str
    text: str


def read_text(path: str) -> tuple[str, str]:
    """Read a UTF-8 file (``-`` is stdin); return (its name for messages, its text).

    Raises:
        CliError: the file cannot be opened or is not UTF-8 text.
    """
    if path == STDIN:
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            return "stdin", sys.stdin.read()
        return "stdin", _decode(buffer.read(), "stdin")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(f"cannot read {path}: {reason}") from exc
    return path, _decode(data, path)


def _decode(data: bytes, name: str) -> str:
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark in front.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(
            f"cannot read {name}: not UTF-8 text (byte {data[exc.start]:#04x} at offset"
            f" {exc.start}); save it as UTF-8"
        ) from exc


def _file_lines(path: str, header_words: frozenset[str]) -> list[Line]:
    name, text = read_text(path)
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        # A CSV written by `--save-ids` or a spreadsheet: the first column is the item.
        first = item.split(",", 1)[0].strip()
        if first.lower() in header_words:
            continue  # a header row (files appended to may hold several)
        lines.append(Line(f"{name} line {number}", first))
    return lines


def gather_lines(
    arguments: Sequence[str], file: str | None, header_words: frozenset[str] = PHONE_HEADERS
) -> list[Line]:
    """The items from the arguments (``-`` reads stdin) and from ``--file``."""
    lines: list[Line] = []
    stdin_read = False
    for position, argument in enumerate(arguments, start=1):
        if argument == STDIN:
            if not stdin_read:
                lines += _file_lines(STDIN, header_words)
                stdin_read = True
            continue
        lines.append(Line(f"argument {position}", argument))
    if file is not None:
        if file == STDIN and stdin_read:
            raise CliError("stdin was given twice (as - and as --file -)")
        lines += _file_lines(file, header_words)
    return lines


@dataclass(slots=True)
class Recipients:
    """Numbers ready to send to: normalised, distinct, in input order.

    Attributes:
        phones: the normalised numbers.
        invalid: input as given -> where it was and why it is refused.
        duplicates: how many inputs repeated an earlier number.
    """

    phones: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0


def invalid_reason(raw: str) -> str:
    """Why a number is refused before any request."""
    return f"not a phone number: {raw!r} (10-15 digits expected, + and separators allowed)"


def parse_recipients(lines: Iterable[Line]) -> Recipients:
    """Normalise and de-duplicate numbers, keeping the invalid ones aside."""
    recipients = Recipients()
    seen: set[str] = set()
    for line in lines:
        phone = normalize_phone(line.text)
        if phone is None:
            recipients.invalid.setdefault(line.text, f"{line.origin}: {invalid_reason(line.text)}")
        elif phone in seen:
            recipients.duplicates += 1
        else:
            seen.add(phone)
            recipients.phones.append(phone)
    return recipients


def parse_ids(lines: Iterable[Line]) -> list[str]:
    """Message ids in order, without repeats.

    Raises:
        CliError: an id that is not printable or too long (with its place).
    """
    ids: dict[str, None] = {}
    for line in lines:
        text = line.text.strip()
        if not text or len(text) > 64 or not text.isprintable() or " " in text:
            raise CliError(f"{line.origin}: not a message id: {line.text!r}")
        ids.setdefault(text)
    return list(ids)


@dataclass(slots=True)
class Personalized:
    """(phone, message) pairs from a CSV file, normalised, one per phone.

    Attributes:
        messages: normalised phone -> its message, in file order.
        invalid: phone as given -> where it was and why it is refused.
        duplicates: rows whose phone repeated an earlier row (the first one wins).
    """

    messages: dict[str, str] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0


def parse_personalized(text: str, name: str) -> Personalized:
    """Parse ``phone,message`` rows (a header row is optional).

    A message with commas may be quoted, as CSV does; an unquoted one is taken whole
    (every field after the first, joined again with commas).

    Raises:
        CliError: a row without a message, or text that is not CSV (with its line).
    """
    result = Personalized()
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    first = True
    try:
        for row in reader:
            where = f"{name} line {start}"
            start = reader.line_num + 1
            if not row or all(not cell.strip() for cell in row):
                continue
            phone_text = row[0].strip()
            if phone_text.startswith("#"):
                continue
            # The first row is a header when its first cell has no digits at all.
            is_header = first and not any(c.isdigit() for c in phone_text)
            first = False
            if is_header:
                continue
            if len(row) < 2:
                raise CliError(f"{where}: expected phone,message but found one field")
            message = ",".join(row[1:]).strip()
            if not message:
                raise CliError(f"{where}: the message is empty")
            phone = normalize_phone(phone_text)
            if phone is None:
                result.invalid.setdefault(phone_text, f"{where}: {invalid_reason(phone_text)}")
            elif phone in result.messages:
                result.duplicates += 1
            else:
                result.messages[phone] = message
    except csv.Error as exc:
        raise CliError(f"cannot read {name} line {reader.line_num}: {exc}") from exc
    return result
