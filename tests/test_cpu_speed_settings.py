"""The CPU speed settings a run applies: freed memory kept for reuse, the fused optimizer step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pytorch_lightning as pl
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


@pytest.mark.parametrize("flush", [True, False])
def test_trainer_flush_denormal_is_applied_in_the_process_that_trains(tmp_path, flush):
    """Subnormal floats (below 1.2e-38 in fp32) become 0 after a run with the switch on, and stay with it off."""
    from conftest import run_in_process
    from rnnlab.kernels import set_flush_denormal_everywhere

    set_flush_denormal_everywhere(not flush)  # the opposite of what the run is told
    try:
        run_in_process(tmp_path, f"trainer.flush_denormal={str(flush).lower()}", "debug=fast_dev_run")
        subnormal = torch.tensor([1e-40]).item()
        assert (subnormal == 0.0) is flush, subnormal
    finally:
        set_flush_denormal_everywhere(False)  # torch's default, for the tests that follow


class GradientNorms(pl.Callback):
    """The gradient norm of every step before clipping (Lightning's hook runs just before it clips) and as
    the optimizer used it (gradients stay until the next step zeroes them)."""

    def __init__(self) -> None:
        self.before, self.after, self.fused, self.precision = [], [], None, None

    @staticmethod
    def norm(module) -> float:
        return float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.parameters()])))

    def on_train_start(self, trainer, pl_module) -> None:
        self.fused, self.precision = trainer.optimizers[0].defaults["fused"], trainer.precision

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.before.append(self.norm(pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.after.append(self.norm(pl_module))


def test_bf16_training_clips_gradients_with_the_fused_optimizer(tmp_path, monkeypatch):
    """Lightning refuses clipping with optimizers that unscale fp16 gradients themselves; bf16 scales nothing."""
    import rnnlab.run.build
    from conftest import run_in_process

    build_callbacks, norms = rnnlab.run.build.build_callbacks, GradientNorms()
    monkeypatch.setattr(rnnlab.run.build, "build_callbacks", lambda *args: [*build_callbacks(*args), norms])
    clip = 0.05  # below the gradient norm of every step here: each step must be clipped
    metrics, _ = run_in_process(tmp_path, "trainer=bf16", f"trainer.gradient_clip_val={clip}", "trainer.max_epochs=1",
                                "trainer.limit_train_batches=5", "data.length=300", "logger=none")
    assert metrics["status"] == "ok"
    assert (norms.precision, norms.fused) == ("bf16-mixed", True)
    assert len(norms.before) == len(norms.after) == 5
    assert all(norm > clip for norm in norms.before), norms.before
    assert all(norm == pytest.approx(clip, rel=1e-3) for norm in norms.after), norms.after


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


def test_the_cosine_schedule_warms_up_then_decays_to_its_floor():
    from rnnlab.tasks.base import cosine_with_warmup

    factor = cosine_with_warmup(total_steps=100, warmup_fraction=0.1, min_fraction=0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0) and factor(55) == pytest.approx(0.55)
    assert factor(100) == pytest.approx(0.1) and factor(500) == pytest.approx(0.1)
    assert [factor(s) for s in range(10, 101)] == sorted((factor(s) for s in range(10, 101)), reverse=True)
    assert cosine_with_warmup(10, 0.0, 0.0)(0) == pytest.approx(1.0)


@pytest.mark.parametrize("overrides, threads", [
    ([], 1),                                             # make run's LSTM(64): 17k parameters
    (["model.hidden_size=256"], "default"),              # 266k parameters: torch's default
    (["trainer.single_thread_below=0"], "default"),      # never
    (["trainer.num_threads=2"], 2),                      # asked for: as asked
])
def test_a_small_model_trains_on_one_thread_unless_told_otherwise(tmp_path, overrides, threads):
    from conftest import run_in_process
    from rnnlab.run.callbacks import TORCH_DEFAULT_THREADS

    torch.set_num_threads(3)  # neither of the answers: the run must set it
    try:
        run_in_process(tmp_path, "debug=fast_dev_run", *overrides)
        assert torch.get_num_threads() == (TORCH_DEFAULT_THREADS if threads == "default" else threads)
    finally:
        torch.set_num_threads(TORCH_DEFAULT_THREADS)
