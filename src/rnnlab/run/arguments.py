"""The `key=value` command lines of `rnnlab.predict`, `rnnlab.generate` and `rnnlab.forecast`."""

from __future__ import annotations

from collections.abc import Iterable

from rnnlab.errors import UserError


def key_values(argv: list[str], keys: Iterable[str], usage: str) -> dict[str, str]:
    """Each `key=value` word by its key; a word without `=` or with another key is a UserError showing `usage`."""
    known, arguments = set(keys), {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in known:
            raise UserError(f"'{arg}' is not understood; {usage}")
        arguments[key] = value
    return arguments
