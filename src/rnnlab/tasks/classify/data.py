"""IMDB sentiment as a LightningDataModule: located, encoded (cached), split, batched by length."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.archive import default_cache_dir
from rnnlab.data.batches import LengthBuckets
from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.tasks.classify.imdb import EncodedSplit, load_encoded_imdb, locate_imdb, read_split
from rnnlab.tasks.classify.schema import ImdbDataConfig

Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # tokens [B, T], lengths [B], labels [B], review index [B]


@dataclass(frozen=True)
class ClassifySpec:
    """What a text classifier needs: the vocabulary (with its tokenizer) and how text was encoded."""

    vocab: dict[str, Any]  # Vocabulary.to_dict(): stored in the checkpoint so prediction needs nothing else
    text: dict[str, Any]  # TextSettings as a dict: max_len, truncate, pad, ...
    embedding_dim: int
    embedding_dropout: float = 0.0
    head_dropout: float = 0.0
    labels: list[str] = field(default_factory=lambda: ["neg", "pos"])
    task: str = "classify"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab["words"])


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, val): `fraction` of each label's reviews, drawn with `seed`, go to validation.

    Validation comes in a seeded random order: the archive lists all negative reviews first, and
    evaluation batches (or a `limit_val_batches` subset) should hold both labels. (Training batches are
    shuffled by the loader.)
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = round(len(members) * fraction)
        val.append(members[:cut])
        train.append(members[cut:])
    return np.sort(np.concatenate(train)), rng.permutation(np.concatenate(val))


class ReviewSet(Dataset):
    def __init__(self, split: EncodedSplit, rows: np.ndarray) -> None:
        self.tokens = torch.as_tensor(split.tokens[rows])
        self.lengths = torch.as_tensor(split.lengths[rows])
        self.labels = torch.as_tensor(split.labels[rows])
        self.rows = torch.as_tensor(rows)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> Batch:
        return self.tokens[i], self.lengths[i], self.labels[i], self.rows[i]

    def __getitems__(self, indices: list[int]) -> Batch:
        """Reviews `indices` as one batch: one gather per column (the DataLoader calls this for every batch;
        64 `__getitem__` calls and their stacking took about 1 ms)."""
        index = torch.as_tensor(indices)
        return self.tokens[index], self.lengths[index], self.labels[index], self.rows[index]


def trim_padding(pad_side: str):
    """A collate function that cuts the columns that are padding in every row of a batch (`ReviewSet.__getitems__`)."""

    def collate(batch: Batch) -> Batch:
        tokens, lengths, labels, rows = batch
        width = max(int(lengths.max()), 1)
        tokens = tokens[:, :width] if pad_side == "post" else tokens[:, tokens.shape[1] - width :]
        return tokens, lengths, labels, rows

    return collate


class ImdbData(SplitData):
    """25,000 training reviews (a stratified validation split carved out) and 25,000 test reviews."""

    def __init__(self, cfg: ImdbDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.sets: dict[str, ReviewSet] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        cfg = self.cfg
        cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        path = Path(cfg.path) if cfg.path else None
        self.root = locate_imdb(path, cache_dir, cfg.url, cfg.sha256, cfg.download)
        settings = cfg.text_settings()
        encoded = load_encoded_imdb(self.root, settings, cache_dir)
        train, val = stratified_split(encoded.train.labels, cfg.val_fraction, self.seed)
        test = np.random.default_rng(self.seed).permutation(len(encoded.test.labels))  # labels mixed, as above
        self.sets = {"train": ReviewSet(encoded.train, train), "val": ReviewSet(encoded.train, val),
                     "test": ReviewSet(encoded.test, test)}
        self.spec = ClassifySpec(encoded.vocab.to_dict(), asdict(settings), cfg.embedding_dim,
                                 cfg.embedding_dropout, cfg.head_dropout)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        reviews = self.sets[split]
        common = {"collate_fn": trim_padding(self.cfg.pad), "generator": private_generator(self.seed),
                  "num_workers": self.cfg.num_workers,
                  "persistent_workers": self.cfg.num_workers > 0}
        if self.cfg.bucket_by_length and (self.trainer is None or self.trainer.world_size == 1):
            # (several processes shard batches with Lightning's distributed sampler, which cannot wrap buckets)
            sampler = LengthBuckets(reviews.lengths, self.cfg.batch_size, shuffle, self.seed)
            return DataLoader(reviews, batch_sampler=sampler, **common)
        sampler = EpochShuffle(len(reviews), self.seed) if shuffle else None
        return DataLoader(reviews, batch_size=self.cfg.batch_size, sampler=sampler, **common)

    def test_texts(self) -> list[str]:
        """The raw test reviews, indexed like the `rows` of test batches (for the error report)."""
        return read_split(self.root, "test")[0]
