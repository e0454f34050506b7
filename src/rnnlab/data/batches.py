"""Batches of sequences of similar length, so that padding each batch to its longest costs little."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import Sampler

from rnnlab.data.splits import EpochShuffle, epoch_generator


class LengthBuckets(Sampler[list[int]]):
    """Batches of sequences of similar length: sort within pools of 50 batches, then shuffle the batches.

    Trimming each batch to its longest sequence then removes most of the padding (IMDB: median review
    174 tokens against max_len 400). Each epoch's order is drawn from (seed, epoch), see `epoch_generator`.
    The epoch lives in `self.sampler`: Lightning sets it on a batch sampler's `.sampler` (as on torch's
    BatchSampler), never on the batch sampler itself, so without it every epoch repeated epoch 0's batches.
    """

    POOL_BATCHES = 50

    def __init__(self, lengths: Tensor, batch_size: int, shuffle: bool, seed: int) -> None:
        self.lengths, self.batch_size, self.shuffle = lengths, batch_size, shuffle
        self.sampler = EpochShuffle(len(lengths), seed)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n, size = len(self.lengths), self.batch_size
        order = torch.tensor(list(self.sampler)) if self.shuffle else torch.arange(n)
        pool = size * self.POOL_BATCHES
        batches = []
        for start in range(0, n, pool):
            chunk = order[start : start + pool]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)]
            batches.extend(chunk[i : i + size].tolist() for i in range(0, len(chunk), size))
        if self.shuffle:
            generator = epoch_generator(self.sampler.seed, self.sampler.epoch)
            batches = [batches[i] for i in torch.randperm(len(batches), generator=generator)]
        return iter(batches)
