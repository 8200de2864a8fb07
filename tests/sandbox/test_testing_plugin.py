"""The pytest plugin (``smsclub_async.testing``) in a user's test suite.

Each test writes a test file into a temporary directory and runs pytest on it in
a subprocess, as a user's project would: pytest-asyncio in strict mode (its
default, where async fixtures must be declared with ``pytest_asyncio.fixture``)
and in auto mode, with the plugin named by ``-p`` or loaded through its
``pytest11`` entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = """
import pytest

from smsclub_async import SmsClub
from smsclub_async.gateways import SmscClient, SmsteleClient
from smsclub_async.sandbox import Faults, Sandbox
from smsclub_async.sandbox.gateways import SmscSandbox, SmsteleSandbox


async def notify(sms: SmsClub, phone: str) -> None:  # the user's code
    await sms.send(phone, "Your order is ready", sender="VashZakaz")


@pytest.mark.asyncio
async def test_smsclub(smsclub_client: SmsClub, smsclub_sandbox: Sandbox) -> None:
    await notify(smsclub_client, "380989361131")
    assert [m.phone for m in smsclub_sandbox.messages()] == ["380989361131"]


@pytest.mark.asyncio
async def test_smsclub_delivery_by_the_clock(
    smsclub_client: SmsClub, smsclub_sandbox: Sandbox
) -> None:
    await smsclub_client.send("380989361131", "Hi", sender="VashZakaz")
    assert [m.status for m in smsclub_sandbox.messages()] == ["ENROUTE"]
    smsclub_sandbox.clock.advance(60)
    assert [m.status for m in smsclub_sandbox.messages()] == ["DELIVRD"]


@pytest.mark.asyncio
@pytest.mark.smsclub_sandbox(faults=Faults(error_before=1.0, scope="all"))
async def test_faults_by_marker(smsclub_client: SmsClub) -> None:
    with pytest.raises(Exception):
        await smsclub_client.balance()


@pytest.mark.asyncio
async def test_faults_by_script(smsclub_client: SmsClub, smsclub_sandbox: Sandbox) -> None:
    smsclub_sandbox.faults.script(["drop_after"])
    result = await smsclub_client.send("380989361131", "Hi", sender="VashZakaz")
    assert smsclub_sandbox.deliveries()["380989361131"] == 1
    assert result is not None


@pytest.mark.asyncio
async def test_smsc(smsc_client: SmscClient, smsc_sandbox: SmscSandbox) -> None:
    await smsc_client.send(["77011234567"], "Hi", sender="MyShop")
    assert smsc_sandbox.deliveries() == {"77011234567": 1}


@pytest.mark.asyncio
async def test_smstele(smstele_client: SmsteleClient, smstele_sandbox: SmsteleSandbox) -> None:
    await smstele_client.send(["79160001234"], "Hi", sender="MyShop")
    assert smstele_sandbox.deliveries() == {"79160001234": 1}


def test_sandboxes_are_fresh(smsclub_sandbox: Sandbox, smsc_sandbox: SmscSandbox) -> None:
    assert smsclub_sandbox.messages() == []
    assert smsc_sandbox.messages() == []
"""


def run_pytest(
    tmp_path: Path, mode: str, *, explicit: bool, source: str = USER_TESTS
) -> subprocess.CompletedProcess[str]:
    """pytest on ``source`` in ``tmp_path``, in asyncio ``mode``, warnings as errors."""
    (tmp_path / "test_user.py").write_text(source, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "addopts = --strict-markers -p no:cacheprovider -p no:looptime_plugin\n"
        "filterwarnings = error\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "pytest", "-q", str(tmp_path / "test_user.py")]
    if explicit:
        # Only what is named: no entry points, so the plugin must come from -p.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        args += ["-p", "pytest_asyncio.plugin", "-p", "smsclub_async.testing"]
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_the_fixtures_work_in_strict_and_auto_mode(tmp_path: Path, mode: str) -> None:
    """Six fixtures, a marker, a fault script: every test passes in both modes."""
    result = run_pytest(tmp_path, mode, explicit=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_unmarked_async_tests_run_in_auto_mode(tmp_path: Path) -> None:
    """Auto mode needs no ``@pytest.mark.asyncio`` on the user's tests."""
    source = USER_TESTS.replace("@pytest.mark.asyncio\n", "")
    result = run_pytest(tmp_path, "auto", explicit=True, source=source)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_entry_point_names_the_module() -> None:
    """pyproject declares the plugin under its module's name (so ``-p`` is the same plugin)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pytest11"] == {
        "smsclub_async.testing": "smsclub_async.testing"
    }


def test_the_installed_entry_point_loads_the_plugin(tmp_path: Path) -> None:
    """Installed, the plugin needs no ``-p``: the ``pytest11`` entry point loads it."""
    if not any(e.value == "smsclub_async.testing" for e in entry_points(group="pytest11")):
        pytest.skip("the package was installed before the entry point existed; reinstall it")
    result = run_pytest(tmp_path, "strict", explicit=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 passed" in result.stdout


def test_a_plugin_named_twice_is_one_plugin(tmp_path: Path) -> None:
    """``-p smsclub_async.testing`` with the entry point installed: no double registration."""
    if not any(e.value == "smsclub_async.testing" for e in entry_points(group="pytest11")):
        pytest.skip("the package was installed before the entry point existed; reinstall it")
    (tmp_path / "test_user.py").write_text(
        "def test_one(smsclub_sandbox):\n    assert smsclub_sandbox.messages() == []\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "smsclub_async.testing", "test_user.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_pytest_asyncio_the_clients_say_what_to_install(tmp_path: Path) -> None:
    """No pytest-asyncio: the sandboxes still work; a client fixture fails with the fix."""
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "pytest_asyncio.py").write_text("raise ImportError('not installed')\n")
    (tmp_path / "test_user.py").write_text(
        "def test_sandbox(smsclub_sandbox):\n"
        "    assert smsclub_sandbox.messages() == []\n"
        "\n"
        "def test_client(smsclub_client):\n"
        "    pass\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)]),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "smsclub_async.testing", "test_user.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "needs pytest-asyncio: pip install pytest-asyncio" in result.stdout
