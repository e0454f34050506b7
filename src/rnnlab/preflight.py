"""Check the command line before Hydra runs, so that a typo costs one clear line, not a traceback.

Hydra reports composition errors over several lines with internal details; here the same overrides are
composed once up front (a fraction of a second) and any error is turned into `what is wrong; how to fix`.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from rnnlab import config as schema
from rnnlab.errors import UserError

CONF_DIR = Path(__file__).parent / "conf"
GROUPS = ("data", "model", "trainer", "logger", "callbacks", "recipe", "experiment", "debug")
SWEEP_MARKS = "()*[]$"


def overrides_of(argv: list[str]) -> list[str]:
    """The `key=value` overrides of a command line (flags and Hydra's own settings left out)."""
    return [arg for arg in argv if not arg.startswith("-") and not arg.startswith(("hydra.", "hydra/"))]


def check_group_choices(overrides: list[str]) -> None:
    """`model=lstmm` -> "model 'lstmm' not found; choose one of ..." (sweeps `model=rnn,gru` too)."""
    for override in overrides:
        key, sep, value = override.lstrip("+~").partition("=")
        if not sep or key not in GROUPS or any(mark in value for mark in SWEEP_MARKS):
            continue
        available = sorted(path.stem for path in (CONF_DIR / key).glob("*.yaml"))
        for choice in value.split(","):
            if choice != "null" and choice not in available:
                raise UserError(f"{key} '{choice}' not found; choose one of {', '.join(available)}")


def check_composes(overrides: list[str]) -> None:
    """Compose the config with these overrides; raise a one-line UserError if Hydra cannot."""
    try:
        with initialize_config_module(version_base="1.3", config_module="rnnlab.conf"):
            compose("config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise UserError(describe(error)) from None


def describe(error: Exception) -> str:
    cause = error.__cause__ if isinstance(error.__cause__, OmegaConfBaseException) else error
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    key = getattr(cause, "full_key", None)
    if isinstance(cause, (ConfigKeyError, AttributeError)) and key:
        parent, _, _ = key.rpartition(".")
        known = _schema_keys(str(cause))
        hint = f"; {parent or 'the config'} has: {', '.join(known)}" if known else ""
        return f"'{key}' is not a config key{hint} (python -m rnnlab --cfg job shows them all)"
    if isinstance(cause, ValidationError) and key:
        return f"{key}: {first_line}; give a value of the right type"
    lines = [line.strip() for line in str(error).splitlines() if line.strip() and "HYDRA_FULL_ERROR" not in line]
    return "; ".join(lines)


def _schema_keys(message: str) -> list[str]:
    """The keys of the schema dataclass named in an OmegaConf message (`object_type=ModelConfig`)."""
    match = re.search(r"object_type=(\w+)", message)
    node = getattr(schema, match.group(1), None) if match else None
    return [item.name for item in fields(node)] if node is not None and is_dataclass(node) else []


def preflight(argv: list[str]) -> None:
    """Run the checks that fit this command line (sweeps are checked choice by choice only)."""
    overrides = overrides_of(argv)
    check_group_choices(overrides)
    sweeping = any(flag in argv for flag in ("-m", "--multirun")) or any(
        "," in value or any(mark in value for mark in SWEEP_MARKS) for value in overrides
    )
    if not sweeping and not any(arg.startswith(("--cfg", "-c", "--help", "-h", "--info")) for arg in argv):
        check_composes(overrides)
