"""A sweep's jobs in one table, from their metrics.json files, and the variants compared over seeds.

`summary.csv`: a row per job: its overrides, variant (the overrides without `seed=`), seed, status (ok,
failed with the error line, or missing), best epoch, final validation and test metrics, parameters, wall
time, samples/s. `summary_variants.csv`: a row per variant, mean and std over its seeds (see
rnnlab.variants); a separate file so that each CSV is one table for `pandas.read_csv`. `summary.md`
holds both tables, `comparison.png` the curves and bars (rnnlab.comparison). Written when a sweep ends
(the `SweepSummary` Hydra callback) and by `python -m rnnlab.report <sweep folder>` for any sweep;
`python -m rnnlab.report --rerun-failed <sweep folder>` first re-runs the jobs that failed or are missing.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig

from rnnlab.errors import UserError
from rnnlab.private_apis import HydraCallback
from rnnlab.sweeps.comparison import write_comparison
from rnnlab.sweeps.variants import aggregate, seed_of, variant_of

JOB_COLUMNS = ("job", "overrides", "variant", "seed")
RESULT_COLUMNS = ("status", "error", "best_epoch", "params", "wall_time_s", "train_samples_per_s")  # from metrics.json
COLUMNS = JOB_COLUMNS + RESULT_COLUMNS
USAGE = "usage: python -m rnnlab.report [--rerun-failed] <multirun folder, e.g. logs/imdb/multiruns/<date>>"


def job_rows(sweep: Path) -> list[dict[str, Any]]:
    """A row per job folder (any folder holding .hydra/overrides.yaml), in job order."""
    rows = []
    for overrides_file in sorted(sweep.glob("*/.hydra/overrides.yaml"), key=lambda p: _job_key(p.parents[1].name)):
        job = overrides_file.parents[1]
        overrides = [str(item) for item in yaml.safe_load(overrides_file.read_text()) or []]
        row = {"job": job.name, "overrides": " ".join(overrides), "variant": variant_of(overrides),
               "seed": seed_of(overrides) or configured_seed(job)}
        metrics_file = job / "metrics.json"
        if not metrics_file.is_file():
            rows.append({**row, "status": "missing"})
            continue
        result = json.loads(metrics_file.read_text())
        row.update({k: result.get(k) for k in RESULT_COLUMNS})
        row.update({k: v for k, v in result.get("metrics", {}).items() if k.startswith(("val/", "test/"))})
        rows.append(row)
    return rows


def configured_seed(job: Path) -> str:
    """The seed a job ran with when its overrides do not name one (the config's default)."""
    config = job / ".hydra" / "config.yaml"
    seed = (yaml.safe_load(config.read_text()) or {}).get("seed") if config.is_file() else None
    return "" if seed is None else str(seed)


def _job_key(name: str) -> tuple[tuple[int, str], ...]:
    """Natural order: 2 before 10, and `<date>_2` before `<date>_10` (Optuna searches that resume)."""
    parts = [part for part in re.split(r"(\d+)", name) if part]
    return tuple((int(part), "") if part.isdigit() else (sys.maxsize, part) for part in parts)


def format_value(value: Any) -> str:
    """One rule for every number: 4 significant digits, whole numbers from 1,000 on with thousands separators."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: list[dict[str, Any]], columns: list[str], cells: dict[str, list[str]] | None = None) -> str:
    """A Markdown table; `cells` gives ready-made text per column (e.g. "0.1234 ± 0.0050")."""
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for index, row in enumerate(rows):
        values = [cells[c][index] if cells and c in cells else format_value(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def mean_std(row: dict[str, Any], column: str) -> str:
    mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
    if mean is None:
        return ""
    return format_value(mean) + (f" ± {format_value(std)}" if std is not None else "")


def variants_markdown(variants: list[dict[str, Any]], aggregated: list[str]) -> str:
    columns = ["variant", "ok / jobs", "seeds", "params", *aggregated]
    cells = {"ok / jobs": [f"{row['ok']} / {row['jobs']}" for row in variants],
             **{column: [mean_std(row, column) for row in variants] for column in aggregated}}
    return markdown_table(variants, columns, cells)


def write_summary(sweep: Path) -> list[dict[str, Any]]:
    """summary.csv, summary_variants.csv, summary.md and comparison.png of a sweep folder; returns the job rows."""
    rows = job_rows(sweep)
    if not rows:
        raise UserError(f"'{sweep}' holds no jobs (no */.hydra/overrides.yaml); give a multirun folder")
    columns = list(COLUMNS) + sorted({k for row in rows for k in row if k not in COLUMNS})
    write_csv(sweep / "summary.csv", rows, columns)
    variants = aggregate(rows)
    aggregated = [column for column in columns[len(JOB_COLUMNS):] if f"{column}_mean" in variants[0]]
    variant_columns = ["variant", "ok", "jobs", "seeds", "params"]
    variant_columns += [f"{column}_{stat}" for column in aggregated for stat in ("mean", "std")]
    write_csv(sweep / "summary_variants.csv", variants, variant_columns)
    (sweep / "summary.md").write_text(
        "## Jobs\n\n" + markdown_table(rows, [c for c in columns if c != "variant"])
        + "\n## Variants (mean ± std over seeds)\n\n" + variants_markdown(variants, aggregated)
    )
    write_comparison(sweep, rows, variants)
    return rows


class SweepSummary(HydraCallback):
    """Hydra callback (conf/hydra/default.yaml): writes the sweep's summary when the last job ends."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if any(sweep.glob("*/.hydra/overrides.yaml")):
            write_summary(sweep)
            print_written(sweep)


def print_written(sweep: Path) -> None:
    """Where a sweep's summary went (one line each, not wrapped, so that each path copies whole)."""
    print(f"sweep summary of {sweep}:")
    for name in ("summary.md", "summary.csv", "summary_variants.csv", "comparison.png"):
        if (sweep / name).is_file():
            print(f"  {sweep / name}")
    boards = sweep / "tensorboard"  # the jobs' events, one folder per variant (rnnlab/run/board.py)
    print(f"  tensorboard --logdir {boards if boards.is_dir() else sweep}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if any(arg in ("-h", "--help") for arg in args):
        print(f"{USAGE}\n\n{__doc__}")
        return
    rerun = "--rerun-failed" in args
    folders = [arg for arg in args if arg != "--rerun-failed"]
    try:
        if len(folders) != 1 or folders[0].startswith("-"):
            raise UserError(USAGE)
        sweep = Path(folders[0])
        if not sweep.is_dir():
            raise UserError(f"'{sweep}' is not a folder; {USAGE}")
        if rerun:
            from rnnlab.sweeps.rerun import rerun_failed  # only this command needs it

            rerun_failed(sweep)
        write_summary(sweep)
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    print((sweep / "summary.md").read_text())
    print_written(sweep)


if __name__ == "__main__":
    main()
