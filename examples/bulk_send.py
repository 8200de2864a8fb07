"""A bulk send for background work: progress as it goes, and a cancel that loses nothing.

``SmsClub.send_iter`` yields one result per finished request (at most 100
recipients each), so a long job can report progress and keep the message ids as
they arrive. When the job is cancelled (Ctrl-C, a deadline, a worker shutting
down), the requests in flight are cancelled too, and what they achieved is not lost:

* results already yielded are in the job's ``result``;
* results that finished but were not yielded yet, and those of requests cancelled
  in flight, are in ``stream.unclaimed`` and are merged into ``result`` as well.

A request cancelled after it reached the gateway may have been processed: its
phones are in ``result.unknown`` ("maybe sent"), never in ``failed``, so a retry
job will not text them twice. Recipients the job never got to are in none of the
maps. The cancellation itself is re-raised, as asyncio expects: the caller reads
``job.result`` afterwards.

Try it (a 2,000-number send to an in-process sandbox; press Ctrl-C, or stop it
with a deadline)::

    python examples/bulk_send.py
    python examples/bulk_send.py --stop-after 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterable, Callable, Iterable, Sized
from dataclasses import dataclass, field
from typing import TextIO

from smsclub_async import SendResult, SmsClub
from smsclub_async.sandbox import Faults, Sandbox, SandboxConfig, SandboxTransport


@dataclass
class Progress:
    """Where a bulk send stands; passed to the progress callback after each request.

    Attributes:
        done: recipients accounted for so far (sent, failed or unknown).
        total: recipients expected, when the input had a length.
        requests: requests finished so far.
        last: the result of the request that just finished.
    """

    done: int = 0
    total: int | None = None
    requests: int = 0
    last: SendResult = field(default_factory=SendResult)


ProgressCallback = Callable[[Progress, SendResult], None]


class BulkSend:
    """One bulk send, run as a job: ``await job.run()``; read ``job.result`` after.

    ``job.result`` grows as requests finish and is complete once ``run`` returns or
    raises, whether it finished, failed or was cancelled.
    """

    def __init__(
        self,
        sms: SmsClub,
        phones: Iterable[str] | AsyncIterable[str],
        message: str,
        *,
        sender: str,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.sms = sms
        self.phones = phones
        self.message = message
        self.sender = sender
        self.on_progress = on_progress
        self.result = SendResult()
        self.progress = Progress(total=_length(phones))
        self.cancelled = False

    async def run(self) -> SendResult:
        """Send to every phone, reporting progress; on cancel, keep what was sent."""
        stream = self.sms.send_iter(self.phones, self.message, sender=self.sender)
        try:
            async with stream:  # on any early exit, in-flight requests are cancelled
                async for part in stream:
                    self._record(part, report=True)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            # After the stream closed: the results nobody got to read.
            for part in stream.unclaimed:
                self._record(part, report=False)
            stream.unclaimed.clear()
        return self.result

    def _record(self, part: SendResult, *, report: bool) -> None:
        self.result.merge(part)
        self.progress.done += part.recipients
        self.progress.requests += 1
        self.progress.last = part
        if report and self.on_progress is not None:
            self.on_progress(self.progress, part)


def _length(phones: object) -> int | None:
    return len(phones) if isinstance(phones, Sized) else None


def print_progress(progress: Progress, part: SendResult, *, out: TextIO | None = None) -> None:
    """A progress line per finished request."""
    of = f"/{progress.total}" if progress.total is not None else ""
    print(
        f"{progress.done}{of} recipients: +{len(part.sent)} sent, {len(part.failed)} failed,"
        f" {len(part.unknown)} unknown",
        file=out or sys.stderr,
    )


def summary(job: BulkSend, *, out: TextIO | None = None) -> None:
    """What happened, with every message id: the record to keep, even after a cancel."""
    out = out or sys.stdout
    result = job.result
    state = "cancelled" if job.cancelled else "finished"
    left = None if job.progress.total is None else job.progress.total - result.recipients
    untouched = f", {left} not attempted" if job.cancelled and left else ""
    print(
        f"{state}: {len(result.sent)} sent, {len(result.failed)} failed,"
        f" {len(result.unknown)} unknown (maybe sent: do not resend){untouched}",
        file=out,
    )
    for message_id, phone in result.sent.items():
        print(f"{message_id},{phone}", file=out)


# ------------------------------------------------------------------ a demo on the sandbox


def demo_phones(count: int) -> list[str]:
    return [f"38098{i:07d}" for i in range(count)]


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--stop-after", type=float, default=None, help="a deadline, in seconds")
    args = parser.parse_args(argv)

    # Slow answers (50-150 ms) so there is time to cancel mid-way; no rate limit
    # in the sandbox and a high one in the client, so the demo is quick.
    sandbox = Sandbox(
        SandboxConfig(rate_limit=None, balance=10**6),
        faults=Faults(latency=(0.05, 0.15)),
    )
    async with SmsClub(
        token="bulk-demo", transport=SandboxTransport(sandbox), rate_limit=100, max_concurrency=4
    ) as sms:
        job = BulkSend(
            sms,
            demo_phones(args.recipients),
            "Sale today",
            sender="VashZakaz",
            on_progress=print_progress,
        )
        try:
            async with asyncio.timeout(args.stop_after):
                await job.run()
        except TimeoutError:
            print("deadline reached: stopped", file=sys.stderr)
        finally:
            summary(job)  # runs on Ctrl-C too: asyncio.run cancels main() first
    return 0 if job.result.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
