"""The runner's per-step savings change no result: logging, batches, skipped work and the progress bar."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from pytorch_lightning.callbacks import RichProgressBar
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import rnnlab.run.build
from conftest import compose_config, run_in_process
from imdb_fixture import write_imdb_folder
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.tasks.classify.data import ClassifyData, ClassifySpec
from rnnlab.tasks.classify.schema import ClassifyDataConfig
from rnnlab.tasks.classify.task import ClassifyTask
from rnnlab.tasks.forecast.task import ForecastTask
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.registry import TASKS, get_task
from test_imdb import sentiment_reviews


class LoggingEveryStep(ForecastTask):
    """The training loss through `self.log` on every step, as the tasks logged it before `log_train_loss`."""

    def training_step(self, batch, batch_idx):
        windows, targets = batch
        loss = nn.functional.mse_loss(self(windows), targets)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("train/loss_step", loss, on_step=True, on_epoch=False)
        return loss


def training_scalars(tmp_path: Path) -> tuple[dict[str, list[tuple[int, float]]], list[dict]]:
    # 300 points: 6 training batches a epoch, the last one smaller
    results, run_dir = run_in_process(tmp_path, "data.length=300", "model=rnn", "model.hidden_size=16",
                                      "trainer.max_epochs=3", "trainer.log_every_n_steps=4", "logger=tensorboard")
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in ("train/loss", "train/loss_step")}
    return scalars, results["history"]


def test_training_loss_scalars_are_those_of_logging_every_step(tmp_path, monkeypatch):
    scalars, history = training_scalars(tmp_path / "now")
    forecast = get_task("forecast")
    monkeypatch.setitem(TASKS, "forecast", replace(forecast, module=f"{__name__}:{LoggingEveryStep.__name__}"))
    before_scalars, before_history = training_scalars(tmp_path / "before")
    assert len(scalars["train/loss"]) == 3 and len(scalars["train/loss_step"]) == 4  # steps 3, 7, 11, 15
    assert scalars == before_scalars  # same steps, same float32 values
    assert history == before_history


def test_a_batch_is_the_stack_of_its_reviews(tmp_path):
    folder = write_imdb_folder(tmp_path / "data", sentiment_reviews({"train": 40, "test": 10}))
    data = ClassifyData(ClassifyDataConfig(path=str(folder), cache_dir=str(tmp_path / "cache"), batch_size=8),
                        seed=0)
    data.setup()
    reviews = data.sets["train"]
    indices = [5, 0, 17, 3]
    batch = reviews.__getitems__(indices)
    items = [reviews[i] for i in indices]
    for column, values in zip(batch, zip(*items)):
        assert torch.equal(column, torch.stack(values))


def classifier(embedding_dropout: float, head_dropout: float) -> ClassifyTask:
    spec = ClassifySpec(vocab={"words": [str(i) for i in range(50)]}, text={"pad": "pre"}, embedding_dim=8,
                        embedding_dropout=embedding_dropout, head_dropout=head_dropout)
    return ClassifyTask(ModelConfig(cell="gru", hidden_size=8), OptimizerConfig(), spec).train()


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_dropout_applies_only_when_set_and_pads_stay_out_of_pooling(pooling):
    tokens, lengths = torch.tensor([[0, 0, 4, 5], [6, 7, 8, 9]]), torch.tensor([2, 4])
    torch.manual_seed(0)
    plain = classifier(0.0, 0.0)
    plain.encoder.pooling = pooling
    assert torch.equal(plain(tokens, lengths), plain(tokens, lengths))
    torch.manual_seed(0)
    dropped = classifier(0.5, 0.5)
    dropped.encoder.pooling = pooling
    assert not torch.equal(dropped(tokens, lengths), dropped(tokens, lengths))
    if pooling == "mean":  # the pad mask reaches the pooling: the leading pads of row 0 do not count
        _, summary = plain.encoder(plain.embed(tokens), mask=tokens != 0)
        expected = plain.head[1](summary).squeeze(-1)
        assert torch.allclose(plain(tokens, lengths), expected)


def test_rich_progress_bar_redraws_at_the_configured_rate(tmp_path):
    config, _ = compose_config(tmp_path, "callbacks.progress_bar=rich", "callbacks.progress_bar_refresh_rate=4")
    callbacks = rnnlab.run.build.build_callbacks(config, SimpleNamespace(monitor="val/loss", mode="min"), tmp_path)
    assert [c.refresh_rate for c in callbacks if isinstance(c, RichProgressBar)] == [4]
    with pytest.raises(UserError, match="callbacks.progress_bar_refresh_rate=0 is too small"):
        compose_config(tmp_path, "callbacks.progress_bar_refresh_rate=0")


def test_no_profiling_by_default_and_lightnings_report_in_the_run_folder_when_asked(tmp_path):
    base = ("data.length=200", "model=rnn", "model.hidden_size=8", "trainer.max_epochs=1")
    _, run_dir = run_in_process(tmp_path / "default", *base)
    assert not list(run_dir.rglob("*profile*"))
    _, profiled_dir = run_in_process(tmp_path / "simple", *base, "trainer.profiler=simple")
    assert (profiled_dir / "test-profile.txt").is_file()  # the names the README gives
    assert "run_training_batch" in (profiled_dir / "fit-profile.txt").read_text()  # Lightning's timing of a step
