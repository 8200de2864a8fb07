"""The SMSC.kz emulator's answers in the four documented formats (pure, no I/O).

``fmt`` picks the shape of every answer, success and error alike: 0 (the
documented default) a line of ``name = value`` pairs, 1 comma-separated numbers
(what SMSC's official PHP and Python libraries ask for and split on commas),
2 XML, 3 JSON (what this project's client asks for).

The reference (``smsc-kz-http-api.ru.txt``) spells out the error shapes and the
sender-name answers. For ``send``, ``status`` and ``balance`` it is silent; the
shapes here follow what the official libraries (``smsc_api.php``,
``smsc_api.py``) read, which pins fmt=1 field by field:

* ``send`` -> ``<id>,<cnt>[,<cost>[,<balance>]]`` (``cost`` = 0, 2, 3), or
  ``<cost>,<cnt>`` for ``cost=1``; an error ``<id>,-<code>`` (``0,-<code>``
  without an id);
* ``status`` -> ``<status>,<last_timestamp>,<err>``; for an HLR lookup the
  eight network fields follow; ``all=1`` appends ``send_timestamp, phone,
  cost, sender_id, status_name, message`` and ``all=2`` puts ``country,
  operator, region`` before ``sender_id`` (the PHP library re-joins the text,
  which may hold commas, by splitting into 9 / 12 fields, and recognises an
  HLR answer by ``"HLR"`` in the sender field at index 14 / 17);
* a list request (``id=1,2,``) -> one line per message, ``\\n``-separated (the
  PHP library splits a multi-status answer on newlines), each prefixed with
  ``<id>,<phone>,`` (``all=0``) or ``<id>,`` (``all`` 1 or 2, whose lines
  carry the phone already): the library comments say the id (and phone) are
  added, and only the front keeps the trailing text last;
* ``balance`` -> ``<balance>`` (``cur=1``: ``<balance>,<currency>``).

fmt 0 and 2 carry the same fields by the names fmt 3 uses (fmt 0 with
``Status`` and ``check_time`` as the documented example
``Status = 1, check_time = 10.10.2010 10:10:10`` has them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import msgspec

__all__ = [
    "OPERATOR_FIELDS",
    "STATUS_NAMES",
    "Answer",
    "StatusEntry",
    "balance_answer",
    "cost_answer",
    "error_answer",
    "ok_answer",
    "send_answer",
    "sender_added_answer",
    "senders_answer",
    "status_answer",
]

JSON_TYPE = "application/json"
XML_TYPE = "text/xml"
TEXT_TYPE = "text/plain"

#: Status code -> the gateway's status name (``status_name`` of ``all=1``).
STATUS_NAMES: Mapping[int, str] = {
    -3: "Сообщение не найдено",
    -1: "Ожидает отправки",
    0: "Передано оператору",
    1: "Доставлено",
    2: "Прочитано",
    3: "Просрочено",
    20: "Невозможно доставить",
    22: "Неверный номер",
    23: "Запрещено",
    24: "Недостаточно средств",
    25: "Недоступный номер",
}

OPERATOR_FIELDS = (
    "mega_step",
    "mega_int",
    "bee_step",
    "motiv",
    "motiv_step",
    "motiv_int",
    "sber_step",
    "sber_int",
    "winmob_step",
    "volnamob_step",
    "mts_step",
    "mts_int",
    "tele2_step",
    "tele2",
    "tele2_int",
    "ua_reg",
    "ua_int",
    "by_reg",
    "by_int",
)

_HLR_FIELDS = ("imsi", "msc", "mcc", "mnc", "cn", "net", "rcn", "rnet")


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer's text and media type, before it is encoded in the request's charset."""

    text: str
    media_type: str


def _json(value: Any) -> Answer:
    return Answer(msgspec.json.encode(value).decode("utf-8"), JSON_TYPE)


def _xml(text: str) -> Answer:
    return Answer(text, XML_TYPE)


def _plain(text: str) -> Answer:
    return Answer(text, TEXT_TYPE)


def _elements(fields: Sequence[tuple[str, Any]]) -> str:
    return "".join(f"<{name}>{escape(str(value))}</{name}>\n" for name, value in fields)


def _pick(fmt: str, *, json: Any, xml: str, plain: str, csv: str) -> Answer:
    if fmt == "3":
        return _json(json)
    if fmt == "2":
        return _xml(xml)
    return _plain(csv if fmt == "1" else plain)


def number(message_id: str) -> int | str:
    """A numeric id as a JSON number, anything else as the string it is."""
    return int(message_id) if message_id.isdigit() else message_id


def _date(stamp: int) -> str:
    return time.strftime("%d.%m.%Y %H:%M:%S", time.gmtime(stamp))


# ----------------------------------------------------------------- errors


def error_answer(code: int, text: str, fmt: str, message_id: str | None = None) -> Answer:
    """An error in the documented shape of ``fmt`` (0, 1, 2 or 3); send errors carry the id.

    Example:
        >>> error_answer(2, "authorise error", "1").text
        '0,-2'
    """
    if fmt == "3":
        body: dict[str, Any] = {"error": text, "error_code": code}
        if message_id is not None:
            body["id"] = number(message_id)
        return _json(body)
    if fmt == "2":
        extra = f"<id>{escape(message_id)}</id>\n" if message_id is not None else ""
        return _xml(
            f"<result>\n<error>{escape(text)}</error>\n<error_code>{code}</error_code>\n"
            f"{extra}</result>"
        )
    if fmt == "1":
        return _plain(f"{message_id or 0},-{code}")
    suffix = f", ID - {message_id}" if message_id is not None else ""
    return _plain(f"ERROR = {code} ({text}){suffix}")


# ----------------------------------------------------------------- send.php


def send_answer(
    fmt: str,
    *,
    message_id: str,
    count: int,
    cost: str | None = None,
    balance: str | None = None,
    phones: Sequence[Mapping[str, str]] | None = None,
) -> Answer:
    """A send's answer: id and SMS count, with ``cost`` (cost=2, 3), ``balance`` (cost=3).

    ``phones`` (``op=1``) lists each number's ``phone, mccmnc, cost, status, error``:
    a JSON array ``phones``, an XML ``<phones>`` element, and in fmt 0/1 one
    line per number after the first (the reference is silent on the text shapes).
    """
    extra: list[tuple[str, str]] = []
    if cost is not None:
        extra.append(("cost", cost))
    if balance is not None:
        extra.append(("balance", balance))
    if fmt == "3":
        body: dict[str, Any] = {"id": number(message_id), "cnt": count, **dict(extra)}
        if phones is not None:
            body["phones"] = list(phones)
        return _json(body)
    rows = list(phones or ())
    if fmt == "2":
        listing = ""
        if phones is not None:
            listing = (
                "<phones>\n"
                + "".join(f"<phone>\n{_elements(list(row.items()))}</phone>\n" for row in rows)
                + "</phones>\n"
            )
        return _xml(
            f"<result>\n<cnt>{count}</cnt>\n<id>{escape(message_id)}</id>\n"
            f"{_elements(extra)}{listing}</result>"
        )
    if fmt == "1":
        lines = [",".join([message_id, str(count), *(value for _, value in extra)])]
        lines += [",".join(row.values()) for row in rows]
        return _plain("\n".join(lines))
    head = f"OK - {count} SMS, ID - {message_id}" + "".join(
        f", {name.upper()} - {value}" for name, value in extra
    )
    lines = [head] + [", ".join(f"{k} = {v}" for k, v in row.items()) for row in rows]
    return _plain("\n".join(lines))


def cost_answer(fmt: str, *, cost: str, count: int) -> Answer:
    """``cost=1``: what the send would cost, and how many SMS (fmt 1: ``<cost>,<cnt>``)."""
    return _pick(
        fmt,
        json={"cost": cost, "cnt": count},
        xml=f"<result>\n<cost>{cost}</cost>\n<cnt>{count}</cnt>\n</result>",
        plain=f"{cost} ({count} SMS)",
        csv=f"{cost},{count}",
    )


# ----------------------------------------------------------------- status.php


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEntry:
    """One (id, phone) in a status answer; ``level`` is the request's ``all`` (0, 1, 2).

    ``network`` is an HLR lookup's ``imsi, msc, mcc, mnc, cn, net, rcn, rnet``
    (``None`` for an SMS); ``found=False`` is an unknown pair in a list (-3).
    """

    id: str
    phone: str
    status: int
    last_timestamp: int = 0
    err: int = 0
    level: int = 0
    send_timestamp: int = 0
    cost: str = "0"
    sender_id: str = ""
    message: str = ""
    type: int = 0
    country: str = ""
    operator: str = ""
    region: str = ""
    network: tuple[str, ...] | None = None
    found: bool = True

    def fields(self) -> list[tuple[str, Any]]:
        """The entry's fields in fmt 3 order, by their JSON names."""
        if not self.found:
            return [("status", self.status), ("err", self.err)]
        fields: list[tuple[str, Any]] = [
            ("status", self.status),
            ("last_date", _date(self.last_timestamp)),
            ("last_timestamp", self.last_timestamp),
            ("err", self.err),
        ]
        if self.network is not None:
            fields += list(zip(_HLR_FIELDS, self.network, strict=True))
        if self.level >= 1:
            fields += [
                ("send_date", _date(self.send_timestamp)),
                ("send_timestamp", self.send_timestamp),
                ("phone", self.phone),
                ("cost", self.cost),
                ("sender_id", self.sender_id),
                ("status_name", STATUS_NAMES.get(self.status, "")),
                ("message", self.message),
                ("type", self.type),
            ]
        if self.level >= 2:
            fields += [
                ("country", self.country),
                ("operator", self.operator),
                ("region", self.region),
            ]
        return fields

    def csv(self) -> list[str]:
        """The fmt 1 fields, in the order the official libraries index them."""
        values = [str(self.status), str(self.last_timestamp), str(self.err)]
        if not self.found:
            return values
        if self.network is not None:
            values += list(self.network)
        if self.level >= 1:
            values += [str(self.send_timestamp), self.phone, self.cost]
            if self.level >= 2:
                values += [self.country, self.operator, self.region]
            values += [self.sender_id, STATUS_NAMES.get(self.status, ""), self.message]
        return values

    def plain(self) -> str:
        """The fmt 0 line: ``Status = 1, check_time = ...`` and the rest by name.

        As in the documented example, ``err`` shows only when there is one; the
        text, which may hold commas, comes last as in fmt 1.
        """
        fields = dict(self.fields())
        message = fields.pop("message", None)
        pairs = []
        for name, value in fields.items():
            if name in {"last_timestamp", "send_timestamp", "type"}:
                continue
            if name == "err" and value == 0 and self.network is None:
                continue
            label = {"status": "Status", "last_date": "check_time"}.get(name, name)
            pairs.append(f"{label} = {value}")
        if message is not None:
            pairs.append(f"message = {message}")
        return ", ".join(pairs)


def status_answer(fmt: str, entries: Sequence[StatusEntry], *, many: bool) -> Answer:
    """One entry's status, or a list request's (``many``) one per (id, phone)."""
    if not many:
        (entry,) = entries
        return _pick(
            fmt,
            json=dict(entry.fields()),
            xml=f"<result>\n{_elements(entry.fields())}</result>",
            plain=entry.plain(),
            csv=",".join(entry.csv()),
        )

    def prefix(entry: StatusEntry) -> list[tuple[str, Any]]:
        head: list[tuple[str, Any]] = [("id", number(entry.id))]
        if entry.level == 0 or not entry.found:
            head.append(("phone", entry.phone))
        return head

    return _pick(
        fmt,
        json=[{"id": number(e.id), "phone": e.phone, **dict(e.fields())} for e in entries],
        xml="<list>\n"
        + "".join(f"<result>\n{_elements(prefix(e) + e.fields())}</result>\n" for e in entries)
        + "</list>",
        plain="\n".join(
            ", ".join([*(f"{k} = {v}" for k, v in prefix(e)), e.plain()]) for e in entries
        ),
        csv="\n".join(",".join([*(str(v) for _, v in prefix(e)), *e.csv()]) for e in entries),
    )


# ----------------------------------------------------------------- balance.php


def balance_answer(fmt: str, balance: str, currency: str | None) -> Answer:
    """The balance, with the currency when ``cur=1`` asked for it."""
    fields = [("balance", balance)] + ([("currency", currency)] if currency else [])
    return _pick(
        fmt,
        json=dict(fields),
        xml=f"<result>\n{_elements(fields)}</result>",
        plain=", ".join(f"{v}" for _, v in fields),
        csv=",".join(v for _, v in fields),
    )


# ----------------------------------------------------------------- senders.php


def sender_added_answer(fmt: str, sender_id: int) -> Answer:
    """``add=1``: the new name's id, as documented."""
    return _pick(
        fmt,
        json={"sender": sender_id},
        xml=f"<sender>\n<id>{sender_id}</id>\n</sender>",
        plain=f"ID = {sender_id}",
        csv=str(sender_id),
    )


def ok_answer(fmt: str) -> Answer:
    """change, send code, confirm and delete: ``OK`` as documented."""
    return _pick(fmt, json={"result": "OK"}, xml="<result>OK</result>", plain="OK", csv="OK")


def senders_answer(
    senders: Mapping[str, tuple[int, int]], fmt: str, *, all_names: bool, operators: bool
) -> Answer:
    """A sender-name listing in the documented shape of ``fmt``, ``all`` and ``operators``.

    Without ``all``, only the names allowed for use (status 1) are listed. With
    ``operators``, each operator's registration status is "2" (allowed by the
    operator) for allowed names and "0" (awaiting registration) for the rest.
    """
    rows = [
        (name, status, sender_id)
        for name, (status, sender_id) in senders.items()
        if all_names or operators or status == 1
    ]
    if operators:
        per = {name: "2" if status == 1 else "0" for name, status, _ in rows}
        attrs = {n: " ".join(f'{f}="{per[n]}"' for f in OPERATOR_FIELDS) for n, _, _ in rows}
        pairs = {n: ", ".join(f"{f} = {per[n]}" for f in OPERATOR_FIELDS) for n, _, _ in rows}
        return _pick(
            fmt,
            json=[
                {"sender": n, **dict.fromkeys(OPERATOR_FIELDS, per[n]), "id": str(i)}
                for n, _, i in rows
            ],
            xml="<list>\n"
            + "".join(f'<sender {attrs[n]} id="{i}">{escape(n)}</sender>\n' for n, _, i in rows)
            + "</list>",
            plain="\n".join(f"name = {n}, {pairs[n]}, id = {i}" for n, _, i in rows),
            csv="\n".join(f"{n},{i}" for n, _, i in rows),
        )
    if all_names:
        return _pick(
            fmt,
            json=[{"sender": n, "status": s, "id": i} for n, s, i in rows],
            xml="<list>\n"
            + "".join(
                f'<sender status={quoteattr(str(s))} id="{i}">{escape(n)}</sender>\n'
                for n, s, i in rows
            )
            + "</list>",
            plain="\n".join(f"name = {n}, status = {s}, id = {i}" for n, s, i in rows),
            csv="\n".join(f"{n},{s},{i}" for n, s, i in rows),
        )
    return _pick(
        fmt,
        json=[{"sender": n, "id": i} for n, _, i in rows],
        xml="<list>\n"
        + "".join(f'<sender id="{i}">{escape(n)}</sender>\n' for n, _, i in rows)
        + "</list>",
        plain="\n".join(f"name = {n}, id = {i}" for n, _, i in rows),
        csv="\n".join(f"{n},{i}" for n, _, i in rows),
    )
