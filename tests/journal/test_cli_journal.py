"""The command line's side of the journal: the default key, ``smsclub journal show|purge``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smsclub_async.cli._app import app
from smsclub_async.cli._errors import CliError
from smsclub_async.cli._journal import derive_key, journal_app, open_journal
from smsclub_async.journal import Outcome, SqliteJournal, new_owner

PHONES = [f"38066{i:07d}" for i in range(60)]


def key_of(**changes: object) -> str:
    options: dict[str, object] = {
        "gateway": "smsclub",
        "sender": "Shop",
        "recipients": [(p, "Hi") for p in PHONES[:3]],
        **changes,
    }
    return derive_key(**options)  # type: ignore[arg-type]


def test_the_default_key_is_the_send_not_its_order() -> None:
    """Same recipients in another order: same key; any other change: another key."""
    assert key_of() == key_of(recipients=[(p, "Hi") for p in reversed(PHONES[:3])])
    assert key_of().startswith("cli-")
    others = {
        key_of(sender="Other"),
        key_of(gateway="smsc"),
        key_of(recipients=[(p, "Hi!") for p in PHONES[:3]]),
        key_of(recipients=[(p, "Hi") for p in PHONES[:4]]),
    }
    assert key_of() not in others
    assert len(others) == 4


def fill(path: Path) -> None:
    """A journal with one key: 50 sent, 5 failed, 5 started and never done."""

    async def work() -> None:
        async with SqliteJournal(path) as journal:
            await journal.begin("campaign-1", "fp")
            owner = new_owner()
            claim = await journal.claim("campaign-1", PHONES[:55], owner=owner, lease=30)
            outcomes = [Outcome(p, "sent", f"id{n}") for n, p in enumerate(PHONES[:50])]
            outcomes += [Outcome(p, "failed", "blacklisted") for p in PHONES[50:55]]
            await journal.record("campaign-1", outcomes, owner=owner, attempt=claim.attempt)
            await journal.claim("campaign-1", PHONES[55:60], owner=owner, lease=30)

    asyncio.run(work())


def test_show_summarises_each_key(tmp_path: Path) -> None:
    """A table with the key and its counts."""
    fill(tmp_path / "j.db")
    result = CliRunner().invoke(journal_app, ["show", str(tmp_path / "j.db")])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "campaign-1" in line)
    assert row.split()[-4:] == ["50", "5", "0", "5"]


def test_show_json_and_one_key_recipient_by_recipient(tmp_path: Path) -> None:
    """``--json`` gives the counts and, with ``--key``, every recipient's outcome."""
    fill(tmp_path / "j.db")
    result = CliRunner().invoke(
        journal_app, ["show", str(tmp_path / "j.db"), "--key", "campaign-1", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (key,) = document["keys"]
    assert (key["key"], key["sent"], key["failed"], key["started"]) == ("campaign-1", 50, 5, 5)
    outcomes = [row["outcome"] for row in document["recipients"]]
    assert outcomes.count("sent") == 50
    assert outcomes.count("unknown") == 5  # started, never done
    assert len(outcomes) == 60


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "{dir}/missing.db"], "no journal at"),
        (["show", "{dir}/j.db", "--key", "nope"], "no key 'nope'"),
    ],
)
def test_show_refuses_what_is_not_there(tmp_path: Path, args: list[str], message: str) -> None:
    """A missing file or key is an error, not an empty table."""
    fill(tmp_path / "j.db")
    argv = [arg.format(dir=tmp_path) for arg in args]
    with pytest.raises(Exception, match=message):
        CliRunner().invoke(journal_app, argv, catch_exceptions=False)


def test_purge_drops_old_keys(tmp_path: Path) -> None:
    """``purge --older-than 0`` drops every key; the default keeps a fresh one."""
    fill(tmp_path / "j.db")
    kept = CliRunner().invoke(journal_app, ["purge", str(tmp_path / "j.db")])
    assert "0 keys purged" in kept.output
    dropped = CliRunner().invoke(
        journal_app, ["purge", str(tmp_path / "j.db"), "--older-than", "0"]
    )
    assert "1 key purged" in dropped.output
    shown = CliRunner().invoke(journal_app, ["show", str(tmp_path / "j.db")])
    assert "no keys recorded" in shown.output


@pytest.mark.parametrize("command", ["show", "purge"])
def test_help_names_values_not_python_types(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """As the other commands: ``FILE``, not ``<file>``; examples at the end."""
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(journal_app, [command, "--help"])
    assert result.exit_code == 0
    assert "<" not in result.stdout
    assert f"smsclub journal {command} sends.db" in result.stdout.split("Examples:")[1]


def test_open_journal_attaches_a_sqlite_journal_and_picks_the_key(tmp_path: Path) -> None:
    """``--journal`` sets the client's journal; the key is ``--key`` or derived."""

    class Client:
        journal = None

    client = Client()
    run = open_journal(
        client, tmp_path / "j.db", None, gateway="smsclub", sender="Shop", recipients=[("1", "Hi")]
    )
    assert run is not None
    assert client.journal is run.journal
    assert run.send_options == {
        "key": derive_key(gateway="smsclub", sender="Shop", recipients=[("1", "Hi")])
    }
    given = open_journal(
        client, tmp_path / "j.db", " mine ", gateway="g", sender="s", recipients=[]
    )
    assert given is not None
    assert given.key == "mine"
    assert open_journal(client, None, None, gateway="g", sender="s", recipients=[]) is None


@pytest.mark.parametrize(
    ("client", "path", "key", "message"),
    [
        (object(), "j.db", None, "--journal is not available for object"),
        (None, None, "k", "--key needs --journal"),
        (None, "j.db", "  ", "--key must not be empty"),
    ],
)
def test_open_journal_refuses(
    tmp_path: Path, client: object, path: str | None, key: str | None, message: str
) -> None:
    """A client without a journal, a key without a journal, an empty key."""
    with pytest.raises(CliError, match=message):
        open_journal(
            client,
            None if path is None else tmp_path / path,
            key,
            gateway="g",
            sender="s",
            recipients=[],
        )


def test_send_with_a_journal_twice_sends_once(tmp_path: Path) -> None:
    """``smsclub send --journal``: the second run sends nothing and prints the same result."""
    runner = CliRunner()
    argv = ["--sandbox", "--json", "send", *PHONES[:30], "-m", "Hi", "-s", "VashZakaz"]
    argv += ["--journal", str(tmp_path / "sends.db")]
    first = runner.invoke(app, argv, catch_exceptions=False)
    again = runner.invoke(app, argv, catch_exceptions=False)
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert len(one["sent"]) == 30
    assert two["sent"] == one["sent"]  # a fresh sandbox each run: nothing was sent again
    assert two["summary"]["requests"] == 0
    assert "run the same command again to resume" in first.stderr
    shown = runner.invoke(app, ["journal", "show", str(tmp_path / "sends.db"), "--json"])
    (key,) = json.loads(shown.stdout)["keys"]
    assert key["key"].startswith("cli-")
    assert key["sent"] == 30


def test_a_key_without_a_journal_is_a_usage_error() -> None:
    """``--key`` alone is refused with one line and exit code 2."""
    result = CliRunner().invoke(
        app, ["--sandbox", "send", PHONES[0], "-m", "Hi", "-s", "VashZakaz", "--key", "k"]
    )
    assert result.exit_code == 2
    assert "--key needs --journal FILE" in result.stderr
