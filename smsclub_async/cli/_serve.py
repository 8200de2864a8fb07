"""``smsclub sandbox``: the sandbox gateway (or an emulator) as an HTTP server until Ctrl-C."""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from rich.text import Text

from ..sandbox import Sandbox, SandboxConfig, SandboxServer, run
from ..sandbox.gateways import SmscConfig, SmscSandbox, SmsteleConfig, SmsteleSandbox
from ._errors import CliError
from ._gateways import GatewayName
from ._output import Output, plural

__all__ = ["serve_sandbox", "stopping_on_sigterm"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def stopping_on_sigterm() -> Iterator[list[str]]:
    """Within the block, SIGTERM stops the program like Ctrl-C (``KeyboardInterrupt``).

    ``kill``, ``docker stop`` and service managers send SIGTERM; its default action
    ends the process at once, without the "stopped after" line. Yields a list that
    receives ``"SIGTERM"`` if that is what stopped it. Outside the main thread (no
    signal handlers there) the block runs unchanged.
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        received.append("SIGTERM")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_sandbox(
    output: Output,
    *,
    host: str,
    port: int,
    delivery_delay: float,
    gateway: GatewayName = GatewayName.SMSCLUB,
) -> None:
    """Serve a fresh sandbox (or a gateway emulator) on ``host:port`` until interrupted.

    Prints the URL as soon as it listens (as a JSON line under ``--json``, so a script
    can read it), with how to point the command line or the library at it; says what
    it saw when stopped.
    """
    served, intro = _served(gateway, delivery_delay)
    if not _is_loopback(host):
        output.note(
            f"warning: listening on {host}, beyond loopback; the sandbox accepts any token",
            style="yellow",
        )

    def ready(server: SandboxServer) -> None:
        if output.json:
            output.emit({"url": server.url, "host": server.host, "port": server.port}, compact=True)
            return
        for line, style in intro(server.url):
            output.out.print(Text(line, style=style), soft_wrap=True)
        output.out.print(Text("Ctrl-C to stop", style="dim"), soft_wrap=True)

    with stopping_on_sigterm() as received:
        try:
            run(served, host, port, ready=ready)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        except KeyboardInterrupt:
            # A SIGTERM that came while the server was starting or closing.
            pass
    how = " by SIGTERM" if received else ""
    if isinstance(served, Sandbox):
        stats = served.stats()
        output.note(
            f"sandbox stopped{how} after {plural(stats.count, 'request')} and"
            f" {plural(len(served.messages()), 'message')}"
            f" ({stats.rate_limited:,} answered 429)",
            style="",
        )
    else:
        output.note(
            f"{gateway} emulator stopped{how} after {plural(len(served.requests), 'request')}"
            f" and {plural(len(served.messages()), 'message')}",
            style="",
        )


Intro = Callable[[str], tuple[tuple[str, str], ...]]


def _served(
    gateway: GatewayName, delay: float
) -> tuple[Sandbox | SmscSandbox | SmsteleSandbox, Intro]:
    """What to serve for ``--gateway``, and the lines that say how to use it."""
    if gateway is GatewayName.SMSC:
        smsc = SmscSandbox(SmscConfig(accounts=None, delivery_delay=delay))
        return smsc, lambda url: (
            (f"SMSC.kz emulator listening on {url}", "bold"),
            (f"any LOGIN:PASSWORD is accepted; delivery after {delay:g} s", ""),
            (f"try: SMSC_API_KEY=demo:demo SMSC_BASE_URL={url} smsclub --gateway smsc balance", ""),
        )
    if gateway is GatewayName.SMSTELE:
        rex = SmsteleSandbox(SmsteleConfig(accounts=None, delivery_delay=delay))
        return rex, lambda url: (
            (f"SMStele (REX400) emulator listening on {url}", "bold"),
            (f"any LOGIN:PASSWORD is accepted; delivery after {delay:g} s", ""),
            (
                f"try: SMSTELE_TOKEN=demo:demo SMSTELE_BASE_URL={url}"
                " smsclub --gateway smstele send 79160001234 -m Hi -s MyShop",
                "",
            ),
        )
    sandbox = Sandbox(SandboxConfig(delivery_delay=delay))
    return sandbox, lambda url: (
        (f"SMS Club sandbox listening on {url}", "bold"),
        (
            "any non-empty token is accepted; senders VashZakaz, test1, test2;"
            f" numbers ending in 9 end UNDELIV; delivery after {delay:g} s",
            "",
        ),
        (f"try: SMSCLUB_TOKEN=sandbox SMSCLUB_BASE_URL={url} smsclub balance", ""),
    )
