"""`python -m rnnlab resume=<run folder>`: run that folder's own command again, in that folder.

The run then continues from its `checkpoints/last.ckpt` (see `rnnlab.train.run`). Overrides given beside
`resume=` replace the saved ones with the same key (e.g. `trainer.max_epochs=30` to train longer).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from rnnlab.errors import UserError


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def expand_resume(argv: list[str]) -> list[str]:
    """The command line with `resume=<folder>` replaced by the folder's saved overrides and run folder."""
    given = [arg for arg in argv if arg.startswith("resume=")]
    if not given:
        return argv
    folder = Path(given[-1].partition("=")[2]).expanduser()
    saved_file = folder / ".hydra" / "overrides.yaml"
    if not saved_file.is_file():
        raise UserError(f"resume={folder} is not a run folder (no .hydra/overrides.yaml); give the 'run folder' "
                        "a run printed, e.g. logs/stock/runs/<date>_<time>")
    metrics = folder / "metrics.json"
    if metrics.is_file() and json.loads(metrics.read_text()).get("status") == "ok":
        raise UserError(f"the run in {folder} has finished; its results are in {metrics}")
    if not (folder / "checkpoints" / "last.ckpt").is_file():
        raise UserError(f"{folder} has no checkpoints/last.ckpt to continue from (it stopped before its first "
                        "epoch ended); run its command again without resume=")
    rest = [arg for arg in argv if not arg.startswith("resume=")]
    replaced = {_key(arg) for arg in rest}
    saved = [arg for arg in yaml.safe_load(saved_file.read_text()) or [] if _key(arg) not in replaced | {"resume"}]
    return [*saved, *rest, f"resume={folder}", f"hydra.run.dir={folder}"]
