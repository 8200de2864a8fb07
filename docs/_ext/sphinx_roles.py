"""Griffe extension: render the library's Sphinx-style roles as links in the API pages.

The docstrings are written for ``help()`` and IDEs, with reST roles such as
``:class:`SendResult``` and ``:meth:`send_iter```. mkdocstrings reads them as
Markdown, where a role would show literally. This extension rewrites each role, in
the loaded docstrings only (the sources are untouched), into an *optional*
cross-reference: a link when the target is rendered somewhere on the site, plain
code otherwise, and never a build warning. (``<autoref ... optional>`` is the tag
mkdocs-autorefs resolves after rendering; were it ever renamed, browsers would
show the plain code inside it.) A trailing reST ``::`` (a literal block
follows) becomes ``:``, and an ``Example:`` section becomes ``Examples:`` so its
doctest lines render as code.
"""

from __future__ import annotations

import contextlib
import html
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")
LITERAL_BLOCK = re.compile(r"(?m)(\S)::$")
# Griffe reads "Example:" as an admonition, where ">>>" lines would become nested
# quotes; "Examples:" is the Google section that renders them as console code.
EXAMPLE_HEADER = re.compile(r"(?m)^([ \t]*)Example:[ \t]*$")


class SphinxRoles(griffe.Extension):
    """Rewrite reST roles into optional autorefs once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Griffe 2."""
        self._rewrite_package(pkg)

    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Griffe 1."""
        self._rewrite_package(pkg)

    def _rewrite_package(self, pkg: griffe.Module) -> None:
        public = _public_paths(pkg)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = self._rewrite(obj, obj.docstring.value, public)

    def _rewrite(self, obj: griffe.Object, text: str, public: dict[str, str]) -> str:
        def replace(match: re.Match[str]) -> str:
            short, target = match.group(1) == "~", match.group(2).strip()
            title = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
            code = f"<code>{html.escape(title)}</code>"
            identifier = _identifier(obj, target.lstrip("."), public)
            if identifier is None:
                return code
            return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

        text = EXAMPLE_HEADER.sub(r"\1Examples:", text)
        return LITERAL_BLOCK.sub(r"\1:", ROLE.sub(replace, text))


def _walk(obj: griffe.Object) -> list[griffe.Object]:
    found: list[griffe.Object] = [obj]
    for member in obj.members.values():
        if not member.is_alias:
            found.extend(_walk(member))  # type: ignore[arg-type]
    return found


def _public_paths(pkg: griffe.Module) -> dict[str, str]:
    """Canonical path -> the path the API pages render it under (``smsclub_async.X``)."""
    paths: dict[str, str] = {}
    modules = [pkg, *(m for m in _walk(pkg) if m.is_module and not m.name.startswith("_"))]
    for module in modules:
        for name in module.exports or ():
            if not isinstance(name, str) or name not in module.members:
                continue
            member = module.members[name]
            canonical = member.target_path if member.is_alias else member.path  # type: ignore[union-attr]
            paths.setdefault(canonical, f"{module.path}.{name}")
    return paths


def _identifier(obj: griffe.Object, target: str, public: dict[str, str]) -> str | None:
    resolved = _resolve(obj, target)
    if resolved is None:
        return None
    # Map the longest known prefix to its public path (methods and attributes follow).
    head, rest = resolved, ""
    while head:
        if head in public:
            return public[head] + rest
        if "." not in head:
            break
        head, tail = head.rsplit(".", 1)
        rest = f".{tail}{rest}"
    return resolved


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """The full path ``target`` names in ``obj``'s scope (``SmsClub.send`` included)."""
    first, _, rest = target.partition(".")
    for name, suffix in ((target, ""), (first, f".{rest}" if rest else "")):
        # Anything griffe cannot resolve is shown as plain code, never a build error.
        with contextlib.suppress(Exception):
            return obj.resolve(name) + suffix
    return target if "." in target else None
