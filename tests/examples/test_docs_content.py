"""What the docs promise a newcomer, checked against the code and the measurements.

Snippets run in ``test_docs_snippets.py``; this file checks the prose that cannot
run: every exception is documented, the aiolimiter figures are the benchmark's,
the API reference is configured to show inherited public methods, and the
packaging ships what the README promises (licence, URLs, the FastAPI extra).
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

import smsclub_async
from smsclub_async import errors

from ._load import load_example

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def public_exceptions() -> list[str]:
    """Every exception of smsclub_async.errors (the top level re-exports some of them)."""
    top = {
        name
        for name in smsclub_async.__all__
        if isinstance(getattr(smsclub_async, name), type)
        and issubclass(getattr(smsclub_async, name), BaseException)
    }
    assert top <= set(errors.__all__)
    return sorted(errors.__all__)


@pytest.mark.parametrize("name", sorted(set(public_exceptions())))
def test_errors_page_lists_every_public_exception(name: str) -> None:
    """In the tree and with a row saying when it is raised and what to do."""
    page = (DOCS / "errors.md").read_text(encoding="utf-8")
    tree = page.split("```text", 1)[1].split("```", 1)[0]
    assert re.search(rf"(^|[─└├] ){name}\b", tree.strip(), re.M), f"{name} not in the tree"
    if name not in ("SmsClubError", "APIError"):
        assert re.search(rf"^\|[^|]*`{name}`", page, re.M), f"{name} has no row in the table"


def aiolimiter_runs() -> dict[str, object]:
    results = json.loads((REPO / "benchmarks" / "results-2026-11-23.json").read_text())
    for section in results:
        peers = section.get("peers") if isinstance(section, dict) else None
        if isinstance(peers, dict) and "gather_aiolimiter" in peers:
            return {"ours": peers["ours"], "aiolimiter": peers["gather_aiolimiter"]}
    raise AssertionError("no aiolimiter peer in the benchmark results")


def test_why_not_aiolimiter_quotes_the_measured_figures() -> None:
    """The section's numbers are those of the benchmark run it cites, nothing else."""
    page = (DOCS / "rate-limits-and-retries.md").read_text(encoding="utf-8")
    section = page.split("## Why not aiolimiter", 1)[1].split("\n## ", 1)[0]
    measured = aiolimiter_runs()
    theirs = measured["aiolimiter"]
    ours = measured["ours"]
    assert isinstance(theirs, dict)
    assert isinstance(ours, dict)
    runs = theirs["runs"]
    assert ", ".join(str(run["rate_limited"]) for run in runs) in section
    assert ", ".join(f"{run['resent']:,}" for run in runs) in section
    assert {run["densest_window"] for run in runs} == {18}
    assert "18 (every run)" in section
    wall = theirs["wall_s"]
    assert f"{wall['median']:.1f} s ({wall['min']:.1f}-{wall['max']:.1f})" in section
    assert f"{ours['wall_s']['median']:.2f} s" in section
    assert ours["rate_limited"] == 0
    assert "AsyncLimiter(9, 1)" in section


def test_reference_is_configured_for_inherited_methods() -> None:
    """mkdocstrings: inherited members on (wait_for_final, track, aclose... live on a
    private base), bases hidden on the pages whose classes have private bases, and
    defaults rewritten to values by the docs' griffe extension."""
    config = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert "inherited_members: true" in config
    assert "readable_defaults.py:ReadableDefaults" in config
    for page in ("client.md", "gateways.md"):
        assert "show_bases: false" in (DOCS / "reference" / page).read_text(encoding="utf-8")


@pytest.mark.slow
def test_built_reference_shows_every_public_method(tmp_path: Path) -> None:
    """Build the site (as ``mkdocs build --strict``) and read the SmsClub section:
    the methods the README uses are there, no private base is named, and no default
    shows as an unexported constant."""
    pytest.importorskip("mkdocstrings_handlers.python")
    from mkdocs.commands.build import build  # noqa: PLC0415 - only with the [docs] extra
    from mkdocs.config import load_config  # noqa: PLC0415

    config = load_config(str(REPO / "mkdocs.yml"), site_dir=str(tmp_path / "site"))
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
    page = (tmp_path / "site" / "reference" / "client" / "index.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    section = text.split("SmsClub", 1)[1]
    for method in ("wait_for_final", "track", "aclose", "is_closed", "stats", "send_iter"):
        assert f"smsclub_async.SmsClub.{method}" in page or f"SmsClub.{method}" in page, method
    assert "ClientLifecycle" not in text
    assert "DEFAULT_READ_RETRY" not in section
    assert "DEFAULT_SEND_RETRY" not in section


def test_packaging_ships_the_licence_urls_and_the_fastapi_extra() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert "MIT License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    assert set(project["urls"]) >= {"Homepage", "Documentation", "Changelog", "Issues"}
    extras = project["optional-dependencies"]
    assert any(req.startswith("uvicorn") for req in extras["fastapi"])
    assert any(req.startswith("fastapi") for req in extras["fastapi"])
    assert any("fastapi" in req for req in extras["dev"] if req.startswith("smsclub-async["))


def test_the_aiohttp_example_listens_on_loopback_only() -> None:
    """``python examples/aiohttp_app.py`` serves endpoints that send SMS on your
    account, without authentication: never on every interface."""
    example = load_example("aiohttp_app")
    assert example.HOST == "127.0.0.1"
    source = (REPO / "examples" / "aiohttp_app.py").read_text(encoding="utf-8")
    assert "run_app(create_app(), host=HOST" in source
    assert "0.0.0.0" not in source
