"""Scaling out: DDP over two CPU processes, and sweeps through the submitit launcher (local executor)."""

from __future__ import annotations

import csv
import json

from conftest import run_in_process

STOCK = ("data.length=600", "trainer.max_epochs=12", "callbacks.early_stopping=false", "logger=none",
         "trainer.num_threads=1")


def test_ddp_on_two_cpu_processes_agrees_with_one_process(cli, tmp_path):
    run_dir = tmp_path / "ddp"
    # two processes with half the batch each: the same effective batch and steps as one process
    result = cli("trainer=ddp", "data.batch_size=16", *STOCK, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "train_ddp_process_1.log").is_file()  # the second process ran
    ddp = json.loads((run_dir / "metrics.json").read_text())
    single, _ = run_in_process(tmp_path / "single", "data.batch_size=32", *STOCK)
    assert ddp["status"] == "ok" and ddp["epochs_trained"] == single["epochs_trained"] == 12
    rmse, reference = ddp["metrics"]["test/rmse"], single["metrics"]["test/rmse"]
    assert abs(rmse - reference) / reference < 0.2, (rmse, reference)
    assert rmse < ddp["metrics"]["test/naive_rmse"]


def test_submitit_local_launcher_runs_a_real_two_job_sweep(cli, tmp_path):
    sweep = tmp_path / "sweep"
    result = cli("-m", "hydra/launcher=submitit_local", "seed=0,1", "data.length=300", "trainer.max_epochs=2",
                 "logger=none", "trainer.num_threads=1", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = list(csv.DictReader((sweep / "summary.csv").open()))
    assert [row["status"] for row in rows] == ["ok", "ok"] and {row["seed"] for row in rows} == {"0", "1"}
    assert list((sweep / ".submitit").iterdir())  # the jobs went through submitit
