"""The CPU speed settings a run applies: freed memory kept for reuse, the fused optimizer step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import compose_config
from rnnlab.run.build import build_data, build_task

# In a fresh process: allocate and free 256 MiB, then read how much of it the process still holds.
SCRIPT = """
import sys, torch
from rnnlab.kernels.memory import reuse_freed_memory
def resident_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
if sys.argv[1] == "on":
    assert reuse_freed_memory()
before = resident_mib()
block = torch.ones(64 * 2**20)
del block
print(resident_mib() - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator settings (Linux)")
def test_freed_memory_is_kept_for_the_next_tensors_only_when_asked():
    kept = {}
    for mode in ("on", "off"):
        done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        kept[mode] = float(done.stdout)
    assert kept["on"] > 200 and kept["off"] < 50, kept


@pytest.mark.parametrize("fused", [True, False])
def test_the_optimizer_step_is_fused_on_the_cpu_unless_turned_off(tmp_path, fused):
    config, _ = compose_config(tmp_path, f"optimizer.fused={str(fused).lower()}", "optimizer.scheduler=none")
    task = build_task(config, build_data(config).spec)
    optimizer = task.configure_optimizers()
    assert isinstance(optimizer, torch.optim.Adam)
    assert bool(optimizer.defaults["fused"]) is fused


def test_bf16_training_clips_gradients_with_the_fused_optimizer(tmp_path):
    """Lightning refuses clipping with optimizers that unscale fp16 gradients themselves; bf16 scales nothing."""
    from conftest import run_in_process

    metrics, _ = run_in_process(tmp_path, "trainer=bf16", "trainer.gradient_clip_val=1.0", "trainer.max_epochs=1",
                                "data.length=300")
    assert metrics["status"] == "ok"


@pytest.mark.parametrize("warmup, expected", [(1, 24 / 3), (5, 32 / 13)])
def test_throughput_leaves_out_the_warmup_batches_unless_no_other_batch_ran(monkeypatch, warmup, expected):
    from rnnlab.run import callbacks

    clock = iter([0.0, 10.0, 11.0, 12.0, 13.0])  # the epoch starts, then 4 batches of 8: 10 s, 1 s, 1 s, 1 s
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    meter = callbacks.ThroughputMeter(warmup_batches=warmup)
    meter.on_train_epoch_start(None, None)
    for _ in range(4):
        meter.on_train_batch_end(None, None, None, (torch.zeros(8),), 0)
    assert meter.samples_per_second == pytest.approx(expected)
    resumed = callbacks.ThroughputMeter(warmup_batches=warmup)
    resumed.load_fit_state(meter.fit_state())
    assert resumed.samples_per_second == meter.samples_per_second


def test_a_resumed_fit_leaves_out_its_own_warmup_batches(monkeypatch):
    """The resumed process sets itself up again: its first batches are slow as the first fit's were."""
    from rnnlab.run import callbacks

    clock = iter([0.0, 10.0, 11.0, 12.0, 100.0, 110.0, 111.0, 112.0])  # two processes: 10 s, then 1 s batches
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    meter = callbacks.ThroughputMeter(warmup_batches=1)
    meter.on_fit_start(None, None)
    meter.on_train_epoch_start(None, None)
    for _ in range(3):
        meter.on_train_batch_end(None, None, None, (torch.zeros(8),), 0)
    resumed = callbacks.ThroughputMeter(warmup_batches=1)
    resumed.load_fit_state(meter.fit_state())
    resumed.on_fit_start(None, None)
    resumed.on_train_epoch_start(None, None)
    for _ in range(3):
        resumed.on_train_batch_end(None, None, None, (torch.zeros(8),), 0)
    assert resumed.batches == 6
    assert resumed.samples_per_second == pytest.approx(8.0)  # 4 steady batches of 8 in 4 s
