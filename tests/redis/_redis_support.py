"""A throw-away redis-server for the tests, and what the tests share.

Imported by the conftest and the test modules (a conftest is not meant to be
imported).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from smsclub_async.redis import RedisLimiter

# The tests' limiters reserve at most this far ahead. A freshly started Redis grants
# no slot for horizon + 1 s of its uptime (see smsclub_async._redis_script), so the
# session server is used only once it has been up that long.
TEST_HORIZON = 0.5

_STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback TCP port that nothing listens on (at the time of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """The redis-server path, or skip (fail under CI) when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = (
            "redis-server is not on PATH; install it with scripts/ensure-redis-server.sh"
            " (apt-get install redis-server)"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{reason}: CI must have it", pytrace=False)
        pytest.skip(reason)
    return binary


class RedisServer:
    """A throw-away redis-server bound to 127.0.0.1, without persistence.

    ``start`` and ``stop`` can be called again to restart it on the same port,
    which is how the tests simulate a Redis crash.
    """

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while True:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise RuntimeError(f"redis-server on port {self.port} exited with {code}")
            try:
                with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING")
            time.sleep(0.02)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server by its pid: SIGTERM, or SIGKILL to simulate a crash."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def uptime(self) -> int:
        """``uptime_in_seconds`` from INFO."""
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            info: dict[str, Any] = client.info("server")
            return int(info["uptime_in_seconds"])

    def wait_out_quarantine(self, horizon: float = TEST_HORIZON) -> None:
        """Wait until a freshly started server grants slots at once (uptime > horizon + 1)."""
        while self.uptime() < horizon + 1:
            time.sleep(0.05)


LimiterFactory = Callable[..., RedisLimiter]
"""What the ``make_limiter`` fixture returns: keyword options -> a RedisLimiter."""
