"""Runs that stop early: interrupted runs continue to the same result, identical seeds give identical metrics."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import pytorch_lightning as pl
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rnnlab.run.build
from conftest import QUIET, run_cli, run_in_process
from rnnlab.errors import UserError

SHORT = ("data.length=400", "trainer.max_epochs=4", "callbacks.early_stopping=false", "model.hidden_size=16",
         "model.dropout=0.2", "model.num_layers=2", "trainer.num_threads=1")


class InterruptAt(pl.Callback):
    """Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise KeyboardInterrupt


def test_the_same_seed_gives_the_same_metrics(tmp_path):
    first, _ = run_in_process(tmp_path / "first", *SHORT, "logger=none")
    second, _ = run_in_process(tmp_path / "second", *SHORT, "logger=none")
    assert first["metrics"] == second["metrics"] and first["history"] == second["history"]


def test_an_interrupted_run_continues_to_the_metrics_of_an_uninterrupted_one(tmp_path, monkeypatch, capsys):
    whole, _ = run_in_process(tmp_path / "whole", *SHORT)

    build_callbacks = rnnlab.run.build.build_callbacks
    monkeypatch.setattr(rnnlab.run.build, "build_callbacks", lambda *args: [*build_callbacks(*args), InterruptAt(2, 3)])
    with pytest.raises(SystemExit) as stop:
        run_in_process(tmp_path / "cut", *SHORT)
    assert stop.value.code != 0
    run_dir = tmp_path / "cut" / "run"
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["epochs_trained"] == 2
    assert record["resume"] == f"python -m rnnlab resume={run_dir}"
    assert f"continue with: python -m rnnlab resume={run_dir}" in capsys.readouterr().err
    monkeypatch.undo()

    resumed, _ = run_in_process(tmp_path / "cut", *SHORT)
    assert resumed["metrics"] == whole["metrics"]
    assert resumed["history"] == whole["history"] and len(resumed["history"]) == 4
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    assert [event.step for event in events.Scalars("val/loss")] == [e.step for e in _scalars(tmp_path / "whole")]
    with pytest.raises(UserError, match="holds a finished run .*give a new folder"):
        run_in_process(tmp_path / "cut", *SHORT)  # a sweep re-run into its own folder: no training on past the end
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"] == whole["metrics"]


def test_a_checkpoint_past_max_epochs_says_how_to_continue(tmp_path):
    from rnnlab.run.train import check_continuable

    with pytest.raises(UserError, match=r"has trained 27 epochs, more than trainer.max_epochs=25; raise"):
        check_continuable(tmp_path, {"epoch": 26}, 25)
    check_continuable(tmp_path, {"epoch": 26}, 26)


def _scalars(root):
    events = EventAccumulator(str(root / "run" / "tensorboard"))
    events.Reload()
    return events.Scalars("val/loss")


class PoisonWeightsAt(pl.Callback):
    """What a diverging run looks like from inside: the weights turn NaN in the middle of epoch 1."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 2:
            with torch.no_grad():
                next(pl_module.parameters()).fill_(float("nan"))


def test_a_nan_loss_stops_at_once_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    build_callbacks = rnnlab.run.build.build_callbacks
    monkeypatch.setattr(rnnlab.run.build, "build_callbacks", lambda *args: [*build_callbacks(*args), PoisonWeightsAt()])
    with pytest.raises(UserError) as error:
        run_in_process(tmp_path, *SHORT, "logger=none")
    run_dir = tmp_path / "run"
    assert "loss became nan at step" in str(error.value) and "lower optimizer.lr" in str(error.value)
    assert f"the last good checkpoint is {run_dir / 'checkpoints' / 'last.ckpt'}" in str(error.value)
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "failed" and record["error"] == str(error.value) and record["epochs_trained"] == 1
    weights = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.isfinite(value).all() for value in weights.values())


class OverflowForecastsAt(pl.Callback):
    """Forecasts of 1e30: finite, but their squared error overflows float32, so the loss is +inf, not NaN."""

    step: int | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch == 1 and batch_idx == 2:
            with torch.no_grad():
                pl_module.head.bias.fill_(1e30)
            self.step = trainer.global_step


def test_an_infinite_loss_stops_at_once_naming_the_step(tmp_path, monkeypatch):
    build_callbacks, overflow = rnnlab.run.build.build_callbacks, OverflowForecastsAt()
    monkeypatch.setattr(rnnlab.run.build, "build_callbacks", lambda *args: [*build_callbacks(*args), overflow])
    with pytest.raises(UserError) as error:
        run_in_process(tmp_path, *SHORT, "logger=none")
    assert str(error.value).startswith(f"loss became inf at step {overflow.step} (optimizer.lr=0.01); lower")
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "failed" and record["epochs_trained"] == 1


def test_a_diverging_job_is_a_failed_row_of_its_sweep(cli, tmp_path):
    result = cli("-m", "optimizer.lr=0.01,1e30", "trainer.gradient_clip_val=null", "data.length=300",
                 "trainer.max_epochs=2", "logger=none", "trainer.num_threads=1",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {row["overrides"].split()[0]: row for row in csv.DictReader((tmp_path / "sweep" / "summary.csv").open())}
    assert rows["optimizer.lr=0.01"]["status"] == "ok"
    failed = rows["optimizer.lr=1e+30"]
    assert failed["status"] == "failed" and failed["error"].startswith("loss became inf at step")


def test_sigterm_keeps_the_finished_epochs_and_resume_continues_them(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "rnnlab", *QUIET, "data.length=20000", "trainer.max_epochs=200",
               "callbacks.early_stopping=false", "trainer.num_threads=1", "logger=none", f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run_dir / "checkpoints" / "last.ckpt").exists() and process.poll() is None:
        assert time.monotonic() < deadline, "no epoch finished in 300 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM
    assert f"continue with: python -m rnnlab resume={run_dir}" in stderr
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "interrupted" and record["epochs_trained"] >= 1
    finished = record["epochs_trained"]

    result = run_cli(f"resume={run_dir}", f"trainer.max_epochs={finished + 1}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "ok" and [row["epoch"] for row in metrics["history"]] == list(range(finished + 1))

    again = run_cli(f"resume={run_dir}", cwd=tmp_path)
    assert again.returncode == 2 and f"the run in {run_dir} has finished" in again.stderr


def test_resume_needs_a_run_folder_with_a_checkpoint(cli, tmp_path):
    assert "is not a run folder" in cli(f"resume={tmp_path}").stderr
    (tmp_path / "early" / ".hydra").mkdir(parents=True)
    (tmp_path / "early" / ".hydra" / "overrides.yaml").write_text("[]\n")
    assert "has no checkpoints/last.ckpt to continue from" in cli(f"resume={tmp_path / 'early'}").stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_log_folder_fails_before_any_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = run_cli(*QUIET, f"paths.log_dir={locked / 'logs'}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(f"rnnlab: error: cannot write runs to '{locked / 'logs'}'")


def test_a_full_disk_fails_before_any_work(cli, tmp_path):
    result = cli("paths.min_free_mb=1000000000")
    assert result.returncode == 2 and "MB free, below paths.min_free_mb=1000000000" in result.stderr
    assert not (tmp_path / "logs").exists()
