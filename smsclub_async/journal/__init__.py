"""The send journal: sends that survive a crash, and keys that make a send idempotent.

A journal records, per *key* (one campaign, one web request's ``Idempotency-Key``)
and per recipient, where the send stands:

* **started**, durably, *before* the request that carries the number leaves;
* **done** as soon as the answer is read: ``sent`` (with the message id),
  ``failed`` (with why) or ``unknown`` (with why: it may have gone out).

A second call with the same key (a rerun after a crash, a client's retry) sends only
the recipients never started, and returns the combined result: earlier outcomes
from the journal, recipients started but never done in ``unknown`` with
:data:`INTERRUPTED` as the reason, and the rest sent now. Nothing is ever sent twice
through the journal.

Which journal:

* :class:`SqliteJournal` (the embedded default): one file, stdlib ``sqlite3`` in WAL
  mode, written off the event loop; processes of one host may share the file.
* :class:`RedisJournal`: many processes and hosts sharing one journal.
* :class:`MemoryJournal`: one process only; what a client uses when ``key=`` is
  given without a journal. It protects against a repeated call within the process
  (a retried coroutine), not against a crash.

Design (the same for every journal):

* **Claims carry an owner.** Each call's wrapper (:func:`journaled`) is an owner,
  named ``host:pid:random``. Claiming a chunk marks the numbers nobody started as
  started by the owner, in one transaction, and reports the others: done ones with
  their outcome, and started ones with their owner.
* **Owners hold a lease.** A claim writes "alive until now + lease" for its owner;
  while the owner has requests in flight a heartbeat renews it every third of the
  lease (30 s by default). An owner is dead once its lease ran out, or at once when
  it ran on this host and its process is gone.
* **Started by a live owner: wait. By a dead one: unknown.** Two calls with the same
  key at the same moment never both send a number: the second one waits until the
  first records the outcome, and reports it. A number started by an owner that died
  is reported ``unknown`` (:data:`INTERRUPTED`) and never sent again; check it
  (delivery reports, the gateway's cabinet) before sending it yourself.
* **``failed`` is not final.** A recipient recorded as failed certainly got nothing
  (the gateway refused it, or the request never left): a later call with the key
  claims it again and sends it. ``sent`` and ``unknown`` are never sent again.
* **Numbers refused before any request** (not a phone number) are not journaled:
  they are in ``failed`` of every call.
* **Retention.** A key's entries are kept :data:`DEFAULT_RETENTION` (7 days) after
  its last write, then dropped: by Redis itself (key expiry), by SQLite when a send
  begins, by :meth:`purge` for all. A key reused after that starts afresh.

The journal holds the recipients, not memory: claiming and recording touch one
chunk's numbers at a time, so ``send_iter`` over a million numbers stays flat.

Example:
    >>> from smsclub_async import SmsClub
    >>> from smsclub_async.journal import SqliteJournal
    >>> async def main(phones: list[str]) -> None:
    ...     async with SmsClub(token="...", journal=SqliteJournal("sends.db")) as sms:
    ...         result = await sms.send(phones, "Sale", sender="Shop", key="sale-42")
"""

from __future__ import annotations

from ._memory import MemoryJournal
from ._model import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    INTERRUPTED,
    Claim,
    Journal,
    JournalConflictError,
    JournalError,
    KeySummary,
    Outcome,
    ResultOutcomes,
    fingerprint,
    new_owner,
)
from ._redis import RedisJournal
from ._sqlite import SqliteJournal
from ._wrapper import JournaledSend, journaled

__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "INTERRUPTED",
    "Claim",
    "Journal",
    "JournalConflictError",
    "JournalError",
    "JournaledSend",
    "KeySummary",
    "MemoryJournal",
    "Outcome",
    "RedisJournal",
    "ResultOutcomes",
    "SqliteJournal",
    "fingerprint",
    "journaled",
    "new_owner",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or callable(_obj):
        _obj.__module__ = __name__
