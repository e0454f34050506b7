"""What a run leaves when it stops before the end: interrupted (Ctrl-C, SIGTERM) or failed (e.g. NaN loss).

The checkpoint of the last finished epoch (`checkpoints/last.ckpt`, written at every epoch end) stays;
`metrics.json` records the status, the epochs measured so far and how to continue.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.utilities.exceptions import SIGTERMException

from rnnlab.errors import UserError
from rnnlab.run.callbacks import MetricHistory
from rnnlab.run.results import write_json_atomic

INTERRUPTIONS = (KeyboardInterrupt, SIGTERMException)


def last_checkpoint(run_dir: Path) -> Path | None:
    path = run_dir / "checkpoints" / "last.ckpt"
    return path if path.is_file() else None


class StopRecorder(pl.Callback):
    """On an interruption or a user-caused failure during training, write metrics.json and say what to do."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, (*INTERRUPTIONS, UserError)) or not trainer.is_global_zero:
            return
        history = next(c for c in trainer.callbacks if isinstance(c, MetricHistory)).epochs
        last = last_checkpoint(self.run_dir)
        resume = f"python -m rnnlab resume={self.run_dir}"
        status = "failed" if isinstance(exception, UserError) else "interrupted"
        record: dict[str, Any] = {"status": status, "epochs_trained": len(history), "history": history,
                                  "checkpoints": {"last": str(last) if last else None}}
        if status == "failed":
            record["error"] = str(exception)
        else:
            record["resume"] = resume if last else None
        write_json_atomic(self.run_dir / "metrics.json", record)
        if status == "interrupted":
            kept = (f"the {len(history)} finished epoch(s) are in {last}; continue with: {resume}" if last
                    else "no epoch had finished, so there is nothing to continue; run the command again")
            print(f"rnnlab: interrupted during epoch {trainer.current_epoch}; {kept}", file=sys.stderr)
