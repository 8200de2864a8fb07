"""``smsclub sandbox``: the sandbox gateway as an HTTP server until Ctrl-C."""

from __future__ import annotations

import ipaddress

from rich.text import Text

from ..sandbox import Sandbox, SandboxConfig, SandboxServer, run
from ._errors import CliError
from ._output import Output

__all__ = ["serve_sandbox"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_sandbox(output: Output, *, host: str, port: int, delivery_delay: float) -> None:
    """Serve a fresh sandbox on ``host:port`` until interrupted, then say what it saw.

    Prints the URL as soon as it listens (as a JSON line under ``--json``, so a script
    can read it), with how to point the command line or the library at it.
    """
    sandbox = Sandbox(SandboxConfig(delivery_delay=delivery_delay))
    if not _is_loopback(host):
        output.note(
            f"warning: listening on {host}, beyond loopback; the sandbox accepts any token",
            style="yellow",
        )

    def ready(server: SandboxServer) -> None:
        if output.json:
            output.emit({"url": server.url, "host": server.host, "port": server.port}, compact=True)
            return
        lines = (
            (f"SMS Club sandbox listening on {server.url}", "bold"),
            (
                "any non-empty token is accepted; senders VashZakaz, test1, test2;"
                f" numbers ending in 9 end UNDELIV; delivery after {delivery_delay:g} s",
                "",
            ),
            (f"try: SMSCLUB_TOKEN=sandbox SMSCLUB_BASE_URL={server.url} smsclub balance", ""),
            ("Ctrl-C to stop", "dim"),
        )
        for line, style in lines:
            output.out.print(Text(line, style=style), soft_wrap=True)

    try:
        run(sandbox, host, port, ready=ready)
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    stats = sandbox.stats()
    output.note(
        f"sandbox stopped after {stats.count:,} requests and {len(sandbox.messages()):,}"
        f" messages ({stats.rate_limited:,} answered 429)",
        style="",
    )
