"""The API token never leaks: not in reprs, logs, exception texts or tracebacks, not
in URLs or bodies -- only in the Authorization header -- and TLS is verified by default.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import ipaddress
import json
import logging
import ssl
import traceback
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from smsclub_async import RetryPolicy, SendResult, SmsClub, SmsClubError, TransportError
from smsclub_async.gateways import SmscClient, SmsteleClient
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, serve

from .campaign import make_recipients

LOGGERS = ("", "smsclub_async", "smsclub_async.sandbox", "httpx", "httpcore", "asyncio")
FAST = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005)


def secret() -> str:
    """A token that cannot appear anywhere by accident."""
    return f"SECRET-{uuid.uuid4().hex}-TOKEN"


def texts_of_exception(exc: BaseException, seen: set[int] | None = None) -> Iterator[str]:
    """str, repr and the whole formatted traceback (causes and contexts included),
    and the same for the errors inside a partial result."""
    seen = set() if seen is None else seen
    if id(exc) in seen:  # an error's partial holds the error itself
        return
    seen.add(id(exc))
    yield str(exc)
    yield repr(exc)
    yield "".join(traceback.format_exception(exc))
    partial = getattr(exc, "partial", None)
    if partial is not None:
        yield from texts_of_value(partial, seen)


def texts_of_value(value: Any, seen: set[int] | None = None) -> Iterator[str]:
    """Every way a result is shown to a person."""
    yield repr(value)
    yield str(value)
    html = getattr(value, "_repr_html_", None)
    if html is not None:
        yield html()
    if isinstance(value, SendResult):
        yield json.dumps(value.to_rows())
        if value.error is not None:
            yield from texts_of_exception(value.error, seen)


def texts_of_records(records: list[logging.LogRecord]) -> Iterator[str]:
    """Each record as a handler would write it, with its traceback, and its raw parts."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        yield formatter.format(record)
        yield repr(record.args)
        yield repr(record.msg)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every logger, the library's and httpx/httpcore's, at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.loopback
async def test_the_token_appears_in_no_repr_log_or_traceback_under_faults(
    all_logs: pytest.LogCaptureFixture,
) -> None:
    """Every endpoint, over loopback, with every fault kind and lost answers, plus a
    refused token: grep every repr, log record (DEBUG, httpx and httpcore included),
    exception text and traceback for either token."""
    token, refused = secret(), secret()
    faults = Faults(
        seed=4,
        error_before=0.1,
        error_after=0.1,
        drop_before=0.1,
        drop_after=0.1,
        malformed=0.1,
        truncated=0.1,
        wrong_content_type=0.1,
        latency=(0.0, 0.03),
        scope="all",
    )
    sandbox = Sandbox(
        SandboxConfig(rate_limit=None, balance=Decimal(10**6)), tokens=[token], faults=faults
    )
    outputs: list[str] = []
    errors: list[BaseException] = []

    async def attempt(call: Any) -> Any:
        try:
            value = await call
        except SmsClubError as exc:
            errors.append(exc)
            return exc.partial
        outputs.extend(texts_of_value(value))
        return value

    phones = make_recipients(600, 4).raw
    async with serve(sandbox) as server:
        async with SmsClub(
            token=token,
            base_url=server.url,
            rate_limit=1000,
            retry=FAST,
            send_retry=FAST,
            timeout=httpx.Timeout(0.02, connect=1.0),  # some latencies time out
        ) as sms:
            outputs += [repr(sms), str(sms), repr(sms.stats), repr(sms.limiter)]
            result = await attempt(sms.send(phones, "secret test", sender="VashZakaz"))
            await attempt(
                sms.send_personalized(dict.fromkeys(phones[:150], "hi"), sender="VashZakaz")
            )
            if isinstance(result, SendResult) and result.sent:
                await attempt(sms.status(result.sent))
            await attempt(sms.balance())
            await attempt(sms.senders())
            await attempt(sms.sender_status("VashZakaz"))
            await attempt(
                sms.register_sender(
                    sender="Shop",
                    company_type="fop",
                    company="C",
                    subject="S",
                    description="D",
                    site="https://example.com",
                    inn="1234567890",
                )
            )
            outputs += [repr(sms), repr(sms.stats)]
        async with SmsClub(token=refused, base_url=server.url, retry=FAST) as stranger:
            await attempt(stranger.balance())
            outputs.append(repr(stranger))

    assert errors, "no error at all: the faults did not bite, the test proves little"
    assert any(r.name.startswith("httpcore") for r in all_logs.records)
    assert any(r.name == "smsclub_async" for r in all_logs.records)
    for exc in errors:
        outputs.extend(texts_of_exception(exc))
    outputs.extend(texts_of_records(all_logs.records))
    outputs.append(all_logs.text)
    for text in outputs:
        assert token not in text
        assert refused not in text


@pytest.mark.parametrize(
    ("name", "path", "call"),
    [
        ("send", "/sms/send", lambda sms: sms.send(["380501234567"], "x", sender="S")),
        (
            "send_personalized",
            "/v2/sms/send",
            lambda sms: sms.send_personalized({"380501234567": "x"}, sender="S"),
        ),
        ("status", "/sms/status", lambda sms: sms.status(["100"])),
        ("balance", "/sms/balance", lambda sms: sms.balance()),
        ("senders", "/sms/originator", lambda sms: sms.senders()),
        ("sender_status", "/originators/stat-originators", lambda sms: sms.sender_status("S")),
        (
            "register_sender",
            "/originators/registration-originators",
            lambda sms: sms.register_sender(
                sender="S",
                company_type="tov",
                company="C",
                subject="S",
                description="D",
                site="x",
                okpo="1",
            ),
        ),
    ],
)
async def test_the_token_travels_only_in_the_authorization_header(
    name: str, path: str, call: Any
) -> None:
    """On the wire (respx), for every endpoint: the token is in ``Authorization:
    Bearer <token>`` and nowhere else -- not in the URL, the body or another header."""
    token = secret()
    with respx.mock(base_url="https://im.smsclub.mobi", assert_all_called=False) as router:
        route = router.post(path).mock(return_value=httpx.Response(500))
        async with SmsClub(token=token, retry=RetryPolicy(attempts=2, wait=False)) as sms:
            sms.send_retry = RetryPolicy(attempts=2, wait=False)
            with pytest.raises(SmsClubError):
                await call(sms)
    assert route.call_count == 2
    for sent in route.calls:
        request = sent.request
        assert request.url.scheme == "https"
        assert token not in str(request.url)
        assert token.encode() not in request.content
        assert request.headers["authorization"] == f"Bearer {token}"
        others = [v for k, v in request.headers.items() if k.lower() != "authorization"]
        assert not any(token in v for v in others)


async def test_the_owned_http_client_verifies_tls() -> None:
    """The httpx client SmsClub creates verifies certificates and host names."""
    async with SmsClub(token=secret()) as sms:
        transport = sms._http._transport  # type: ignore[union-attr]
        context = transport._pool._ssl_context
        assert context.verify_mode is ssl.CERT_REQUIRED
        assert context.check_hostname


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no authority signed."""
    pytest.importorskip("cryptography")
    from cryptography import x509  # noqa: PLC0415 - optional
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.mark.loopback
async def test_a_self_signed_gateway_is_refused_before_the_token_is_sent(tmp_path: Path) -> None:
    """Against an HTTPS server with a self-signed certificate the default client fails
    the handshake (TransportError) and the server never reads a request; trusting the
    certificate explicitly makes the same server answer (the control)."""
    cert_file, key_file = _self_signed(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    requests: list[bytes] = []
    body = b'{"success_request":{"info":{"money":"1.00","currency":"UAH"}}}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            requests.append(head)
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    try:
        async with SmsClub(token=secret(), base_url=url, retry=RetryPolicy(attempts=1)) as sms:
            with pytest.raises(TransportError) as caught:
                await sms.balance()
        assert "CERTIFICATE_VERIFY_FAILED" in "".join(traceback.format_exception(caught.value))
        assert requests == []

        trusted = ssl.create_default_context(cafile=str(cert_file))
        async with (
            httpx.AsyncClient(verify=trusted) as http,
            SmsClub(token=secret(), base_url=url, http_client=http) as sms,
        ):
            assert (await sms.balance()).money == Decimal("1.00")
        assert len(requests) == 1
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.loopback
# Regression test (fixed in 9c444ec). Was a bug: a token with a control character (here \x0b) is
# accepted by SmsClub.__init__ (it only refuses \r and \n); h11 then refuses the header with
# \"Illegal header value b'Bearer <token>'\", which the pipeline copies into the TransportError
# text and the 'retrying ...' INFO log line
@pytest.mark.parametrize("bad", ["\x0b", "\x00", "\x0c"], ids=repr)
async def test_a_malformed_token_is_refused_without_being_echoed(
    all_logs: pytest.LogCaptureFixture, bad: str
) -> None:
    """ConfigurationError at construction (not echoing the token), or at the latest a
    library error whose text, traceback and logs do not contain it."""
    token = f"SECRET{bad}{uuid.uuid4().hex}"
    texts: list[str] = []
    try:
        async with (
            serve(Sandbox(SandboxConfig(rate_limit=None))) as server,
            SmsClub(
                token=token, base_url=server.url, retry=RetryPolicy(attempts=2, wait=False)
            ) as sms,
        ):
            await sms.balance()
    except SmsClubError as exc:
        texts.extend(texts_of_exception(exc))
    texts.extend(texts_of_records(all_logs.records))
    secret_part = token.split(bad)[1]
    assert not any(secret_part in text for text in texts)


# Regression test (fixed in 9c444ec). Was a bug: a token that is not ASCII is accepted by
# SmsClub.__init__ and every request then fails with UnicodeEncodeError from httpx's header
# encoding
def test_a_non_ascii_token_is_a_configuration_error() -> None:
    """A token httpx cannot put in a header is refused when the client is made."""
    from smsclub_async import ConfigurationError  # noqa: PLC0415

    with pytest.raises(ConfigurationError):
        SmsClub(token="токен-" + uuid.uuid4().hex)


@pytest.mark.loopback
@pytest.mark.parametrize("name", ["smsc", "smstele"])
async def test_the_password_appears_in_no_repr_log_or_traceback_under_faults(
    all_logs: pytest.LogCaptureFixture, name: str
) -> None:
    """The same search for SMSC and SMStele, whose password travels in the form body:
    every fault kind on every path, lost answers, then a wrong password; the password
    is in no repr, log record, exception text or traceback."""
    from .gateways import GATEWAYS  # noqa: PLC0415 - the three-gateway helpers

    gateway = GATEWAYS[name]
    password, wrong = secret(), secret()
    faults = Faults(
        seed=4,
        error_before=0.1,
        error_after=0.1,
        drop_before=0.1,
        drop_after=0.1,
        malformed=0.1,
        truncated=0.1,
        wrong_content_type=0.1,
        latency=(0.0, 0.03),
        scope="all",
    )
    emulator = gateway.emulator(faults=faults)
    emulator.config = dataclasses.replace(emulator.config, accounts={"owner": password})
    outputs: list[str] = []
    errors: list[BaseException] = []

    async def attempt(call: Any) -> Any:
        try:
            value = await call
        except SmsClubError as exc:
            errors.append(exc)
            return exc.partial
        outputs.extend(texts_of_value(value))
        return value

    phones = [gateway.number(i) for i in range(600)]
    async with serve(emulator) as server:
        clients = [("owner", password), ("owner", wrong)]
        for login, secret_text in clients:
            client_class = SmscClient if name == "smsc" else SmsteleClient
            async with client_class(
                login,
                secret_text,
                base_url=server.url,
                rate_limit=1000,
                retry=FAST,
                send_retry=FAST,
                timeout=httpx.Timeout(0.02, connect=1.0),
            ) as sms:
                outputs += [repr(sms), str(sms), repr(sms.stats)]
                result = await attempt(sms.send(phones, "secret test", sender=gateway.sender))
                if isinstance(result, SendResult) and result.sent:
                    await attempt(sms.status(list(result.sent)[:50]))
                if name == "smsc":
                    await attempt(sms.balance())
                    await attempt(sms.senders())
                outputs.append(repr(sms))

    assert errors, "no error at all: the faults did not bite, the test proves little"
    for exc in errors:
        outputs.extend(texts_of_exception(exc))
    outputs.extend(texts_of_records(all_logs.records))
    outputs.append(all_logs.text)
    for text in outputs:
        assert password not in text
        assert wrong not in text
