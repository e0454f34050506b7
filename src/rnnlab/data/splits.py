"""The loaders every dataset offers: train, validation and test from one `_loader(split, shuffle)`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Sampler


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator for one epoch's random order, drawn from (seed, epoch) alone.

    Orders do not depend on how many epochs this process has run, so a run resumed from the checkpoint
    of epoch k shuffles exactly as the run that never stopped.
    """
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


def private_generator(seed: int) -> torch.Generator:
    """A DataLoader's own generator: starting an epoch's iterator then draws nothing from torch's global
    generator (dropout's), so a resumed run's extra sanity-check loader leaves dropout masks unchanged."""
    return torch.Generator().manual_seed(seed)


class EpochShuffle(Sampler[int]):
    """Indices in a new random order every epoch (Lightning calls `set_epoch` before each)."""

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        return iter(torch.randperm(self.size, generator=epoch_generator(self.seed, self.epoch)).tolist())


class SplitData(pl.LightningDataModule):
    """Subclasses build one split's DataLoader; only training batches are shuffled."""

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        # trainer.overfit_batches trains on the first batches again and again: Lightning can unshuffle a plain
        # sampler, not our batch samplers, so the order is kept here
        overfit = self.trainer is not None and self.trainer.overfit_batches > 0
        return self._loader("train", shuffle=not overfit)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
