"""Form parameters as the form gateways read them: query string, urlencoded and multipart bodies.

SMSC.kz and REX400 take every parameter from the query string *or* a POST body,
and the body may be ``application/x-www-form-urlencoded`` (curl ``-d``, Python's
``urlencode``) or ``multipart/form-data`` (curl ``-F``, PHP curl given an array,
which is what SMSC's official PHP library posts when it attaches files). Texts
are bytes in the ``charset`` the request names; decoding them is the caller's
choice of ``encoding``.

Pure functions, no I/O.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from email.message import Message

__all__ = ["form_pairs", "multipart_pairs"]


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """``"multipart/form-data; boundary=x"`` -> ``("multipart/form-data", {"boundary": "x"})``."""
    message = Message()
    message["content-type"] = value
    params = {
        str(name).lower(): str(param)
        for name, param in message.get_params(header="content-type", failobj=[])[1:]
    }
    return message.get_content_type(), params


def _disposition(value: str) -> dict[str, str]:
    message = Message()
    message["content-disposition"] = value
    return {
        str(name).lower(): str(param)
        for name, param in message.get_params(header="content-disposition", failobj=[])[1:]
    }


def multipart_pairs(body: bytes, boundary: str, encoding: str) -> Iterator[tuple[str, str]]:
    """The (name, value) fields of a ``multipart/form-data`` body, in order.

    A part's own ``charset`` (in its ``Content-Type``) wins over ``encoding``; file
    parts (with a ``filename``) are skipped: the emulators read no files. A body
    that does not parse yields what parsed before the damage.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    for section in sections[1:]:
        if section.startswith(b"--"):
            return  # the closing delimiter
        head, separator, content = section.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        content = content.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            header, colon, value = line.partition(":")
            if colon:
                headers[header.strip().lower()] = value.strip()
        disposition = _disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None or "filename" in disposition:
            continue
        _, content_params = _header_params(headers.get("content-type", "text/plain"))
        charset = content_params.get("charset", encoding)
        try:
            value = content.decode(charset, errors="replace")
        except LookupError:
            value = content.decode(encoding, errors="replace")
        yield name, value


def form_pairs(
    query: str, headers: Mapping[str, str], body: bytes, encoding: str
) -> Iterator[tuple[str, str]]:
    """Every parameter of a request, the query string's first, then the body's.

    Args:
        query: the raw query string, still percent-encoded.
        headers: header names in lower case -> value.
        body: the raw body.
        encoding: how percent-encoded (and multipart) bytes are decoded.
    """
    yield from urllib.parse.parse_qsl(
        query, keep_blank_values=True, encoding=encoding, errors="replace"
    )
    if not body:
        return
    content_type, params = _header_params(
        headers.get("content-type", "application/x-www-form-urlencoded")
    )
    if content_type == "multipart/form-data" and params.get("boundary"):
        yield from multipart_pairs(body, params["boundary"], encoding)
    elif content_type == "application/x-www-form-urlencoded":
        yield from urllib.parse.parse_qsl(
            body.decode("latin-1"), keep_blank_values=True, encoding=encoding, errors="replace"
        )
