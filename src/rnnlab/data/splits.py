"""The loaders every dataset offers: train, validation and test from one `_loader(split, shuffle)`."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader


class SplitData(pl.LightningDataModule):
    """Subclasses build one split's DataLoader; only training batches are shuffled."""

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
