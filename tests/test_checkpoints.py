"""Checkpoints are read safely: no code runs from a file, and a damaged or foreign file is one clear error."""

from __future__ import annotations

import os

import pytest
import torch

from conftest import run_in_process
from rnnlab.errors import UserError
from rnnlab.tasks.checkpoints import FORMAT, read_checkpoint

QUICK = ("data.length=300", "trainer.max_epochs=2", "logger=none", "trainer.num_threads=1")


class RunsCode:
    """Unpickling this would create a file: what a booby-trapped checkpoint does."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mknod, (self.marker,))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return run_in_process(tmp_path_factory.mktemp("run"), *QUICK)[1]


def test_checkpoints_of_a_run_carry_the_format_and_load_as_plain_data(finished_run):
    for name in ("best.ckpt", "last.ckpt"):
        checkpoint = read_checkpoint(finished_run / "checkpoints" / name)
        assert checkpoint["rnnlab_format"] == FORMAT and "state_dict" in checkpoint


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "owned"
    trap = tmp_path / "trap.ckpt"
    torch.save({"rnnlab_format": FORMAT, "payload": RunsCode(str(marker))}, trap)
    with pytest.raises(UserError, match="is not a readable rnnlab checkpoint"):
        read_checkpoint(trap)
    assert not marker.exists()


def test_truncated_foreign_and_newer_checkpoints_are_one_line_errors(finished_run, tmp_path):
    whole = (finished_run / "checkpoints" / "best.ckpt").read_bytes()
    cases = {"truncated.ckpt": whole[: len(whole) // 2], "garbage.ckpt": b"\x00" * 100}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "foreign.ckpt")
    torch.save({"rnnlab_format": FORMAT + 1}, tmp_path / "newer.ckpt")
    expected = {"truncated.ckpt": "is not a readable rnnlab checkpoint", "garbage.ckpt": "is not a readable rnnlab",
                "foreign.ckpt": "was not written by rnnlab", "newer.ckpt": rf"newer rnnlab \(format {FORMAT + 1}"}
    for name, message in expected.items():
        with pytest.raises(UserError, match=message) as error:
            read_checkpoint(tmp_path / name)
        assert "\n" not in str(error.value)


def test_resuming_from_a_damaged_last_checkpoint_says_how_to_start_over(tmp_path):
    _, run_dir = run_in_process(tmp_path, *QUICK, "callbacks.early_stopping=false")
    (run_dir / "metrics.json").unlink()
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])
    with pytest.raises(UserError, match=f"delete it to train {run_dir} from the start"):
        run_in_process(tmp_path, *QUICK, "callbacks.early_stopping=false")


def test_checkpoints_from_before_format_versions_still_load(finished_run, tmp_path):
    checkpoint = torch.load(finished_run / "checkpoints" / "best.ckpt", weights_only=True)
    del checkpoint["rnnlab_format"]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    assert "state_dict" in read_checkpoint(tmp_path / "old.ckpt")


def test_last_checkpoint_is_the_last_epoch_even_after_the_best_and_can_be_tested(tmp_path):
    """Lightning 2.6 rewrote last.ckpt only in epochs that also wrote best.ckpt: a resumed run repeated epochs."""
    small = ["data.length=200", "model.hidden_size=4", "trainer.max_epochs=3", "logger=none",
             "callbacks.early_stopping=false", "callbacks.mode=max"]  # max of val/loss: an early epoch stays best
    results, run_dir = run_in_process(tmp_path / "best", *small)
    saved = {name: torch.load(run_dir / "checkpoints" / name, weights_only=False)["epoch"]
             for name in ("best.ckpt", "last.ckpt")}
    assert saved["best.ckpt"] == results["best_epoch"] < saved["last.ckpt"] == 2
    last_results, _ = run_in_process(tmp_path / "last", *small, "callbacks.test_checkpoint=last")
    assert last_results["metrics"]["test/rmse"] != results["metrics"]["test/rmse"]  # the last epoch's weights


def test_testing_the_last_checkpoint_needs_it_kept(tmp_path):
    with pytest.raises(UserError, match="callbacks.test_checkpoint=last tests checkpoints/last.ckpt"):
        run_in_process(tmp_path, "callbacks.test_checkpoint=last", "callbacks.save_last=false")


def test_weight_averaging_validates_tests_and_saves_the_mean_of_the_epochs_weights(tmp_path):
    small = ["data.length=200", "model.hidden_size=4", "trainer.max_epochs=4", "logger=none",
             "callbacks.early_stopping=false", "callbacks.test_checkpoint=last"]
    runs = {}
    for name, extra in (("plain", []), ("averaged", ["optimizer.average_from=1"])):
        runs[name] = run_in_process(tmp_path / name, *small, *extra)
    (plain, plain_dir), (averaged, averaged_dir) = runs["plain"], runs["averaged"]
    # epoch 0 is not averaged: identical; from epoch 1 on validation sees the mean
    assert averaged["history"][0]["val/loss"] == plain["history"][0]["val/loss"]
    assert averaged["history"][2]["val/loss"] != plain["history"][2]["val/loss"]
    last = torch.load(averaged_dir / "checkpoints" / "last.ckpt", weights_only=False)
    state = last["callbacks"]["WeightAveraging"]
    assert state["count"] == 3
    for name, trained in state["trained"].items():  # the model's weights are the mean, the trained ones ride along
        assert torch.equal(last["state_dict"][name], state["average"][name])
        assert not torch.equal(trained, state["average"][name])
    plain_last = torch.load(plain_dir / "checkpoints" / "last.ckpt", weights_only=False)
    assert all(torch.equal(plain_last["state_dict"][n], t) for n, t in state["trained"].items())  # same training


def test_an_averaged_run_resumes_exactly(tmp_path):
    small = ["data.length=200", "model.hidden_size=4", "logger=none", "callbacks.early_stopping=false",
             "optimizer.average_from=1"]
    whole, _ = run_in_process(tmp_path / "whole", *small, "trainer.max_epochs=4")
    _, run_dir = run_in_process(tmp_path / "pieces", *small, "trainer.max_epochs=2")
    (run_dir / "metrics.json").unlink()  # as if stopped after two epochs
    resumed, _ = run_in_process(tmp_path / "pieces", *small, "trainer.max_epochs=4")
    assert [row["val/loss"] for row in resumed["history"]] == [row["val/loss"] for row in whole["history"]]
    assert resumed["metrics"]["test/rmse"] == whole["metrics"]["test/rmse"]
