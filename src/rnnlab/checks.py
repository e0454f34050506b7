"""Checks of config values that raise a one-line `UserError` naming the key and what is allowed."""

from __future__ import annotations

from typing import Any

from rnnlab.errors import UserError


def choice(key: str, value: Any, allowed: tuple[Any, ...]) -> None:
    if value not in allowed:
        names = ", ".join(str(a) for a in allowed)
        raise UserError(f"{key}={value!r} is not valid; choose one of {names}")


def at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise UserError(f"{key}={value} is too small; use a value >= {low}")


def fraction(key: str, value: float, *, inclusive_high: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if inclusive_high else 0.0 <= value < 1.0
    if not ok:
        high = "1]" if inclusive_high else "1)"
        raise UserError(f"{key}={value} is out of range; use a value in [0, {high}")
