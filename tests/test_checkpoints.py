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
