"""run(): the blocking entry point a CLI command calls, stopped with Ctrl+C."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

pytestmark = pytest.mark.loopback

SCRIPT = """
from smsclub_async.sandbox import Sandbox, run
run(Sandbox(), "127.0.0.1", 0, ready=lambda server: print(server.url, flush=True))
print("stopped", flush=True)
"""


def test_run_serves_until_interrupted() -> None:
    """run() serves on the given address, reports its URL, and stops cleanly on SIGINT."""
    with subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        try:
            url = process.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:")
            response = httpx.post(f"{url}/sms/balance", headers={"Authorization": "Bearer t"})
            assert response.json()["success_request"]["info"]["money"] == "1000.0000"
            process.send_signal(signal.SIGINT)
            assert process.stdout.read().strip() == "stopped"
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
