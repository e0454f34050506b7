"""Length-bucketed batches (IMDB reviews, tagged sentences): every review once, similar lengths together, and a new
order every epoch of a real Lightning fit, drawn from (seed, epoch) so a resumed run sees the same batches."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from rnnlab.data.batches import LengthBuckets


def test_length_buckets_cover_every_review_once_and_group_similar_lengths():
    lengths = torch.randint(1, 400, (1000,))
    sampler = LengthBuckets(lengths, batch_size=10, shuffle=True, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert sorted(i for batch in first for i in batch) == list(range(1000))
    assert first != second  # a new order every epoch
    sampler.set_epoch(0)
    assert list(sampler) == first  # drawn from (seed, epoch) alone: a resumed run sees the same batches
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in first) / len(first)
    assert spread < 40  # random batches of 10 would spread over ~320 tokens


class RecordBatches(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.epochs: list[list[list[int]]] = []

    def on_train_epoch_start(self) -> None:
        self.epochs.append([])

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.epochs[-1].append(batch.tolist())
        return self.weight.sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_a_lightning_fit_draws_new_buckets_every_epoch():
    """Lightning sets the epoch on `batch_sampler.sampler`, not on the batch sampler: trained through the Trainer,
    not by calling set_epoch by hand (epoch 0's batches in epoch 0's order every epoch was a bug)."""
    lengths = torch.randint(1, 50, (200,))
    loader = DataLoader(list(range(200)), batch_sampler=LengthBuckets(lengths, 8, shuffle=True, seed=3))
    module = RecordBatches()
    pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False).fit(module, loader)
    assert len({str(epoch) for epoch in module.epochs}) == 3
    expected = LengthBuckets(lengths, 8, shuffle=True, seed=3)
    for epoch, batches in enumerate(module.epochs):
        expected.set_epoch(epoch)
        assert batches == list(expected)
