"""The sandbox and the pytest plugin use the client only through its public API."""

from __future__ import annotations

import ast
from pathlib import Path

import smsclub_async

PACKAGE = Path(smsclub_async.__file__).resolve().parent

#: Private client modules the sandbox still imports, each waiting for a public name.
PENDING: set[str] = set()


def _client_imports(path: Path) -> set[str]:
    """The ``smsclub_async`` modules outside the sandbox that ``path`` imports from."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # ``from . import _x`` imports a module, ``from . import X`` a name.
            names = [target, *(f"{target}.{a.name}" for a in node.names if a.name[0] == "_")]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {
            name
            for name in names
            if name.startswith("smsclub_async")
            and not name.startswith(("smsclub_async.sandbox", "smsclub_async.testing"))
        }
    return found


def test_only_public_client_modules_are_imported() -> None:
    """``smsclub_async`` and ``smsclub_async.gateways`` names only, but the pending ones."""
    files = [*sorted((PACKAGE / "sandbox").rglob("*.py")), PACKAGE / "testing.py"]
    imported = set().union(*(_client_imports(path) for path in files))
    private = {name for name in imported if any(p.startswith("_") for p in name.split(".")[1:])}
    assert private == PENDING
    assert imported - private <= {"smsclub_async", "smsclub_async.gateways"}
