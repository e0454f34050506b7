"""Re-run the jobs of a sweep that failed or never finished, each into its own job folder.

The sweep's `multirun.yaml` holds the command line's overrides; expanding them as Hydra's basic sweeper
does gives every job the sweep should have, so jobs that never started are found too. Each job runs as
`python -m rnnlab -m <its overrides>` with the sweep folder and its job folder as Hydra's sweep dir and
subdir, from the folder the sweep was started in (relative paths in overrides keep their meaning).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from rnnlab.errors import UserError
from rnnlab.private_apis import expand_sweep
from rnnlab.run.board import sweep_board


def expected_jobs(multirun: dict) -> list[list[str]]:
    """Every job's overrides, in job-number order, as Hydra's basic sweeper expands the command line."""
    return expand_sweep(multirun["hydra"]["overrides"]["task"])


def job_status(job_dir: Path) -> str:
    metrics = job_dir / "metrics.json"
    return json.loads(metrics.read_text()).get("status", "missing") if metrics.is_file() else "missing"


def jobs_to_rerun(sweep: Path) -> list[tuple[str, list[str]]]:
    """(job folder name, overrides) of each job whose metrics.json is missing or not ok."""
    multirun_file = sweep / "multirun.yaml"
    if (sweep / "optuna.db").is_file():  # Optuna's sweeper writes no multirun.yaml
        raise UserError("an Optuna search resumes from its storage: run its command again instead of --rerun-failed")
    if not multirun_file.is_file():
        raise UserError(f"'{sweep}' has no multirun.yaml; give the folder of a sweep started with -m")
    multirun = yaml.safe_load(multirun_file.read_text())
    folders = {tuple(str(o) for o in yaml.safe_load(path.read_text()) or []): path.parents[1].name
               for path in sweep.glob("*/.hydra/overrides.yaml")}
    jobs = [(folders.get(tuple(overrides), str(number)), overrides)
            for number, overrides in enumerate(expected_jobs(multirun))]
    return [(name, overrides) for name, overrides in jobs if job_status(sweep / name) != "ok"]


def rerun_failed(sweep: Path) -> list[str]:
    """Re-run the failed and missing jobs of `sweep` in place; returns their folder names."""
    jobs = jobs_to_rerun(sweep)
    if not jobs:
        print(f"every job of {sweep} finished ok; nothing to re-run")
        return []
    started_in = yaml.safe_load((sweep / "multirun.yaml").read_text())["hydra"]["runtime"]["cwd"]
    sweep_dir = sweep.resolve()
    multirun_record = (sweep / "multirun.yaml").read_text()  # each re-run would overwrite the sweep's record
    try:
        for name, overrides in jobs:
            print(f"re-running job {name}: {' '.join(overrides)}", flush=True)
            shutil.rmtree(sweep_dir / name, ignore_errors=True)  # no stale checkpoints or event files
            shutil.rmtree(sweep_board(sweep_dir, overrides).folder, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "rnnlab", "-m", *overrides, f"hydra.sweep.dir='{sweep_dir}'",
                            f"hydra.sweep.subdir='{name}'"], cwd=started_in if Path(started_in).is_dir() else None,
                           check=False)
    finally:
        (sweep / "multirun.yaml").write_text(multirun_record)
    return [name for name, _ in jobs]
