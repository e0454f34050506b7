"""Labelled texts as a LightningDataModule: read (IMDB located and cached, or the user's files), encoded, split,
batched by length."""

from __future__ import annotations

import logging
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
from rnnlab.data.text import TextSettings, Vocabulary, encode
from rnnlab.tasks.classify.files import read_labelled_files
from rnnlab.tasks.classify.imdb import LABELS, EncodedSplit, load_encoded_imdb, locate_imdb, read_split
from rnnlab.tasks.classify.schema import ClassifyDataConfig
from rnnlab.tasks.classify.splits import assemble_splits, balanced_weights, class_counts, stratified_split

log = logging.getLogger(__name__)

Batch = tuple[Tensor, Tensor, Tensor, Tensor]  # tokens [B, T], lengths [B], labels [B], review index [B]


@dataclass(frozen=True)
class ClassifySpec:
    """What a text classifier needs: the vocabulary (with its tokenizer), how text was encoded, the class names
    (two: one logit, P(second class) by a sigmoid, as IMDB's; more: a logit per class and a softmax)."""

    vocab: dict[str, Any]  # Vocabulary.to_dict(): stored in the checkpoint so prediction needs nothing else
    text: dict[str, Any]  # TextSettings as a dict: max_len, truncate, pad, ...
    embedding_dim: int
    embedding_dropout: float = 0.0
    head_dropout: float = 0.0
    labels: list[str] = field(default_factory=lambda: ["neg", "pos"])  # class names, in the order of the outputs
    class_weights: list[float] | None = None  # per class, in the loss (data.class_weights=balanced); None: equal
    task: str = "classify"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab["words"])


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


class ClassifyData(SplitData):
    """Labelled texts encoded as word ids: the IMDB archive (`format: imdb`) or the user's files (`data=text`).

    IMDB's 25,000 training reviews give a stratified validation split and its 25,000 test reviews the test
    set; the user's files give whichever splits they hold, the rest carved out stratified (`splits.py`).
    """

    def __init__(self, cfg: ClassifyDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.sets: dict[str, ReviewSet] = {}
        self.train_counts: dict[str, int] = {}  # training texts per class: the imbalance, the majority baseline

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        settings = self.cfg.text_settings()
        classes, vocab = self._setup_imdb(settings) if self.cfg.format == "imdb" else self._setup_files(settings)
        self.train_counts = class_counts(self.sets["train"].labels.numpy(), classes)
        log.info("training texts per class: %s", ", ".join(f"{c} {n:,}" for c, n in self.train_counts.items()))
        weights = balanced_weights(self.train_counts) if self.cfg.class_weights == "balanced" else None
        self.spec = ClassifySpec(vocab.to_dict(), asdict(settings), self.cfg.embedding_dim,
                                 self.cfg.embedding_dropout, self.cfg.head_dropout, classes, weights)

    def _setup_imdb(self, settings: TextSettings) -> tuple[list[str], Vocabulary]:
        cfg = self.cfg
        cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        path = Path(cfg.path) if cfg.path else None
        self.root = locate_imdb(path, cache_dir, cfg.url, cfg.sha256, cfg.download)
        encoded = load_encoded_imdb(self.root, settings, cache_dir)
        train, val = stratified_split(encoded.train.labels, cfg.val_fraction, self.seed)
        test = np.random.default_rng(self.seed).permutation(len(encoded.test.labels))  # labels mixed, as above
        self.sets = {"train": ReviewSet(encoded.train, train), "val": ReviewSet(encoded.train, val),
                     "test": ReviewSet(encoded.test, test)}
        return [name for name, _ in LABELS], encoded.vocab

    def _setup_files(self, settings: TextSettings) -> tuple[list[str], Vocabulary]:
        splits, classes = assemble_splits(read_labelled_files(self.cfg), self.cfg, self.seed)
        vocab = Vocabulary.build(splits["train"].texts, settings.vocab_size, settings.tokenizer())
        rng = np.random.default_rng(self.seed)
        for split, found in splits.items():
            tokens, lengths = encode(found.texts, vocab, settings.max_len, settings.truncate, settings.pad)
            # evaluation files often list one class after another: their rows go in a seeded random order
            rows = np.arange(len(found.labels)) if split == "train" else rng.permutation(len(found.labels))
            self.sets[split] = ReviewSet(EncodedSplit(tokens, lengths, found.labels), rows)
        self.test_split = splits["test"]
        return classes, vocab

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
        """The raw test texts, indexed like the `rows` of test batches (for the error report)."""
        return read_split(self.root, "test")[0] if self.cfg.format == "imdb" else self.test_split.texts
