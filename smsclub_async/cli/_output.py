"""What the commands print: rich tables for people, stable JSON for programs.

With ``--json`` the JSON document is the only thing on stdout; tables, progress and
notes go to stderr. Without it, tables go to stdout and progress to stderr.

Values that come from users or the gateway (ids, reasons, sender names, error
messages) are untrusted: they go through :func:`safe` before reaching a terminal, so
an escape sequence in a gateway's answer (a new window title, a cleared screen) or a
newline that would forge a line is shown as ``\\x1b``/``\\x0a`` text, and they are printed
as plain text, never as rich markup.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._results import Balance, StatusReport
from .._segments import Segments
from .._status import DeliveryStatus, SenderState
from ._bulk import BulkOutcome, WatchOutcome
from ._errors import one_line

__all__ = [
    "IDS_TABLE_LIMIT",
    "Output",
    "group_reasons",
    "new_table",
    "plural",
    "safe",
    "send_document",
    "status_document",
]

IDS_TABLE_LIMIT = 50
"""Up to this many sent ids are shown as a table; more are printed as CSV lines."""


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def safe(text: object) -> str:
    """``text`` with every character a terminal could act on written as an escape.

    Tabs, newlines, escape sequences, C1 controls (``\\x9b`` starts a sequence on
    some terminals), bidi overrides and other invisible characters become text such
    as ``\\x1b`` or ``\\x0a``; everything printable (Cyrillic included) is kept.

    >>> safe("100\\n200 \\x1b]0;pwned\\x07")
    '100\\\\x0a200 \\\\x1b]0;pwned\\\\x07'
    """
    value = str(text)
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _escape(char) for char in value)


def _safe_json(document: str) -> str:
    """Escape what ``json.dumps(ensure_ascii=False)`` leaves raw (DEL, C1, bidi...)."""
    if document.isprintable():
        return document
    return "".join(
        char if char.isprintable() or char in "\n " else json.dumps(char)[1:-1] for char in document
    )


class Output:
    """The two streams of a command and which one gets what.

    Args:
        json_mode: ``--json`` was given.
    """

    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.out = Console(highlight=False)
        self.err = Console(stderr=True, highlight=False)

    @property
    def human(self) -> Console:
        """Where tables and summaries go: stdout, or stderr under ``--json``."""
        return self.err if self.json else self.out

    def emit(self, document: Mapping[str, Any], *, compact: bool = False) -> None:
        """Print the JSON document on stdout (only under ``--json``); compact is one line."""
        indent = None if compact else 2
        text = json.dumps(document, ensure_ascii=False, indent=indent, default=str)
        sys.stdout.write(_safe_json(text) + "\n")
        sys.stdout.flush()

    def note(self, message: str, style: str = "dim") -> None:
        """A one-line remark on stderr."""
        self.err.print(Text(safe(message), style=style), soft_wrap=True)

    def plain(self, line: str) -> None:
        """A line on stdout, as given but :func:`safe` (for ids meant to be piped)."""
        sys.stdout.write(safe(line) + "\n")

    def print(self, *renderables: Any) -> None:
        """Tables and text for people (a long line of text is not broken)."""
        self.human.print(*renderables, soft_wrap=True)


def error_line(message: str) -> None:
    """Print ``smsclub: error: ...`` as exactly one line on stderr."""
    sys.stderr.write(f"smsclub: error: {safe(one_line(message))}\n")
    sys.stderr.flush()


def group_reasons(reasons: Mapping[str, str]) -> list[tuple[str, int]]:
    """Count reasons, most common first, with the number itself blanked out.

    The gateway writes the number into some reasons ("Incorrect phone number
    (123)"); replacing it lets identical reasons group.
    """
    counts: Counter[str] = Counter(
        reason.replace(phone, "<number>") if phone and phone in reason else reason
        for phone, reason in reasons.items()
    )
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def plural(count: int, noun: str) -> str:
    """``1 request``, ``2 requests``, ``3,000 recipients``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def new_table(title: str, *columns: str, justify_last: bool = True) -> Table:
    """A table in the house style: a bold title on the left, numbers on the right."""
    grid = Table(
        title=title or None,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        title_style="bold",
        min_width=len(title) + 2 if title else None,
    )
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        grid.add_column(column, justify="right" if last and justify_last else "left")
    return grid


# ------------------------------------------------------------------------- send


def send_document(outcome: BulkOutcome) -> dict[str, Any]:
    """The JSON of a bulk send: every recipient's outcome, and a summary."""
    result = outcome.result
    not_sent = outcome.not_sent
    return {
        "sent": dict(result.sent),
        "failed": dict(result.failed),
        "unknown": dict(result.unknown),
        "errors": dict(result.errors),
        "not_sent": not_sent,
        "summary": {
            "recipients": len(outcome.phones) + _invalid_count(outcome),
            "sent": len(result.sent),
            "failed": len(result.failed),
            "unknown": len(result.unknown),
            "not_sent": len(not_sent),
            "requests": result.requests,
            "elapsed": round(outcome.elapsed, 3),
            "failed_reasons": dict(group_reasons(result.failed)),
            "unknown_reasons": dict(group_reasons(result.unknown)),
        },
        "interrupted": outcome.interrupted,
        "error": None if outcome.error is None else one_line(str(outcome.error)),
    }


def _invalid_count(outcome: BulkOutcome) -> int:
    # Numbers refused before sending are in `failed` but not in `phones`.
    asked = set(outcome.phones)
    return sum(1 for phone in outcome.result.failed if phone not in asked)


def render_send(
    output: Output, outcome: BulkOutcome, *, ids_saved_to: str | None, show_ids: bool = True
) -> None:
    """The human summary of a bulk send, and the ids unless they went to a file."""
    result = outcome.result
    not_sent = outcome.not_sent
    total = len(outcome.phones) + _invalid_count(outcome)
    verb = "Interrupted" if outcome.interrupted else "Done"
    output.print(
        Text(
            f"{verb}: {len(result.sent):,} of {plural(total, 'recipient')} sent in"
            f" {plural(result.requests, 'request')} ({outcome.elapsed:.1f} s)",
            style="bold",
        )
    )
    summary = new_table("", "outcome", "recipients")
    summary.add_row("sent", f"{len(result.sent):,}", style="green")
    summary.add_row("failed", f"{len(result.failed):,}", style="red" if result.failed else "")
    summary.add_row(
        "unknown (maybe sent)", f"{len(result.unknown):,}", style="yellow" if result.unknown else ""
    )
    if not_sent:
        summary.add_row("not sent (stopped first)", f"{len(not_sent):,}", style="yellow")
    output.print(summary)
    for title, reasons in (("Failed", result.failed), ("Unknown", result.unknown)):
        if reasons:
            table = new_table(f"{title}, by reason", "reason", "count")
            for reason, count in group_reasons(reasons):
                table.add_row(Text(safe(reason)), f"{count:,}")
            output.print(table)
    if result.errors:
        table = new_table("Request errors", "field", "message", justify_last=False)
        for key, message in result.errors.items():
            table.add_row(Text(safe(key)), Text(safe(message)))
        output.print(table)
    if ids_saved_to is not None:
        output.note(f"message ids saved to {ids_saved_to}", style="")
    elif result.sent and show_ids and not output.json:
        render_ids(output, result.sent)


def render_ids(output: Output, sent: Mapping[str, str]) -> None:
    """Show the issued ids: a table when few, else ``message_id,phone`` lines."""
    if len(sent) <= IDS_TABLE_LIMIT:
        table = new_table("Message ids", "message id", "phone", justify_last=False)
        for message_id, phone in sent.items():
            table.add_row(Text(safe(message_id)), Text(safe(phone)))
        output.print(table)
        return
    output.print(Text(f"Message ids ({len(sent):,}), as message_id,phone:", style="bold"))
    target = output.human
    for message_id, phone in sent.items():
        target.out(f"{safe(message_id)},{safe(phone)}", highlight=False)


# ------------------------------------------------------------------------- dry run


def dry_run_document(
    rows: list[tuple[str, Segments]], invalid: Mapping[str, str], duplicates: int
) -> dict[str, Any]:
    """The JSON of ``--dry-run``: recipients, parts each, total parts."""
    return {
        "dry_run": True,
        "recipients": [
            {"phone": phone, "parts": seg.parts, "encoding": seg.encoding, "units": seg.units}
            for phone, seg in rows
        ],
        "invalid": dict(invalid),
        "duplicates": duplicates,
        "total_recipients": len(rows),
        "total_parts": sum(seg.parts for _, seg in rows),
    }


def render_dry_run(
    output: Output,
    rows: list[tuple[str, Segments]],
    invalid: Mapping[str, str],
    duplicates: int,
    *,
    shared: Segments | None,
) -> None:
    """The human view of ``--dry-run``."""
    limit = IDS_TABLE_LIMIT
    table = new_table(
        f"Dry run: {plural(len(rows), 'recipient')}, nothing sent",
        "phone",
        "parts",
        justify_last=True,
    )
    for phone, seg in rows[:limit]:
        table.add_row(Text(safe(phone)), str(seg.parts))
    if len(rows) > limit:
        table.add_row(Text(f"... and {len(rows) - limit:,} more"), "")
    output.print(table)
    if shared is not None:
        output.print(Text(f"message: {shared}"))
    total = sum(seg.parts for _, seg in rows)
    output.print(
        Text(
            f"total: {plural(total, 'SMS part')} to {plural(len(rows), 'recipient')}",
            style="bold",
        )
    )
    if duplicates:
        output.print(Text(f"{plural(duplicates, 'repeated number')} dropped"))
    for reason in invalid.values():
        output.print(Text(f"skipped, {safe(reason)}", style="yellow"))


# ------------------------------------------------------------------------- statuses


def status_document(
    report: StatusReport, ids: Iterable[str], *, interrupted: bool = False
) -> dict[str, Any]:
    """The JSON of ``status``: each id's status, the raw strings, counts, missing ids."""
    id_list = list(ids)
    missing = [i for i in id_list if i not in report]
    return {
        "statuses": {i: report[i].value for i in id_list if i in report},
        "raw": {i: report.raw.get(i, report[i].value) for i in id_list if i in report},
        "missing": missing,
        "counts": {status.value: n for status, n in sorted(report.counts().items())},
        "all_final": not missing and all(report[i].is_final for i in id_list),
        "interrupted": interrupted,
    }


_STATUS_STYLE = {
    DeliveryStatus.DELIVRD: "green",
    DeliveryStatus.ENROUTE: "cyan",
    DeliveryStatus.PENDING: "cyan",
    DeliveryStatus.UNKNOWN: "yellow",
}


def _gateway_words(report: StatusReport, ids: Iterable[str]) -> dict[str, str]:
    """The gateway's own status strings, where they say more than the status name."""
    words: dict[str, str] = {}
    for message_id in ids:
        status = report.get(message_id)
        raw = None if status is None else report.raw.get(message_id)
        if status is not None and raw and raw != status.value:
            words[message_id] = raw
    return words


def render_statuses(output: Output, report: StatusReport, ids: Iterable[str]) -> None:
    """Per-id table (when few) and counts per status.

    The "gateway says" column (the gateway's own word, e.g. SMSC's numeric codes) is
    shown only when some status has one that differs from its name.
    """
    id_list = list(ids)
    if len(id_list) <= IDS_TABLE_LIMIT:
        words = _gateway_words(report, id_list)
        columns = ("message id", "status", *(("gateway says",) if words else ()))
        table = new_table("Delivery status", *columns, justify_last=False)
        for message_id in id_list:
            status = report.get(message_id)
            cells: list[Text] = [Text(safe(message_id))]
            if status is None:
                cells.append(Text("not found", style="yellow"))
            else:
                cells.append(Text(status.value, style=_STATUS_STYLE.get(status, "red")))
            if words:
                cells.append(Text(safe(words.get(message_id, ""))))
            table.add_row(*cells)
        output.print(table)
    render_status_counts(output, report, id_list)


def render_status_counts(output: Output, report: StatusReport, ids: list[str]) -> None:
    """How many messages are in each status (and how many the gateway did not know)."""
    table = new_table(f"Statuses of {plural(len(ids), 'message')}", "status", "messages")
    for status, count in sorted(report.counts().items(), key=lambda item: -item[1]):
        table.add_row(Text(status.value, style=_STATUS_STYLE.get(status, "red")), f"{count:,}")
    missing = sum(1 for i in ids if i not in report)
    if missing:
        table.add_row(Text("not found", style="yellow"), f"{missing:,}")
    output.print(table)


def render_watch_end(output: Output, outcome: WatchOutcome) -> None:
    """Say why a ``--wait`` ended without every status final."""
    pending = outcome.pending
    if outcome.interrupted:
        output.note(f"interrupted: {plural(len(pending), 'message')} not final yet", style="yellow")
    elif pending:
        output.note(
            f"gave up waiting: {plural(len(pending), 'message')} not final yet", style="yellow"
        )


# ------------------------------------------------------------------------- account


def balance_document(balance: Balance) -> dict[str, Any]:
    """``{"money": "8111.17", "currency": "UAH"}``: money as an exact decimal string."""
    return {"money": str(balance.money), "currency": balance.currency}


def senders_table(states: Mapping[str, SenderState]) -> Table:
    """Sender names with their moderation state."""
    table = new_table("Sender names", "name", "state", "usable", justify_last=False)
    for name, state in states.items():
        table.add_row(
            Text(safe(name)),
            Text(state.value, style="green" if state.usable else "yellow"),
            "yes" if state.usable else "no",
        )
    return table
