"""`python -m rnnlab.forecast ckpt=<run>/checkpoints/best.ckpt steps=12 [csv=<path>] [out=<folder>] [history=<n>]`.

Forecasts the next `steps` values after the end of the series a forecasting run trained on (or of `csv=`, the
same kind of file with newer rows), through the task's forecaster in the registry: one line per value with its
date, and `forecast.csv` and `forecast.png` written into `out=` (default: the run's `forecast/` folder).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rnnlab.errors import UserError
from rnnlab.run.arguments import key_values
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.tasks.registry import get_task, load_tasks

USAGE = ("usage: python -m rnnlab.forecast ckpt=<run>/checkpoints/best.ckpt steps=<values to forecast> "
         "[csv=<the series with newer rows>] [out=<folder; default <run>/forecast>] "
         "[history=<past values drawn; default seq_len + 2 * steps>]")
KEYS = ("ckpt", "steps", "csv", "out", "history")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    arguments = key_values(argv, KEYS, USAGE)
    if "ckpt" not in arguments or "steps" not in arguments:
        raise UserError(f"give ckpt= and steps=; {USAGE}")
    return arguments


def positive(arguments: dict[str, str], key: str) -> int | None:
    """`key`'s value as a positive integer; None when it is not given."""
    if key not in arguments:
        return None
    try:
        value = int(arguments[key])
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"{key}={arguments[key]!r} is not a positive integer; {USAGE}")
    return value


def run_folder(checkpoint: Path) -> Path:
    """The run a checkpoint belongs to: <run>/checkpoints/best.ckpt -> <run>."""
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def main(argv: list[str] | None = None) -> None:
    try:
        arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
        steps, history = positive(arguments, "steps"), positive(arguments, "history")
        checkpoint = Path(arguments["ckpt"]).expanduser()
        module = load_task(load_checkpoint(checkpoint))
        forecast = get_task(module.spec.task).forecast_function()
        if forecast is None:
            takes = sorted(name for name, task in load_tasks().items() if task.forecaster)
            raise UserError(f"this checkpoint is a {module.spec.task} model, which does not forecast a series; "
                            f"rnnlab.forecast takes {', '.join(takes)} models")
        out = Path(arguments["out"]).expanduser() if "out" in arguments else None
        lines = forecast(module, steps, arguments.get("csv"), run_folder(checkpoint), out, history)
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    for line in lines:
        print(line)
