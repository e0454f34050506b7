"""rnnlab works as an installed package: configs come from the package, not the current directory."""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rnnlab.sweeps.summary import main as report_main

ROOT = Path(__file__).parents[1]


def test_runs_from_any_directory(cli, tmp_path):
    result = cli("--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "cell: lstm" in result.stdout and "generator: sine" in result.stdout


def test_sweep_runs_every_job_and_summarises_them_failed_ones_included(cli, tmp_path, capsys):
    result = cli("-m", "model=rnn,gru", "data.seq_len=10,5000", "debug=fast_dev_run")
    assert result.returncode == 0, result.stderr
    sweep = next((tmp_path / "logs" / "stock" / "multiruns").iterdir())
    rows = list(csv.DictReader((sweep / "summary.csv").open()))  # written by the sweep itself
    assert [(" ".join(row["overrides"].split()[:3]), row["status"]) for row in rows] == [
        ("model=rnn data.seq_len=10 debug=fast_dev_run", "ok"),
        ("model=rnn data.seq_len=5000 debug=fast_dev_run", "failed"),
        ("model=gru data.seq_len=10 debug=fast_dev_run", "ok"),
        ("model=gru data.seq_len=5000 debug=fast_dev_run", "failed"),
    ]
    assert rows[1]["error"].startswith("data.seq_len=5000 with data.horizon=1 leaves no")
    assert float(rows[0]["test/rmse"]) > 0 and rows[1]["test/rmse"] == ""
    (sweep / "summary.md").unlink()
    report_main([str(sweep)])
    assert "| model=gru data.seq_len=10" in (sweep / "summary.md").read_text() in capsys.readouterr().out


@pytest.mark.slow
def test_wheel_carries_every_config_and_the_kernel_source(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    names = zipfile.ZipFile(next(tmp_path.glob("rnnlab-*.whl"))).namelist()
    expected = {f"rnnlab/conf/{p.relative_to(ROOT / 'conf')}" for p in (ROOT / "conf").rglob("*.yaml")}
    assert expected and expected <= set(names)
    assert "rnnlab/models/recurrence_kernels.c" in names  # compiled on first use
