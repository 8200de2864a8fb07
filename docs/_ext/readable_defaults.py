"""Griffe extension: show a parameter's default as its value, not a private constant's name.

``retry: RetryPolicy = DEFAULT_READ_RETRY`` tells a reader nothing when
``DEFAULT_READ_RETRY`` is not on any page; ``retry: RetryPolicy = RetryPolicy()``
does. For every function and method of the package, a default that names a
module-level constant (``DEFAULT_*`` and the like, upper case) defined in the package
is replaced, in the loaded API only, by the expression assigned to that constant when
it is short enough to read in a signature. The sources are untouched.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import griffe

CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
MAX_LENGTH = 60
"""Longer values keep the constant's name (a signature is no place for them)."""


class ReadableDefaults(griffe.Extension):
    """Replace constant names in parameter defaults with their values."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Griffe 2."""
        self._rewrite(pkg, set())

    def on_package_loaded(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Griffe 1."""
        self._rewrite(pkg, set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        for member in list(obj.members.values()):
            if member.is_alias:
                continue
            if isinstance(member, griffe.Function):
                self._function(member)
            elif isinstance(member, griffe.Module | griffe.Class):
                self._rewrite(member, seen)

    def _function(self, function: griffe.Function) -> None:
        for parameter in function.parameters:
            name = str(parameter.default) if parameter.default is not None else ""
            if not CONSTANT.match(name):
                continue
            value = _constant_value(function, name)
            if value is not None and len(str(value)) <= MAX_LENGTH:
                parameter.default = value


def _constant_value(function: griffe.Function, name: str) -> Any:
    """The value expression of constant ``name`` as seen from ``function``'s module."""
    module = function.module
    member = module.members.get(name)
    if member is None:
        return None
    with contextlib.suppress(griffe.AliasResolutionError, griffe.CyclicAliasError):
        if member.is_alias:
            member = member.final_target
    if not isinstance(member, griffe.Attribute):
        return None
    return member.value
