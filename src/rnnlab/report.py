"""A sweep's jobs in one table, from their metrics.json files: `summary.csv` and `summary.md`.

A row per job: its overrides, status (ok, failed with the error line, or missing), best epoch, final
validation and test metrics, parameters, wall time, samples/s. Written when a sweep ends (the
`SweepSummary` Hydra callback) and by `python -m rnnlab.report <sweep folder>` for any sweep.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from rnnlab.errors import UserError

COLUMNS = ("job", "overrides", "status", "error", "best_epoch", "params", "wall_time_s", "train_samples_per_s")


def job_rows(sweep: Path) -> list[dict[str, Any]]:
    """A row per job folder (any folder holding .hydra/overrides.yaml), in job order."""
    rows = []
    for overrides_file in sorted(sweep.glob("*/.hydra/overrides.yaml"), key=lambda p: _job_key(p.parents[1].name)):
        job = overrides_file.parents[1]
        overrides = " ".join(yaml.safe_load(overrides_file.read_text()) or [])
        metrics_file = job / "metrics.json"
        if not metrics_file.is_file():
            rows.append({"job": job.name, "overrides": overrides, "status": "missing"})
            continue
        result = json.loads(metrics_file.read_text())
        row = {"job": job.name, "overrides": overrides, **{k: result.get(k) for k in COLUMNS[2:]}}
        row.update({k: v for k, v in result.get("metrics", {}).items() if k.startswith(("val/", "test/"))})
        rows.append(row)
    return rows


def _job_key(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (sys.maxsize, name)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    return "" if value is None else str(value)


def write_summary(sweep: Path) -> list[dict[str, Any]]:
    rows = job_rows(sweep)
    if not rows:
        raise UserError(f"'{sweep}' holds no jobs (no */.hydra/overrides.yaml); give a multirun folder")
    columns = list(COLUMNS) + sorted({k for row in rows for k in row if k not in COLUMNS})
    with (sweep / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(format_value(row.get(c)) for c in columns) + " |" for row in rows]
    (sweep / "summary.md").write_text("\n".join(lines) + "\n")
    return rows


class SweepSummary(Callback):
    """Hydra callback (conf/hydra/default.yaml): writes the sweep's summary when the last job ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if any(sweep.glob("*/.hydra/overrides.yaml")):
            write_summary(sweep)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) != 1 or not Path(args[0]).is_dir():
            raise UserError("usage: python -m rnnlab.report <multirun folder, e.g. logs/imdb/multiruns/<date>>")
        write_summary(Path(args[0]))
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    print((Path(args[0]) / "summary.md").read_text())


if __name__ == "__main__":
    main()
