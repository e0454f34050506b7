"""The private Lightning and Hydra APIs rnnlab relies on (rnnlab/private_apis.py) still behave as it uses them."""

from __future__ import annotations

import torch
from lightning_fabric.plugins.precision.amp import _optimizer_handles_unscaling
from pytorch_lightning.callbacks import Callback

from conftest import run_in_process
from rnnlab.private_apis import HydraCallback, declare_no_amp_scaling, expand_sweep, logger_writes_this_step


def test_declaring_no_amp_scaling_is_what_lightning_reads_before_refusing_to_clip():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], fused=True)
    assert _optimizer_handles_unscaling(optimizer)  # a fused Adam: Lightning would refuse gradient clipping
    declare_no_amp_scaling(optimizer)
    assert not _optimizer_handles_unscaling(optimizer)


class StepsLogged(Callback):
    def __init__(self) -> None:
        self.steps: list[int] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if logger_writes_this_step(trainer):
            self.steps.append(trainer.global_step)


def test_lightning_says_on_which_steps_the_logger_writes(tmp_path, monkeypatch):
    import rnnlab.run.build

    seen = StepsLogged()
    build_callbacks = rnnlab.run.build.build_callbacks
    monkeypatch.setattr(rnnlab.run.build, "build_callbacks", lambda *args: [*build_callbacks(*args), seen])
    run_in_process(tmp_path, "data.length=300", "model.hidden_size=8", "trainer.max_epochs=2",
                   "trainer.log_every_n_steps=4", "callbacks.early_stopping=false")
    assert seen.steps == [4, 8, 12]  # 6 batches an epoch, 12 steps: every 4th step (counted after the step)


def test_hydra_expands_a_sweep_command_line_into_its_jobs_in_order():
    assert expand_sweep(["model=rnn,gru", "seed=0,1", "trainer.max_epochs=2"]) == [
        ["model=rnn", "seed=0", "trainer.max_epochs=2"], ["model=rnn", "seed=1", "trainer.max_epochs=2"],
        ["model=gru", "seed=0", "trainer.max_epochs=2"], ["model=gru", "seed=1", "trainer.max_epochs=2"]]


def test_hydras_experimental_callback_still_has_the_sweep_hooks_rnnlab_uses():
    assert callable(HydraCallback.on_multirun_start) and callable(HydraCallback.on_multirun_end)
