"""A hostile gateway on loopback: just enough HTTP/1.1 (h11) to misbehave on purpose.

It speaks each gateway's send, balance and status answers (SMS Club's JSON API,
SMSC.kz's ``/sys/*.php`` with ``fmt=3``, REX400's ``/cgibin/*``), written here from
the documents and independent of the project's emulators, and spoils them on
request:

* **transport faults**, one per request from a script (``faults``):
  ``reset_before`` (RST as soon as the request's first bytes arrive, nothing
  read or processed), ``reset_after`` (read and processed, then RST, no answer),
  ``reset_mid_body`` (processed, headers and half the body, then RST),
  ``truncated`` (processed, a Content-Length longer than the body, then FIN),
  ``close_delimited`` (processed, no Content-Length, the body ends at FIN: valid
  HTTP/1.0-style framing), ``gzip`` (processed, a gzip body: valid),
  ``gzip_bomb`` (processed, a small gzip body that inflates to ``bomb_size``
  bytes), ``slow`` (processed, the body one byte every ``slow_interval``),
  ``echo_401`` / ``echo_500`` / ``echo_200`` (not processed, or for 200 processed,
  a body that quotes the request's Authorization header, query and body);
* **odd 200 shapes** for every processed send (``shape``), per gateway.

It records every request it saw, whether it processed it, and every message it
accepted under the key the client must report it by (SMS Club's id,
``"<id>:<phone>"`` for the others): :meth:`HostileServer.record`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import itertools
import json
import socket
import struct
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h11

from tests.reliability.gateways import Record

__all__ = [
    "ECHO_FAULTS",
    "SHAPES",
    "TRANSPORT_FAULTS",
    "HostileServer",
    "Seen",
    "gzip_bomb",
]

#: Transport faults; the first four lose or spoil the answer of a processed request
#: (all but reset_before), the next two are valid framings the client must read.
TRANSPORT_FAULTS = (
    "reset_before",
    "reset_after",
    "reset_mid_body",
    "truncated",
    "close_delimited",
    "gzip",
)
ECHO_FAULTS = ("echo_401", "echo_500", "echo_200")

#: Odd but plausible 200 answers of an accepted send, per gateway.
SHAPES: dict[str, tuple[str, ...]] = {
    "smsclub": (
        "add_info_list",  # PHP's empty array for an empty map
        "add_info_null",
        "info_null_value",  # one id whose phone is null
        "info_true_value",  # one id whose phone is true
        "repeated_ids",  # ids numbered per request: 1, 2, 3... in every answer
    ),
    "smsc": (
        "phones_null_entry",  # a null among the per-phone reports
        "huge_cnt",  # "cnt": "1e600000"
        "repeated_ids",  # the same request id in every answer
    ),
    "smstele": (
        "messages_null_entry",
        "huge_cnt",
        "repeated_ids",
    ),
}

SEND_PATHS = {
    "/sms/send": "smsclub",
    "/sys/send.php": "smsc",
    "/cgibin/sendsms": "smstele",
    "/cgi-bin/sendsms": "smstele",
}
BALANCE_PATHS = {"/sms/balance": "smsclub", "/sys/balance.php": "smsc"}
STATUS_PATHS = {
    "/sms/status": "smsclub",
    "/sys/status.php": "smsc",
    "/cgibin/status": "smstele",
    "/cgi-bin/status": "smstele",
}


@functools.cache
def gzip_bomb(size: int) -> bytes:
    """A gzip body of ``size`` bytes of JSON whitespace, built without holding it."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b" " * (1 << 20)
    parts = [packer.compress(b"{")]
    for _ in range(size >> 20):
        parts.append(packer.compress(block))
    parts.append(packer.compress(b'"balance": "1.00"}'))
    parts.append(packer.flush())
    return b"".join(parts)


@dataclass(slots=True)
class Seen:
    """One request the server saw.

    Attributes:
        number: 1 for the first request, in arrival order.
        fault: what the server did to it (``None``: answered normally).
        method, path, query, headers, body: the request (empty for ``reset_before``).
        processed: it counted (its messages, if any, are delivered).
    """

    number: int
    fault: str | None
    method: str = ""
    path: str = ""
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    processed: bool = False


class HostileServer:
    """A misbehaving gateway on 127.0.0.1; use as ``async with HostileServer(...) as s``.

    It keeps the gateways' documented duplicate rules (an identical send is refused:
    SMS Club 453, SMSC error 9; REX400 has none), which the clients rely on.

    Args:
        faults: the transport fault of each request in arrival order (``None``:
            normal); requests past the end are normal. Or a callable
            ``(number, path) -> fault``.
        shape: the odd 200 shape of every processed send answer (see :data:`SHAPES`).
        balance: the money/balance value of balance answers.
        bomb_size: how far ``gzip_bomb`` inflates.
        slow_interval: seconds between the bytes of a ``slow`` body.
        huge: the ``cnt`` of the ``huge_cnt`` shape.
    """

    def __init__(
        self,
        faults: Iterable[str | None] | Any = (),
        *,
        shape: str | None = None,
        balance: str = "100.00",
        bomb_size: int = 64 << 20,
        slow_interval: float = 0.3,
        huge: str = "1e600000",
    ) -> None:
        self._faults = faults if callable(faults) else list(faults)
        self.shape = shape
        self.balance = balance
        self.bomb_size = bomb_size
        self.slow_interval = slow_interval
        self.huge = huge
        self.seen: list[Seen] = []
        self.messages: list[tuple[str, str]] = []  # (key, phone) per accepted message
        self.unreadable: set[str] = set()  # phones an odd shape left without a readable id
        self._next_id = itertools.count(1000)
        self._sends: set[tuple[str, bytes]] = set()  # identical send requests seen
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def record(self, account: str = "") -> Record:
        """What the server accepted (every account: the server keeps one record)."""
        del account
        return Record(
            dict(self.messages), Counter(phone for _, phone in self.messages), self.messages
        )

    @property
    def open_connections(self) -> int:
        """Connections the server still serves."""
        return len(self._tasks)

    # ----------------------------------------------------------------- serving

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fault(self, number: int, path: str) -> str | None:
        if callable(self._faults):
            return self._faults(number, path)  # type: ignore[no-any-return]
        return self._faults[number - 1] if number <= len(self._faults) else None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
        try:
            while True:
                first = await reader.read(65536)
                if not first:
                    return
                number = len(self.seen) + 1
                seen = Seen(number, None)
                self.seen.append(seen)
                if self._fault(number, "") == "reset_before":
                    seen.fault = "reset_before"
                    _reset(writer)
                    return
                conn.receive_data(first)
                request = await _read_request(conn, reader)
                if request is None:
                    return
                method, target, headers, body = request
                parts = urllib.parse.urlsplit(target)
                seen.method, seen.path, seen.query = method, parts.path, parts.query
                seen.headers, seen.body = headers, body
                seen.fault = self._fault(number, parts.path)
                keep = await self._respond(conn, writer, seen)
                if not keep:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, seen: Seen
    ) -> bool:
        fault = seen.fault
        if fault in ("echo_401", "echo_500"):
            # JSON in every gateway's error shape at once (Yii2's message, SMSC's
            # error/error_code, REX400's error/description), quoting the request.
            echo = _echo(seen).decode()
            status = int(fault[-3:])
            payload = {"name": "Unauthorized", "message": echo, "code": 0, "status": status}
            payload |= {"error": echo, "error_code": 2, "description": echo}
            return await _answer(conn, writer, status, _json(payload))
        status, body = self._process(seen)
        if fault == "echo_200":
            return await _answer(conn, writer, 200, _echo(seen), "text/html")
        if fault == "reset_after":
            _reset(writer)
            return False
        if fault == "reset_mid_body":
            writer.write(_head(200, len(body)) + body[: len(body) // 2])
            await writer.drain()
            _reset(writer)
            return False
        if fault == "truncated":
            writer.write(_head(200, len(body) + 100) + body)
            await writer.drain()
            return False
        if fault == "close_delimited":
            writer.write(
                b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n"
                % status
                + body
            )
            await writer.drain()
            return False
        if fault == "gzip":
            packed = gzip.compress(body)
            return await _answer(conn, writer, status, packed, encoding="gzip")
        if fault == "gzip_bomb":
            return await _answer(conn, writer, status, gzip_bomb(self.bomb_size), encoding="gzip")
        if fault == "slow":
            conn_head = _head(status, len(body))
            writer.write(conn_head)
            for byte in body:
                await writer.drain()
                await asyncio.sleep(self.slow_interval)
                writer.write(bytes([byte]))
            await writer.drain()
            return False
        return await _answer(conn, writer, status, body)

    # ----------------------------------------------------------------- the gateway

    def _process(self, seen: Seen) -> tuple[int, bytes]:
        """Accept the request as its gateway would; the answer's status and body."""
        seen.processed = True
        path = seen.path
        if path in SEND_PATHS:
            gateway = SEND_PATHS[path]
            # The documented duplicate rules (SMS Club 453, SMSC error 9); REX400 has none.
            key = (gateway, seen.query.encode() + b"?" + seen.body)
            if gateway != "smstele" and key in self._sends:
                seen.processed = False
                if gateway == "smsclub":
                    body = {"name": "Duplicate", "message": "Duplication", "code": 0, "status": 453}
                    return 453, _json(body)
                return 200, _json({"error": "duplicate request, wait a minute", "error_code": 9})
            self._sends.add(key)
            return 200, self._send(gateway, seen)
        if path in BALANCE_PATHS:
            if BALANCE_PATHS[path] == "smsclub":
                info = {"money": self.balance, "currency": "UAH"}
                return 200, _json({"success_request": {"info": info}})
            return 200, _json({"balance": self.balance, "currency": "KZT"})
        if path in STATUS_PATHS:
            return 200, self._status(STATUS_PATHS[path], seen)
        seen.processed = False
        return 404, b"Not Found"

    def _send(self, gateway: str, seen: Seen) -> bytes:
        shape = self.shape
        if gateway == "smsclub":
            phones = [str(p) for p in json.loads(seen.body)["phone"]]
            counter = itertools.count(1) if shape == "repeated_ids" else self._next_id
            ids = [str(next(counter)) for _ in phones]
            self.messages.extend(zip(ids, phones, strict=True))
            info: dict[str, Any] = dict(zip(ids, phones, strict=True))
            add_info: Any = {}
            if shape == "add_info_list":
                add_info = []
            elif shape == "add_info_null":
                add_info = None
            elif shape == "info_null_value":
                info[ids[0]] = None
                self.unreadable.add(phones[0])
            elif shape == "info_true_value":
                info[ids[0]] = True
                self.unreadable.add(phones[0])
            return _json({"success_request": {"info": info, "add_info": add_info}})
        form = _form(seen)
        phones = [p.strip() for p in form.get("phones", "").split(",") if p.strip()]
        if gateway == "smsc":
            request_id = "7" if shape == "repeated_ids" else str(next(self._next_id))
            self.messages.extend((f"{request_id}:{p}", p) for p in phones)
            reports: list[Any] = [
                {"phone": p, "mccmnc": "40102", "cost": "10.00", "status": "0", "error": "0"}
                for p in phones
            ]
            if shape == "phones_null_entry":
                reports[0] = None
                self.unreadable.add(phones[0])
            cnt: Any = self.huge if shape == "huge_cnt" else len(phones)
            answer = {"id": int(request_id), "cnt": cnt, "cost": "1.00", "balance": "9.00"}
            return _json({**answer, "phones": reports})
        request_id = "1" if shape == "repeated_ids" else form.get("id") or str(next(self._next_id))
        self.messages.extend((f"{request_id}:{p}", p) for p in phones)
        entries: list[Any] = [
            {
                "id": request_id,
                "phone": p,
                "status": "-99",
                "error": "-99",
                "cnt": "1",
                "operator": "mMTS",
                "region": "77",
                "mnc": "01",
            }
            for p in phones
        ]
        if shape == "messages_null_entry":
            entries[0] = None
            self.unreadable.add(phones[0])
        cnt_t = self.huge if shape == "huge_cnt" else str(len(phones))
        return _json({"id": request_id, "cnt": cnt_t, "messages": entries})

    def _status(self, gateway: str, seen: Seen) -> bytes:
        if gateway == "smsclub":
            ids = json.loads(seen.body).get("id_sms", [])
            return _json({"success_request": {"info": dict.fromkeys(ids, "DELIVRD")}})
        form = _form(seen)
        if gateway == "smsc":
            return _json({"status": 1, "last_timestamp": 1700000000, "err": 0})
        return _json(
            {
                "results": [
                    {
                        "id": form.get("id", ""),
                        "phone": form.get("phone", ""),
                        "status": "-99",
                        "err": "-99",
                        "stat": "DELIVRD",
                    }
                ]
            }
        )


# --------------------------------------------------------------------- helpers


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _form(seen: Seen) -> dict[str, str]:
    merged = dict(urllib.parse.parse_qsl(seen.query, keep_blank_values=True))
    content_type = seen.headers.get("content-type", "")
    if "form-urlencoded" in content_type or not content_type:
        merged.update(urllib.parse.parse_qsl(seen.body.decode("latin-1"), keep_blank_values=True))
    return merged


def _echo(seen: Seen) -> bytes:
    """A body that quotes everything secret the request carried."""
    lines = [f"{name}: {value}" for name, value in seen.headers.items()]
    lines.append(f"query: {seen.query}")
    lines.append(f"body: {seen.body.decode('latin-1')}")
    return ("You sent:\n" + "\n".join(lines)).encode("utf-8", "replace")


def _head(status: int, length: int) -> bytes:
    return b"HTTP/1.1 %d OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % (
        status,
        length,
    )


async def _answer(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    encoding: str | None = None,
) -> bool:
    headers = [("content-type", content_type), ("content-length", str(len(body)))]
    if encoding:
        headers.append(("content-encoding", encoding))
    data = conn.send(h11.Response(status_code=status, headers=headers))
    data = (data or b"") + (conn.send(h11.Data(data=body)) or b"")
    data += conn.send(h11.EndOfMessage()) or b""
    writer.write(data)
    await writer.drain()
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


async def _read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[str, str, dict[str, str], bytes] | None:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data:
                return None
            continue
        if isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert request is not None
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in request.headers}
            return request.method.decode(), request.target.decode(), headers, bytes(body)
        elif isinstance(event, h11.ConnectionClosed):
            return None


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
