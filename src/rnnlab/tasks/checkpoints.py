"""Reading rnnlab checkpoints safely: tensors and plain data only, a format version, one-line errors.

`torch.load(weights_only=True)` refuses to unpickle anything but tensors and plain containers, so a
checkpoint from an untrusted source cannot run code. Every checkpoint a run writes carries
`rnnlab_format`; a reader refuses foreign files and files from a newer, incompatible rnnlab.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from rnnlab.errors import UserError

FORMAT = 1  # raise when what a checkpoint holds changes incompatibly
UNREADABLE = (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError)


def stamp(checkpoint: dict[str, Any]) -> None:
    checkpoint["rnnlab_format"] = FORMAT


def read_checkpoint(path: Path, hint: str = "give a run's checkpoints/best.ckpt") -> dict[str, Any]:
    """The checkpoint at `path`, or a UserError naming what is wrong with it and `hint`."""
    if not path.is_file():
        raise UserError(f"checkpoint '{path}' does not exist; {hint}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except UNREADABLE as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise UserError(f"checkpoint '{path}' is not a readable rnnlab checkpoint, it is damaged or holds "
                        f"something else ({reason}); {hint}") from None
    version = checkpoint.get("rnnlab_format") if isinstance(checkpoint, dict) else None
    if version is None and isinstance(checkpoint, dict) and "spec" in checkpoint.get("hyper_parameters", {}):
        version = 0  # written before checkpoints carried a format; they hold what format 1 holds
    if version is None:
        raise UserError(f"checkpoint '{path}' was not written by rnnlab; {hint}")
    if version > FORMAT:
        raise UserError(f"checkpoint '{path}' was written by a newer rnnlab (format {version}, this one reads "
                        f"{FORMAT}); upgrade rnnlab")
    return checkpoint
