"""rnnlab works as an installed package: configs come from the package, not the current directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rnnlab.report import write_summary

ROOT = Path(__file__).parents[1]


def test_runs_from_any_directory(cli, tmp_path):
    result = cli("--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "cell: lstm" in result.stdout and "generator: sine" in result.stdout


def test_sweep_runs_every_job_into_the_multirun_folder(cli, tmp_path):
    result = cli("-m", "model=rnn,gru", "debug=fast_dev_run")
    assert result.returncode == 0, result.stderr
    jobs = sorted((tmp_path / "logs" / "stock" / "multiruns").glob("*/*/metrics.json"))
    assert len(jobs) == 2
    rows = write_summary(jobs[0].parents[1])
    assert [(row["overrides"].split()[0], row["status"]) for row in rows] == [("model=rnn", "ok"), ("model=gru", "ok")]
    assert all(row["test/rmse"] > 0 for row in rows)
    assert "| model=rnn" in (jobs[0].parents[1] / "summary.md").read_text()


@pytest.mark.slow
def test_wheel_carries_every_config(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("rnnlab-*.whl"))).namelist()
    expected = {f"rnnlab/conf/{p.relative_to(ROOT / 'conf')}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert expected and expected <= set(names)
