"""The ``smsclub`` command: options, commands, and how errors become exit codes.

The commands are thin: they parse input (:mod:`._input`), build a client
(:mod:`._gateways`), run one coroutine (:mod:`._bulk` for the long ones) and print
(:mod:`._output`). Every expected failure is a one-line error and an exit code
(:class:`._errors.ExitCode`), never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Annotated, Any, Literal, NoReturn, TypeVar

import typer
from rich.text import Text
from typer.core import TyperCommand, TyperGroup

from .._errors import SmsClubError
from .._segments import Segments, segments
from .._status import SenderState
from .._tracking import StatusChange
from .._version import __version__
from . import _input
from ._bulk import BulkOutcome, IdsFile, WatchOutcome, make_progress, run_bulk, watch_statuses
from ._errors import CliError, ExitCode, exit_code_for
from ._gateways import (
    Feature,
    GatewayClient,
    GatewayName,
    ResultStream,
    Settings,
    open_client,
    open_personalized,
    open_smsclub,
)
from ._journal import JournalOption, KeyOption, journal_app, open_journal
from ._output import (
    Output,
    balance_document,
    dry_run_document,
    error_line,
    plural,
    render_dry_run,
    render_send,
    render_status_counts,
    render_statuses,
    render_watch_end,
    safe,
    send_document,
    senders_table,
    status_document,
)

__all__ = ["app", "main"]

T = TypeVar("T")

PROG_NAME = "smsclub"
DEBUG_ENV = "SMSCLUB_DEBUG"
"""Set to 1 to get tracebacks instead of one-line errors (for bug reports)."""
SENDER_ENV = "SMSCLUB_SENDER"

# The parsing errors of the click that typer is built on (bundled in recent typer,
# a dependency in older ones), found from a public name so either works.
_CLICK_EXCEPTION: type[Exception] = next(
    cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "ClickException"
)


_LABELS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "FILE", "text": "TEXT"}


def _value_label(param: Any) -> str | None:
    """What the help shows after an option: ``TEXT``, ``FILE``, ``tov|fop``; flags nothing.

    Typer's default (``<bool>``, ``<list[str]>``, ``<int range>``) names Python types,
    which a user of the command line has no use for.
    """
    if getattr(param, "param_type_name", "") == "argument" or getattr(param, "is_flag", False):
        return None
    if param.metavar:
        return str(param.metavar)
    # Typer >= 0.20 describes the type itself; older ones keep click's ParamType.
    descriptor = getattr(param, "type_descriptor", None)
    kind = getattr(param, "type", None)
    choices = getattr(descriptor, "choices", None) or getattr(kind, "choices", None)
    if choices:
        return "|".join(str(getattr(choice, "value", choice)) for choice in choices)
    annotation = getattr(descriptor, "annotation", None)
    name = getattr(annotation, "__name__", None) or getattr(kind, "name", None) or "value"
    return _LABELS.get(str(name).lower(), str(name).upper())


SHOWN_REQUIRED = frozenset({"message"})
"""Options checked by the command itself (for a clearer error) but required all the same:
the help marks them like the ones click enforces."""


def _plain_help(command: Any, ctx: Any) -> None:
    """Before a command's help is drawn: value names as types, SHOWN_REQUIRED marked."""
    for param in command.get_params(ctx):
        label = _value_label(param)
        # An instance attribute shadows the method typer's help renderer calls.
        param.display_type_rich = lambda ctx, label=label: label
        if param.name in SHOWN_REQUIRED:
            param.required = True


class _Command(TyperCommand):
    """A command whose help shows value names (``TEXT``), not Python types."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self, ctx)
        try:
            super().format_help(ctx, formatter)
        finally:
            for param in self.get_params(ctx):
                if param.name in SHOWN_REQUIRED:
                    param.required = False


class _Group(TyperGroup):
    """The top-level group: turns every expected error into one line and an exit code."""

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _plain_help(self, ctx)
        super().format_help(ctx, formatter)

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(
                args=args,
                prog_name=prog_name or PROG_NAME,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except (CliError, SmsClubError, ValueError) as error:
            if os.environ.get(DEBUG_ENV):
                raise
            error_line(str(error))
            code = exit_code_for(error)
        except typer.Abort:
            error_line("aborted")
            code = ExitCode.INTERRUPTED
        except _CLICK_EXCEPTION as error:
            error_line(_usage_message(error))
            code = ExitCode.USAGE
        code = int(code) if isinstance(code, int) else ExitCode.OK
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_message(error: Exception) -> str:
    format_message = getattr(error, "format_message", None)
    message = format_message() if callable(format_message) else str(error)
    ctx = getattr(error, "ctx", None)
    command = getattr(ctx, "command_path", None) or PROG_NAME
    return f"{message} (see '{command} --help')"


app = typer.Typer(
    cls=_Group,
    name=PROG_NAME,
    help=(
        "Send SMS through the SMS Club gateway, check delivery, manage sender names,"
        " or try it all on a local sandbox (smsclub demo).\n\n"
        "Exit codes: 0 all done, 1 some recipients failed or are unknown (or a request"
        " failed), 2 bad input or options, 130 interrupted (Ctrl-C)."
    ),
    epilog=(
        "Try it without an account: smsclub demo, or smsclub --sandbox send 380501234567"
        " -m Hi -s VashZakaz.\n"
        "Docs: https://smsclub-async.github.io/smsclub-async/cli/"
    ),
    no_args_is_help=True,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell.
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smsclub {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    *,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="TOKEN",
            help="API token (JSON Profile section of the account); default: $SMSCLUB_TOKEN.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="Gateway URL; default: $SMSCLUB_BASE_URL or https://im.smsclub.mobi.",
            show_default=False,
        ),
    ] = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help=(
                "Answer from an embedded in-process sandbox: no network, any token"
                " (senders VashZakaz, test1, test2; numbers ending in 9 are UNDELIV)."
            ),
        ),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print JSON on stdout; progress and tables go to stderr."),
    ] = False,
    gateway: Annotated[
        GatewayName,
        typer.Option("--gateway", help="Which gateway to use.", case_sensitive=False),
    ] = GatewayName.SMSCLUB,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Global options (put them before the command: smsclub --sandbox send ...)."""
    del version
    ctx.obj = Settings(
        token=token, base_url=base_url, sandbox=sandbox, json=json_output, gateway=gateway
    )


# ----------------------------------------------------------------------- helpers

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON on stdout (same as the global --json).")
]
FileOption = Annotated[
    str | None,
    typer.Option(
        "--file",
        "-f",
        metavar="FILE",
        help="Read more items from FILE, one per line (- for stdin).",
    ),
]
SenderOption = Annotated[
    str | None,
    typer.Option(
        "--sender",
        "-s",
        metavar="NAME",
        help="Approved sender name (alpha name); needed to send, default: $SMSCLUB_SENDER.",
        show_default=False,
    ),
]
LifetimeOption = Annotated[
    int | None,
    typer.Option(
        "--lifetime", min=1, metavar="MINUTES", help="Minutes a message may wait for delivery."
    ),
]
MaxPartsOption = Annotated[
    int | None,
    typer.Option(
        "--max-parts",
        min=1,
        metavar="N",
        help="Refuse a message longer than this many SMS parts.",
    ),
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Show recipients and SMS parts, send nothing (needs no token)."),
]
SaveIdsOption = Annotated[
    Path | None,
    typer.Option(
        "--save-ids",
        metavar="FILE",
        help=(
            "Append message_id,phone rows to FILE as each request finishes (an id that is"
            " not plain text goes on an escaped # comment line instead)."
        ),
        dir_okay=False,
    ),
]
SkipInvalidOption = Annotated[
    bool,
    typer.Option(
        "--skip-invalid", help="Send to the valid numbers and report the invalid ones as failed."
    ),
]
WaitOption = Annotated[
    bool, typer.Option("--wait", help="Then wait until every delivery status is final.")
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0,
        metavar="SECONDS",
        help="Seconds to wait for final statuses with --wait (0: no limit).",
    ),
]
IntervalOption = Annotated[
    float,
    typer.Option(
        "--interval",
        min=0.1,
        metavar="SECONDS",
        help="Seconds between status polls (growing to 30 s) with --wait.",
    ),
]


def _settings(ctx: typer.Context, json_flag: bool = False) -> Settings:
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        settings = Settings()
    return dataclasses.replace(settings, json=settings.json or json_flag)


def _run(main: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine; Ctrl-C outside the places that handle it exits 130."""

    async def wrapper() -> T:
        return await main()

    try:
        return asyncio.run(wrapper())
    except KeyboardInterrupt:
        error_line("interrupted")
        raise typer.Exit(ExitCode.INTERRUPTED) from None


async def _closing(client: GatewayClient, work: Awaitable[T]) -> T:
    try:
        return await work
    finally:
        await client.aclose()


def _exit(code: ExitCode) -> NoReturn:
    raise typer.Exit(int(code))


def _require_sender(sender: str | None) -> str:
    sender = sender or os.environ.get(SENDER_ENV)
    if not sender or not sender.strip():
        raise CliError(f"missing --sender NAME (or set {SENDER_ENV})")
    return sender.strip()


def _check_message(message: str, max_parts: int | None) -> Segments:
    if not message.strip():
        raise CliError("the message is empty")
    info = segments(message)
    if max_parts is not None and info.parts > max_parts:
        raise CliError(
            f"the message is {info.parts} SMS parts ({info}), more than --max-parts {max_parts}"
        )
    return info


def _refuse_invalid(invalid: dict[str, str]) -> None:
    if not invalid:
        return
    first = next(iter(invalid.values()))
    more = f" (and {len(invalid) - 1} more)" if len(invalid) > 1 else ""
    raise CliError(f"{first}{more}; fix it or use --skip-invalid to send to the rest")


def _open_ids_file(path: Path | None) -> IO[str] | None:
    if path is None:
        return None
    try:
        return path.open("a", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _send_and_report(
    settings: Settings,
    output: Output,
    *,
    client: GatewayClient,
    start: Callable[[], ResultStream],
    phones: list[str],
    invalid: dict[str, str],
    duplicates: int,
    save_ids: Path | None,
    wait: bool,
    timeout: float,
    interval: float,
) -> NoReturn:
    """Run a bulk send with progress, print its outcome, exit with its code."""
    handle = _open_ids_file(save_ids)
    ids_file = None if handle is None else IdsFile(handle)
    requests = -(-len(phones) // 100)
    skipped = f", {plural(duplicates, 'repeated number')} dropped" if duplicates else ""
    output.note(
        f"sending to {plural(len(phones), 'recipient')} in {plural(requests, 'request')}"
        f"{' (sandbox)' if settings.sandbox else ''}{skipped}; Ctrl-C stops and keeps the ids",
        style="",
    )

    async def work() -> tuple[BulkOutcome, WatchOutcome | None]:
        progress = make_progress(output.err)
        with progress:
            outcome = await run_bulk(
                start,
                phones=phones,
                progress=progress,
                on_result=None if ids_file is None else ids_file.write,
            )
        for raw in invalid:
            outcome.result.failed[raw] = _input.invalid_reason(raw)
        # The summary comes before any waiting: the ids are safe on screen first.
        render_send(output, outcome, ids_saved_to=None if save_ids is None else str(save_ids))
        if ids_file is not None and ids_file.refused:
            output.note(
                f"warning: the gateway issued {plural(len(ids_file.refused), 'message id')}"
                f" that {'is' if len(ids_file.refused) == 1 else 'are'} not plain text; written"
                f" escaped on # comment lines of {save_ids}",
                style="yellow",
            )
        watch = None
        if wait and outcome.result.sent and not (outcome.interrupted or outcome.error):
            watch = await _watch(client, list(outcome.result.sent), output, timeout, interval)
        return outcome, watch

    try:
        outcome, watch = _run(lambda: _closing(client, work()))
    finally:
        if handle is not None:
            handle.close()
    document = send_document(outcome)
    if watch is not None:
        document["delivery"] = status_document(
            watch.report, watch.ids, interrupted=watch.interrupted
        )
    if output.json:
        output.emit(document)
    if watch is not None:
        render_status_counts(output, watch.report, watch.ids)
        render_watch_end(output, watch)
    if outcome.interrupted or (watch is not None and watch.interrupted):
        _exit(ExitCode.INTERRUPTED)
    if outcome.error is not None:
        error_line(str(outcome.error))
        _exit(exit_code_for(outcome.error))
    result = outcome.result
    if result.errors and not result.sent and not result.unknown:
        # The gateway refused the request itself (a bad sender name, say): bad input.
        refused = "; ".join(f"{key}: {message}" for key, message in result.errors.items())
        error_line(f"the gateway refused the request: {refused}")
        _exit(ExitCode.USAGE)
    _exit(ExitCode.OK if result.ok and not outcome.not_sent else ExitCode.INCOMPLETE)


async def _watch(
    client: GatewayClient,
    ids: list[str],
    output: Output,
    timeout: float,  # noqa: ASYNC109 - a polling deadline, passed on to track()
    interval: float,
) -> WatchOutcome:
    progress = make_progress(output.err, rate=False)
    show_changes = len(ids) <= 20

    def on_change(change: StatusChange) -> None:
        if show_changes:
            before = "new" if change.previous is None else change.previous.value
            line = f"{safe(change.message_id)}: {before} -> {change.status.value}"
            progress.console.print(Text(line), soft_wrap=True)

    with progress:
        return await watch_statuses(
            client,
            ids,
            timeout=timeout or None,
            interval=interval,
            max_interval=max(interval, 30.0),
            progress=progress,
            on_change=on_change,
        )


# ----------------------------------------------------------------------- sending


def _examples(*lines: str) -> str:
    """A command's help epilog: its examples, one per line."""
    return "Examples:\n" + "\n".join(f"  {line}" for line in lines)


_EXAMPLES_SEND = _examples(
    "smsclub send 380501234567 -m 'Your order is ready' -s MyShop",
    "smsclub send --file phones.txt -m 'Sale today' -s MyShop --save-ids ids.csv --wait",
    "cat phones.txt | smsclub --json send - -m Hi -s MyShop > result.json",
    "smsclub send --file phones.txt -m 'Sale today' --dry-run",
)
_EXAMPLES_SEND_PERSONALIZED = _examples(
    "smsclub send-personalized orders.csv -s MyShop",
    "smsclub send-personalized orders.csv -s MyShop --dry-run --max-parts 2",
)
_EXAMPLES_STATUS = _examples(
    "smsclub status 1234567 1234568",
    "smsclub status --file ids.csv --wait --timeout 300",
    "smsclub --json status --file ids.csv",
)
_EXAMPLES_BALANCE = _examples(
    "smsclub balance",
    "smsclub --json balance",
)
_EXAMPLES_SENDERS = _examples(
    "smsclub senders",
)
_EXAMPLES_SENDER_STATUS = _examples(
    "smsclub sender-status",
    "smsclub sender-status MyShop",
)
_EXAMPLES_REGISTER_SENDER = _examples(
    "smsclub register-sender MyShop --company-type tov --okpo 12345678"
    " --company 'MyShop LLC' --subject 'Order updates' --description 'Online shop'"
    " --site myshop.example",
)
_EXAMPLES_SANDBOX = _examples(
    "smsclub sandbox --port 8765",
    "SMSCLUB_TOKEN=x SMSCLUB_BASE_URL=http://127.0.0.1:8765 smsclub balance",
    "smsclub --gateway smsc sandbox --port 0",
)
_EXAMPLES_DEMO = _examples(
    "smsclub demo",
    "smsclub demo -n 300 --delivery-delay 0.5",
    "smsclub --json demo > demo.json",
)


@app.command(cls=_Command, epilog=_EXAMPLES_SEND)
def send(
    ctx: typer.Context,
    *,
    phones: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PHONE",
            help="Phone numbers (- reads them from stdin, one per line).",
            show_default=False,
        ),
    ] = None,
    message: Annotated[
        str,
        typer.Option(
            "--message", "-m", metavar="TEXT", help="The text to send.", show_default=False
        ),
    ] = "",
    sender: SenderOption = None,
    file: FileOption = None,
    lifetime: LifetimeOption = None,
    max_parts: MaxPartsOption = None,
    dry_run: DryRunOption = False,
    save_ids: SaveIdsOption = None,
    skip_invalid: SkipInvalidOption = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 600.0,
    interval: IntervalOption = 2.0,
    journal: JournalOption = None,
    key: KeyOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Send one message to one or many numbers, with a progress bar and a summary."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    info = _check_message(message, max_parts) if message else None
    if info is None:
        raise CliError("missing --message TEXT")
    recipients = _input.parse_recipients(_input.gather_lines(phones or [], file))
    if not recipients.phones and not recipients.invalid:
        raise CliError("no recipients: give numbers as arguments, --file FILE, or - for stdin")
    if not skip_invalid:
        _refuse_invalid(recipients.invalid)
    if dry_run:
        rows = [(phone, info) for phone in recipients.phones]
        if settings.json:
            output.emit(dry_run_document(rows, recipients.invalid, recipients.duplicates))
        else:
            render_dry_run(output, rows, recipients.invalid, recipients.duplicates, shared=info)
        return
    if not recipients.phones:
        raise CliError("no valid recipients")
    name = _require_sender(sender)
    client = open_client(settings)
    run = open_journal(
        client,
        journal,
        key,
        gateway=settings.gateway,
        sender=name,
        recipients=((phone, message) for phone in recipients.phones),
    )
    keyed = {} if run is None else run.send_options
    if run is not None:
        run.note(output)
    _send_and_report(
        settings,
        output,
        client=client,
        start=lambda: client.send_iter(
            recipients.phones,
            message,
            sender=name,
            lifetime=lifetime,
            max_parts=max_parts,
            **keyed,
        ),
        phones=recipients.phones,
        invalid=recipients.invalid,
        duplicates=recipients.duplicates,
        save_ids=save_ids,
        wait=wait,
        timeout=timeout,
        interval=interval,
    )


@app.command("send-personalized", cls=_Command, epilog=_EXAMPLES_SEND_PERSONALIZED)
def send_personalized(
    ctx: typer.Context,
    *,
    csv_file: Annotated[
        str,
        typer.Argument(
            metavar="CSV",
            help="phone,message rows (header optional; - for stdin).",
            show_default=False,
        ),
    ],
    sender: SenderOption = None,
    lifetime: LifetimeOption = None,
    max_parts: MaxPartsOption = None,
    dry_run: DryRunOption = False,
    save_ids: SaveIdsOption = None,
    skip_invalid: SkipInvalidOption = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = 600.0,
    interval: IntervalOption = 2.0,
    journal: JournalOption = None,
    key: KeyOption = None,
    json_flag: JsonFlag = False,
) -> None:
    """Send each recipient its own text, from a CSV file of phone,message rows."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    name_of_file, text = _input.read_text(csv_file)
    table = _input.parse_personalized(text, name_of_file)
    if not table.messages and not table.invalid:
        raise CliError(f"{name_of_file} has no phone,message rows")
    if not skip_invalid:
        _refuse_invalid(table.invalid)
    rows: list[tuple[str, Segments]] = []
    for phone, message in table.messages.items():
        info = segments(message)
        if max_parts is not None and info.parts > max_parts:
            raise CliError(
                f"the message to {phone} is {info.parts} SMS parts, more than --max-parts"
                f" {max_parts}"
            )
        rows.append((phone, info))
    if dry_run:
        if settings.json:
            output.emit(dry_run_document(rows, table.invalid, table.duplicates))
        else:
            render_dry_run(output, rows, table.invalid, table.duplicates, shared=None)
        return
    if not table.messages:
        raise CliError("no valid recipients")
    name = _require_sender(sender)
    client = open_personalized(settings)
    phones = list(table.messages)
    run = open_journal(
        client,
        journal,
        key,
        gateway=settings.gateway,
        sender=name,
        recipients=table.messages.items(),
    )
    keyed = {} if run is None else run.send_options
    if run is not None:
        run.note(output)
    _send_and_report(
        settings,
        output,
        client=client,
        start=lambda: client.send_personalized_iter(
            list(table.messages.items()),
            sender=name,
            lifetime=lifetime,
            max_parts=max_parts,
            **keyed,
        ),
        phones=phones,
        invalid=table.invalid,
        duplicates=table.duplicates,
        save_ids=save_ids,
        wait=wait,
        timeout=timeout,
        interval=interval,
    )


# ----------------------------------------------------------------------- statuses


@app.command(cls=_Command, epilog=_EXAMPLES_STATUS)
def status(
    ctx: typer.Context,
    *,
    ids: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ID", help="Message ids (- reads them from stdin).", show_default=False
        ),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            help="Read ids from FILE, one per line or a --save-ids file (- for stdin).",
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Poll until every status is final, showing changes.")
    ] = False,
    timeout: TimeoutOption = 600.0,
    interval: IntervalOption = 2.0,
    json_flag: JsonFlag = False,
) -> None:
    """Delivery status of messages; with --wait, poll until every one is final.

    Exit code 1 when an id is unknown to the gateway, or (with --wait) not final in time.
    """
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    message_ids = _input.parse_ids(_input.gather_lines(ids or [], file, _input.ID_HEADERS))
    if not message_ids:
        raise CliError("no message ids: give them as arguments, --file FILE, or - for stdin")
    client = open_client(settings)

    async def work() -> WatchOutcome:
        if wait:
            return await _watch(client, message_ids, output, timeout, interval)
        return WatchOutcome(await client.status(message_ids), message_ids)

    outcome = _run(lambda: _closing(client, work()))
    if output.json:
        output.emit(status_document(outcome.report, outcome.ids, interrupted=outcome.interrupted))
    render_statuses(output, outcome.report, outcome.ids)
    if wait:
        render_watch_end(output, outcome)
    if outcome.error is not None:
        raise outcome.error
    if outcome.interrupted:
        _exit(ExitCode.INTERRUPTED)
    missing = [i for i in message_ids if i not in outcome.report]
    if missing or (wait and outcome.pending):
        _exit(ExitCode.INCOMPLETE)


# ----------------------------------------------------------------------- account


@app.command(cls=_Command, epilog=_EXAMPLES_BALANCE)
def balance(ctx: typer.Context, *, json_flag: JsonFlag = False) -> None:
    """The account balance."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    client = open_client(settings)
    money = _run(lambda: _closing(client, client.balance()))
    if output.json:
        output.emit(balance_document(money))
    else:
        output.print(Text(f"{money.money:,.2f} {safe(money.currency)}"))


@app.command(cls=_Command, epilog=_EXAMPLES_SENDERS)
def senders(ctx: typer.Context, *, json_flag: JsonFlag = False) -> None:
    """The sender names this account may send from (approved ones)."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    client = open_smsclub(settings, Feature.SENDERS)
    names = _run(lambda: _closing(client, client.senders()))
    if output.json:
        output.emit({"senders": names})
    elif names:
        for name in names:
            output.print(Text(safe(name)))
    else:
        output.note("no approved sender names (see smsclub sender-status)", style="yellow")


@app.command("sender-status", cls=_Command, epilog=_EXAMPLES_SENDER_STATUS)
def sender_status(
    ctx: typer.Context,
    *,
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="One sender name; all of them if omitted.")
    ] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Moderation state of sender names."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    client = open_smsclub(settings, Feature.SENDER_STATUS)
    states: dict[str, SenderState] = _run(lambda: _closing(client, client.sender_status(name)))
    if output.json:
        output.emit(
            {
                "senders": {
                    n: {"state": state.value, "usable": state.usable} for n, state in states.items()
                }
            }
        )
    else:
        output.print(senders_table(states))


@app.command("register-sender", cls=_Command, epilog=_EXAMPLES_REGISTER_SENDER)
def register_sender(
    ctx: typer.Context,
    *,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The sender name wanted.", show_default=False)
    ],
    company_type: Annotated[
        Literal["tov", "fop"],
        typer.Option(
            "--company-type",
            help="tov: a company (needs --okpo); fop: a sole trader (needs --inn).",
            show_default=False,
        ),
    ],
    company: Annotated[str, typer.Option("--company", help="Legal name.", show_default=False)],
    subject: Annotated[
        str, typer.Option("--subject", help="What the messages are for.", show_default=False)
    ],
    description: Annotated[
        str,
        typer.Option("--description", help="What the company does.", show_default=False),
    ],
    site: Annotated[
        str, typer.Option("--site", help="Website or social page.", show_default=False)
    ],
    okpo: Annotated[
        str | None,
        typer.Option("--okpo", metavar="CODE", help="EDRPOU code (for tov).", show_default=False),
    ] = None,
    inn: Annotated[
        str | None,
        typer.Option(
            "--inn", metavar="NUMBER", help="Taxpayer number (for fop).", show_default=False
        ),
    ] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Apply for a new sender name (it starts in moderation)."""
    settings = _settings(ctx, json_flag)
    output = Output(settings.json)
    if company_type == "tov":
        if not okpo:
            raise CliError("--company-type tov needs --okpo CODE (the company's EDRPOU code)")
        if inn:
            raise CliError("--inn is for --company-type fop; a tov gives --okpo")
    else:
        if not inn:
            raise CliError("--company-type fop needs --inn NUMBER (the taxpayer number)")
        if okpo:
            raise CliError("--okpo is for --company-type tov; a fop gives --inn")
    client = open_smsclub(settings, Feature.REGISTER_SENDER)
    registration = _run(
        lambda: _closing(
            client,
            client.register_sender(
                sender=name,
                company_type=company_type,
                company=company,
                subject=subject,
                description=description,
                site=site,
                okpo=okpo,
                inn=inn,
            ),
        )
    )
    if output.json:
        output.emit({"sender": registration.sender, "status": registration.status})
    else:
        output.print(Text(f"{safe(registration.sender)}: {safe(registration.status)}"))


# ----------------------------------------------------------------------- sandbox


@app.command(cls=_Command, epilog=_EXAMPLES_SANDBOX)
def sandbox(
    ctx: typer.Context,
    *,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="PORT", help="0 picks a free port.")
    ] = 8765,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to listen on.")
    ] = "127.0.0.1",
    delivery_delay: Annotated[
        float,
        typer.Option(
            "--delivery-delay", min=0, metavar="SECONDS", help="Seconds a message stays ENROUTE."
        ),
    ] = 2.0,
    json_flag: JsonFlag = False,
) -> None:
    """Run the sandbox gateway as an HTTP server on loopback until Ctrl-C.

    With --gateway smsc or smstele, serves that gateway's emulator instead.
    """
    from ._serve import serve_sandbox  # noqa: PLC0415 - only this command needs it

    settings = _settings(ctx, json_flag)
    serve_sandbox(
        Output(settings.json),
        host=host,
        port=port,
        delivery_delay=delivery_delay,
        gateway=settings.gateway,
    )


@app.command(cls=_Command, epilog=_EXAMPLES_DEMO)
def demo(
    ctx: typer.Context,
    *,
    recipients: Annotated[
        int,
        typer.Option(
            "--recipients",
            "-n",
            min=1,
            max=100_000,
            metavar="N",
            help="How many numbers to generate.",
        ),
    ] = 3000,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Seed of the generated numbers.")
    ] = 2024,
    delivery_delay: Annotated[
        float,
        typer.Option(
            "--delivery-delay",
            min=0,
            max=30,
            metavar="SECONDS",
            help="Seconds a message stays ENROUTE.",
        ),
    ] = 1.5,
    json_flag: JsonFlag = False,
) -> None:
    """A bulk send to a local sandbox over real HTTP: no token, no network, ~10 s."""
    from ._demo import run_demo  # noqa: PLC0415 - only this command needs it

    settings = _settings(ctx, json_flag)
    code = run_demo(
        Output(settings.json), recipients=recipients, seed=seed, delivery_delay=delivery_delay
    )
    _exit(code)


app.add_typer(journal_app, name="journal")


def main(args: Sequence[str] | None = None) -> None:
    """Run the command line (``smsclub`` / ``python -m smsclub_async``)."""
    app(args=args, prog_name=PROG_NAME)
