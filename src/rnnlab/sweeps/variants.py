"""A sweep's jobs grouped into variants (the same overrides but for `seed=`), aggregated over seeds.

`summary_variants.csv` has one row per variant: `variant`, `ok` and `jobs` (finished and all jobs),
`seeds`, `params`, then `<column>_mean` and `<column>_std` for the best epoch, wall time, samples/s
and every final val/ and test/ metric. The std is the sample standard deviation over the variant's
finished jobs, empty when fewer than two finished.
"""

from __future__ import annotations

import statistics
from typing import Any

SEED_KEYS = ("seed", "+seed", "++seed")
BASE = "(base config)"  # the variant of a sweep over seeds only
ALL = "all jobs"        # the label of a sweep's only variant
AGGREGATED = ("best_epoch", "wall_time_s", "train_samples_per_s")


def variant_of(overrides: list[str]) -> str:
    """`model=gru seed=2 data.seq_len=40` -> `model=gru data.seq_len=40`."""
    kept = [item for item in overrides if item.partition("=")[0] not in SEED_KEYS]
    return " ".join(kept) or BASE


def seed_of(overrides: list[str]) -> str:
    return next((item.partition("=")[2] for item in overrides if item.partition("=")[0] in SEED_KEYS), "")


def aggregated_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns averaged over seeds: the run's cost and every val/ and test/ metric, in a stable order."""
    metrics = sorted({key for row in rows for key in row if key.startswith(("val/", "test/"))})
    return [*AGGREGATED, *metrics]


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per variant, in the order the variants first appear among the jobs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["variant"], []).append(row)
    columns = aggregated_columns(rows)
    variants = []
    for variant, members in groups.items():
        ok = [row for row in members if row.get("status") == "ok"]
        summary: dict[str, Any] = {
            "variant": variant, "ok": len(ok), "jobs": len(members),
            "seeds": " ".join(row["seed"] for row in members if row.get("seed")),
            "params": ok[0].get("params") if ok else None,
        }
        for column in columns:
            values = [float(row[column]) for row in ok if isinstance(row.get(column), (int, float))]
            summary[f"{column}_mean"] = statistics.fmean(values) if values else None
            summary[f"{column}_std"] = statistics.stdev(values) if len(values) > 1 else None
        variants.append(summary)
    return variants


def short_labels(variants: list[str]) -> dict[str, str]:
    """Each variant named by the overrides that tell it apart (the ones all variants share are left out)."""
    tokens = {variant: variant.split() for variant in variants}
    shared = set.intersection(*(set(items) for items in tokens.values())) if variants else set()
    return {variant: " ".join(item for item in items if item not in shared) or ALL
            for variant, items in tokens.items()}
