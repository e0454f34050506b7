"""Check the command line before Hydra runs, so that a typo costs one clear line, not a traceback.

Hydra reports composition errors over several lines with internal details; here the same overrides are
composed once up front (a fraction of a second) and any error is turned into `what is wrong; how to fix`.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import fields, is_dataclass
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.errors import HydraException
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from rnnlab.errors import UserError
from rnnlab.run import config as schema

CONF_DIR = Path(__file__).parents[1] / "conf"
GROUPS = ("data", "model", "trainer", "logger", "callbacks", "recipe", "experiment", "debug", "hparams_search")
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


def check_composes(overrides: list[str]) -> tuple[str, int]:
    """Compose the config with these overrides; raise a one-line UserError if Hydra cannot.

    Returns the log folder and the free space it needs (paths.log_dir, paths.min_free_mb).
    """
    try:
        with initialize_config_module(version_base="1.3", config_module="rnnlab.conf"):
            cfg = compose("config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        raise UserError(describe(error)) from None
    schema.check_keys(cfg)
    return str(cfg.paths.log_dir), int(cfg.paths.min_free_mb)


def check_writable(folder: Path, min_free_mb: int, key: str) -> None:
    """Fail before any work when runs could not be written: no permission, or a (nearly) full disk."""
    existing = folder.expanduser().absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write runs to '{folder}' ('{existing}' is not a writable folder); "
                        f"set {key}=<a folder you can write to>")
    free_mb = shutil.disk_usage(existing).free // 2**20
    if free_mb < min_free_mb:
        raise UserError(f"the disk holding '{folder}' has {free_mb} MB free, below paths.min_free_mb={min_free_mb}; "
                        f"free some space or set {key}=<a folder on another disk>")


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
    node = schema.section_schemas().get(match.group(1)) if match else None
    return [item.name for item in fields(node)] if node is not None and is_dataclass(node) else []


def preflight(argv: list[str]) -> None:
    """Run the checks that fit this command line (sweeps are checked choice by choice only)."""
    overrides = overrides_of(argv)
    check_group_choices(overrides)
    sweeping = any(flag in argv for flag in ("-m", "--multirun")) or any(
        "," in value or any(mark in value for mark in SWEEP_MARKS) for value in overrides
    )
    if any(arg.startswith(("--cfg", "-c", "--help", "-h", "--info")) for arg in argv):
        return
    log_dir, min_free_mb = check_composes(overrides) if not sweeping else (
        _given(argv, "paths.log_dir", schema.PathsConfig.log_dir),
        int(_given(argv, "paths.min_free_mb", str(schema.PathsConfig.min_free_mb))))
    check_writable(Path(log_dir), min_free_mb, "paths.log_dir")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        if _given(argv, key, ""):
            check_writable(Path(_given(argv, key, "")), 0, key)


def _given(argv: list[str], key: str, default: str) -> str:
    values = [arg.partition("=")[2] for arg in argv if arg.startswith(f"{key}=")]
    return values[-1] if values else default
