"""`model.impl=auto` on the CPU: the faster implementation, measured on first use and kept per machine."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import torch

from rnnlab.models import impl_choice, recurrent
from rnnlab.models.recurrent import RecurrentLayer

B, T, I, H = 4, 9, 5, 6


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh choices file (in a fresh kernel dir) for this test, nothing remembered in memory."""
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(tmp_path / "kernels"))
    monkeypatch.setattr(impl_choice, "_known", {})
    return tmp_path / "kernels" / impl_choice.FILE_NAME


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Seconds each implementation is made to sleep per call (set by the test), and every call counted."""
    delay = {"fused": 0.0, "torch": 0.0, "fused calls": 0, "torch calls": 0}
    fused, torch_recurrence = RecurrentLayer._fused, recurrent.torch_recurrence

    def slow_fused(self, *args):
        delay["fused calls"] += 1
        time.sleep(delay["fused"])
        return fused(self, *args)

    def slow_torch(*args):
        delay["torch calls"] += 1
        time.sleep(delay["torch"])
        return torch_recurrence(*args)

    monkeypatch.setattr(RecurrentLayer, "_fused", slow_fused)
    monkeypatch.setattr(recurrent, "torch_recurrence", slow_torch)
    return delay


@pytest.mark.parametrize("slower, picked", [("torch", True), ("fused", False)])
def test_auto_runs_the_implementation_that_measured_faster(store, delays, slower, picked):
    delays[slower] = 0.02
    layer = RecurrentLayer("lstm", I, H, bidirectional=True)
    x = torch.randn(B, T, I, requires_grad=True)
    assert layer.use_fused(x, None) is picked
    assert json.loads(store.read_text()) == {
        impl_choice.shape_key("lstm", x, None, H, 2): "fused" if picked else "torch"}
    calls = delays["fused calls"] + delays["torch calls"]
    outputs, _ = layer(x)
    assert delays["fused calls"] + delays["torch calls"] == calls + 1  # measured once, then one path runs
    assert outputs.shape == (B, T, 2 * H)


def test_a_kept_choice_is_not_measured_again_by_a_later_process(store, delays, monkeypatch):
    delays["torch"] = 0.02
    x = torch.randn(B, T, I)
    assert RecurrentLayer("gru", I, H, False).use_fused(x, None)
    monkeypatch.setattr(impl_choice, "_known", {})  # as a new process starts: only the file remains
    delays["fused"], delays["torch"] = 0.05, 0.0  # had it measured again, torch would win now
    calls = delays["fused calls"] + delays["torch calls"]
    assert RecurrentLayer("gru", I, H, False).use_fused(x, None)
    assert delays["fused calls"] + delays["torch calls"] == calls


def test_each_kind_of_batch_is_measured_on_its_own(store):
    layer = RecurrentLayer("rnn", I, H, False)
    x, lengths = torch.randn(B, T, I), torch.tensor([9, 3, 1, 5])
    layer(x)
    layer(x, lengths)  # ragged
    layer(torch.randn(3, T, I))  # batch 3 falls in the bucket of 4: no new measurement
    with torch.no_grad():
        layer(x)  # inference
    with torch.autocast("cpu", dtype=torch.bfloat16):
        layer(x)
    keys = json.loads(store.read_text())
    assert len(keys) == 4
    assert {key.rsplit("|", 3)[1:] == ["full", "float32", "train"] for key in keys} == {True, False}


def test_measuring_leaves_gradients_and_random_numbers_as_they_were(store):
    torch.manual_seed(0)
    layer = RecurrentLayer("lstm", I, H, False)
    x = torch.randn(B, T, I, requires_grad=True)
    before = torch.get_rng_state()
    layer.use_fused(x, torch.tensor([9, 3, 1, 5]))
    assert torch.equal(torch.get_rng_state(), before)
    assert x.grad is None and all(p.grad is None for p in layer.parameters())


def test_a_first_call_in_inference_mode_then_training_works(store):
    """Lightning's sanity check runs validation under inference_mode before the first training step."""
    layer = RecurrentLayer("gru", I, H, False)
    x = torch.randn(B, T, I)
    with torch.inference_mode():
        layer(x)
    outputs, _ = layer(x.clone().requires_grad_())
    outputs.sum().backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_an_unreadable_choices_file_is_measured_again_with_a_warning(store, caplog):
    store.parent.mkdir(parents=True)
    store.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="rnnlab.models.impl_choice"):
        RecurrentLayer("rnn", I, H, False)(torch.randn(B, T, I))
    assert "unreadable" in caplog.text
    assert len(json.loads(store.read_text())) == 1


def test_an_unwritable_kernel_dir_keeps_the_choice_for_the_process(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(blocker / "kernels"))  # under a file: cannot be made
    monkeypatch.setattr(impl_choice, "_known", {})
    with caplog.at_level(logging.WARNING, logger="rnnlab.models.impl_choice"):
        layer = RecurrentLayer("rnn", I, H, False, impl="auto")
        choice = layer.use_fused(torch.randn(B, T, I), None)
    assert "for this process only" in caplog.text
    assert RecurrentLayer("rnn", I, H, False).use_fused(torch.randn(B, T, I), None) is choice


@pytest.mark.parametrize("impl, fused", [("fused", True), ("torch", False)])
def test_a_named_implementation_is_not_measured(store, impl, fused):
    assert RecurrentLayer("lstm", I, H, False, impl=impl).use_fused(torch.randn(B, T, I), None) is fused
    assert not store.exists()
