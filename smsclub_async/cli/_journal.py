"""``--journal`` / ``--key`` of the send commands, and ``smsclub journal show|purge``.

With ``--journal PATH`` a send goes through a :class:`~smsclub_async.journal.SqliteJournal`
at PATH under a key: ``--key``, or one derived from the gateway, the sender, the
text(s) and the set of recipients, so that **running the same command again resumes
it**: recipients already sent or possibly sent are not sent again, recipients never
started are, and the summary (and ``--json``) is the combined result of all runs.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from ..journal import JournalError, KeySummary, SqliteJournal
from ._errors import CliError
from ._output import Output, new_table, plural

__all__ = [
    "JournalOption",
    "JournalRun",
    "KeyOption",
    "derive_key",
    "journal_app",
    "open_journal",
]

JournalOption = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        metavar="FILE",
        help=(
            "Record every recipient in this SQLite journal before and after its request;"
            " running the same command again resumes it and sends nobody twice."
        ),
        dir_okay=False,
        show_default=False,
    ),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        metavar="KEY",
        help=(
            "The journal key of this send (with --journal); default: derived from the"
            " recipients, the text and the sender."
        ),
        show_default=False,
    ),
]

KEY_PREFIX = "cli-"


def derive_key(*, gateway: str, sender: str, recipients: Iterable[tuple[str, str]]) -> str:
    """The default key: a hash of the gateway, the sender and the (phone, text) pairs.

    The pairs are taken as a set (sorted), so the same recipients in another order
    give the same key; one more recipient or another text gives another key.

    Example:
        >>> a = derive_key(gateway="smsclub", sender="S", recipients=[("1", "Hi"), ("2", "Hi")])
        >>> a == derive_key(gateway="smsclub", sender="S", recipients=[("2", "Hi"), ("1", "Hi")])
        True
    """
    digest = hashlib.sha256()
    digest.update(f"{gateway}\0{sender}\0".encode())
    for phone, text in sorted(recipients):
        digest.update(f"{phone}\0{len(text)}\0{text}\0".encode())
    return KEY_PREFIX + digest.hexdigest()[:24]


class JournalRun:
    """A send's journal and key, attached to the client.

    Attributes:
        journal: the SQLite journal.
        key: the key of this send.
    """

    def __init__(self, journal: SqliteJournal, key: str) -> None:
        self.journal = journal
        self.key = key

    @property
    def send_options(self) -> dict[str, Any]:
        """Keyword arguments for ``send_iter`` / ``send_personalized_iter``."""
        return {"key": self.key}

    def note(self, output: Output) -> None:
        """Tell where the journal is and how to resume."""
        output.note(
            f"journal {self.journal.path}, key {self.key}: run the same command again to"
            " resume; nobody is sent twice",
            style="",
        )


def open_journal(
    client: object,
    path: Path | None,
    key: str | None,
    *,
    gateway: str,
    sender: str,
    recipients: Iterable[tuple[str, str]],
) -> JournalRun | None:
    """Attach a SQLite journal at ``path`` to ``client``; ``None`` without ``--journal``.

    Raises:
        CliError: ``--key`` without ``--journal``, an empty key, or a client that
            takes no journal.
    """
    if path is None:
        if key is not None:
            raise CliError("--key needs --journal FILE")
        return None
    if key is not None and not key.strip():
        raise CliError("--key must not be empty")
    journal = SqliteJournal(path)
    try:
        if not hasattr(client, "journal"):
            raise AttributeError("journal")  # noqa: TRY301 - one message for both
        client.journal = journal  # the client reads it when a send with a key begins
    except AttributeError:
        raise CliError(f"--journal is not available for {type(client).__name__}") from None
    chosen = (
        key.strip() if key else derive_key(gateway=gateway, sender=sender, recipients=recipients)
    )
    return JournalRun(journal, chosen)


# ------------------------------------------------------------------ smsclub journal ...


class _Command(TyperCommand):
    """Help with value names (``FILE``), not Python types, as the other commands."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from ._app import _plain_help  # noqa: PLC0415 - _app imports this module

        _plain_help(self, ctx)
        super().format_help(ctx, formatter)


class _JournalGroup(TyperGroup):
    """The ``journal`` group: its help shows value names, not Python types."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        from ._app import _plain_help  # noqa: PLC0415 - _app imports this module

        _plain_help(self, ctx)
        super().format_help(ctx, formatter)


journal_app = typer.Typer(
    name="journal",
    cls=_JournalGroup,
    help="Look into a send journal (smsclub send --journal FILE).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

PathArgument = Annotated[
    Path,
    typer.Argument(metavar="FILE", help="The journal file.", dir_okay=False, show_default=False),
]


def _json_mode(ctx: typer.Context, flag: bool) -> bool:
    settings = ctx.find_root().obj
    return flag or bool(getattr(settings, "json", False))


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise CliError(f"no journal at {path}")
    return path


async def _summaries(path: Path) -> list[KeySummary]:
    async with SqliteJournal(path) as journal:
        return await journal.summary()


def summary_table(summaries: list[KeySummary]) -> Table:
    """One row per key: when, and how many recipients in each state."""
    table = new_table(
        "send journal", "key", "updated (UTC)", "sent", "failed", "unknown", "started"
    )
    for item in summaries:
        table.add_row(
            item.key,
            item.updated.strftime("%Y-%m-%d %H:%M:%S"),
            f"{item.sent:,}",
            f"{item.failed:,}",
            f"{item.unknown:,}",
            f"{item.started:,}",
        )
    return table


_EXAMPLES_SHOW = """Examples:
  smsclub journal show sends.db
  smsclub journal show sends.db --key cli-3f2a9c0d1e4b5a6f7c8d9e0f
  smsclub --json journal show sends.db --key campaign-42 > outcomes.json"""

_EXAMPLES_PURGE = """Examples:
  smsclub journal purge sends.db
  smsclub journal purge sends.db --older-than 30"""


@journal_app.command("show", cls=_Command, epilog=_EXAMPLES_SHOW)
def show(
    ctx: typer.Context,
    path: PathArgument,
    *,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", help="Only this key, recipient by recipient."),
    ] = None,
    json_flag: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
) -> None:
    """Summarise what a journal recorded: per key, recipients sent, failed, unknown, started.

    "started" counts recipients whose request may be in flight, or was when its
    process died; a later run with the key reports them as unknown.
    """
    output = Output(_json_mode(ctx, json_flag))
    path = _existing(path)
    try:
        summaries = asyncio.run(_summaries(path))
        if key is not None:
            summaries = [s for s in summaries if s.key == key]
            if not summaries:
                raise CliError(f"no key {key!r} in {path}")
            rows = asyncio.run(_rows(path, key))
    except JournalError as exc:
        raise CliError(str(exc)) from exc
    if output.json:
        document: dict[str, Any] = {"journal": str(path), "keys": [s.as_dict() for s in summaries]}
        if key is not None:
            document["recipients"] = rows
        output.emit(document)
        return
    if not summaries:
        output.print(f"{path}: no keys recorded")
        return
    output.print(summary_table(summaries))
    if key is not None:
        table = new_table(f"key {key}", "phone", "outcome", "message id / reason")
        for row in rows[:50]:
            table.add_row(row["phone"], row["outcome"], row["message_id"] or row["reason"] or "")
        output.print(table)
        if len(rows) > 50:
            output.print(f"... and {plural(len(rows) - 50, 'more recipient')} (use --json)")


async def _rows(path: Path, key: str) -> list[dict[str, str | None]]:
    async with SqliteJournal(path) as journal:
        return (await journal.load(key)).to_rows()


@journal_app.command("purge", cls=_Command, epilog=_EXAMPLES_PURGE)
def purge(
    ctx: typer.Context,
    path: PathArgument,
    *,
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than",
            min=0,
            metavar="DAYS",
            help="Drop keys not written for this many days.",
        ),
    ] = 7.0,
) -> None:
    """Drop the keys not written for a while (7 days by default)."""
    output = Output(_json_mode(ctx, False))
    path = _existing(path)

    async def work() -> int:
        async with SqliteJournal(path) as journal:
            return await journal.purge(older_than=timedelta(days=older_than))

    try:
        dropped = asyncio.run(work())
    except JournalError as exc:
        raise CliError(str(exc)) from exc
    if output.json:
        output.emit({"journal": str(path), "purged": dropped})
    else:
        output.print(f"{path}: {plural(dropped, 'key')} purged")
