"""Tagged sentences as a LightningDataModule: vocabularies from training (words, characters, tags), sentences
of any length in length-bucketed batches, padded after their words."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.batches import LengthBuckets
from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.tagging.conll import Sentence, find_splits, read_sentences
from rnnlab.tasks.tagging.schema import TaggingDataConfig
from rnnlab.tasks.tagging.treebank import default_treebank

PAD, UNK = 0, 1  # ids of padding and unknown words/characters
IGNORE = -100  # target id of padding, and of a test tag never seen in training (scored as a miss)

# words [B, T], lengths [B], characters [B, T, C], tags [B, T], sentence index [B]
Batch = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class TaggingSpec:
    """What a tagger needs: its vocabularies (saved in the checkpoint) and its input and head settings."""

    words: list[str]  # id -> word; 0 pad, 1 unknown
    chars: list[str]  # id -> character; 0 pad, 1 unknown
    tags: list[str]
    embedding_dim: int
    char_embedding_dim: int
    char_hidden_size: int
    word_dropout: float = 0.0
    dropout: float = 0.0
    crf: bool = False
    task: str = "tagging"
    word_dropout_mode: str = "uniform"
    word_counts: tuple[int, ...] = ()  # training count of each word id (word_dropout_mode=frequency only)
    loss_per: str = "batch"  # batch: each batch's mean | word: summed over words_per_batch (every word weighs the same)
    words_per_batch: float = 1.0  # training words over training batches
    lowercase: bool = False  # word ids of lower-cased words (False in checkpoints from before the setting)


def vocabulary(counts: Counter, min_count: int) -> list[str]:
    """["<pad>", "<unk>", then items seen at least `min_count` times, most frequent first, ties alphabetical]."""
    kept = sorted((item for item, count in counts.items() if count >= min_count), key=lambda i: (-counts[i], i))
    return ["<pad>", "<unk>", *kept]


class Encoded(Dataset):
    """Sentences as id tensors: item i = (word ids [T], character ids [T, C], tag ids [T], i)."""

    def __init__(self, sentences: list[Sentence], spec: TaggingSpec, max_len: int | None) -> None:
        words = {word: i for i, word in enumerate(spec.words)}
        chars = {char: i for i, char in enumerate(spec.chars)}
        tags = {tag: i for i, tag in enumerate(spec.tags)}
        self.sentences = [Sentence(s.words[:max_len], s.tags[:max_len]) for s in sentences] if max_len else sentences
        fold = str.lower if spec.lowercase else str
        self.words = [torch.tensor([words.get(fold(w), UNK) for w in s.words]) for s in self.sentences]
        self.chars = [pad_sequence([torch.tensor([chars.get(c, UNK) for c in w]) for w in s.words], batch_first=True)
                      for s in self.sentences]
        self.tags = [torch.tensor([tags.get(t, IGNORE) for t in s.tags]) for s in self.sentences]
        self.lengths = torch.tensor([len(s.words) for s in self.sentences])

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor, int]:
        return self.words[i], self.chars[i], self.tags[i], i


def collate(items: list[tuple[Tensor, Tensor, Tensor, int]]) -> Batch:
    """Pad words and tags after each sentence, characters after each word and word."""
    words, chars, tags, rows = zip(*items)
    lengths = torch.tensor([len(w) for w in words])
    width = max(c.shape[1] for c in chars)
    char_ids = torch.zeros(len(items), int(lengths.max()), width, dtype=torch.long)
    for i, c in enumerate(chars):
        char_ids[i, : c.shape[0], : c.shape[1]] = c
    return (pad_sequence(list(words), batch_first=True, padding_value=PAD), lengths, char_ids,
            pad_sequence(list(tags), batch_first=True, padding_value=IGNORE), torch.tensor(rows))


def read_splits(cfg: TaggingDataConfig) -> dict[str, list[Sentence]]:
    if cfg.train is not None:
        named = {"train": cfg.train, "val": cfg.val, "test": cfg.test}
        missing = [split for split, path in named.items() if path is None]
        if missing:
            raise UserError(f"data.train is set but data.{missing[0]} is not; name all three files, or give "
                            "data.path=<their folder>")
        paths = {split: Path(path).expanduser() for split, path in named.items()}
    elif cfg.path is not None:
        paths = find_splits(Path(cfg.path).expanduser())
    else:
        paths = default_treebank(cfg)
    return {split: read_sentences(path, cfg.format, cfg.tag_column) for split, path in paths.items()}


class TaggingData(SplitData):
    """Train, validation and test sentences from their own files; nothing is truncated unless data.max_len says."""

    def __init__(self, cfg: TaggingDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.sets: dict[str, Encoded] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        cfg = self.cfg
        splits = read_splits(cfg)
        train = splits["train"]
        word_counts = Counter(word for sentence in train for word in sentence.words)
        vocab_counts = Counter(word.lower() for word in word_counts.elements()) if cfg.lowercase else word_counts
        char_counts = Counter(char for sentence in train for word in sentence.words for char in word)
        tags = sorted({tag for sentence in train for tag in sentence.tags})
        words = vocabulary(vocab_counts, cfg.min_count)
        counts = tuple(vocab_counts.get(word, 0) for word in words) if cfg.word_dropout_mode == "frequency" else ()
        self.spec = TaggingSpec(words, vocabulary(char_counts, 1), tags, cfg.embedding_dim, cfg.char_embedding_dim,
                                cfg.char_hidden_size, cfg.word_dropout, cfg.dropout, cfg.crf,
                                word_dropout_mode=cfg.word_dropout_mode, word_counts=counts, loss_per=cfg.loss_per,
                                lowercase=cfg.lowercase,
                                words_per_batch=sum(word_counts.values()) / -(-len(train) // cfg.batch_size))
        self.sets = {split: Encoded(sentences, self.spec, cfg.max_len) for split, sentences in splits.items()}
        self.train_words, self.raw_train = word_counts, train
        self.unseen_tags = Counter(tag for split in ("val", "test") for s in splits[split] for tag in s.tags
                                   if tag not in set(tags))

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        sentences, cfg = self.sets[split], self.cfg
        common = {"collate_fn": collate, "generator": private_generator(self.seed), "num_workers": cfg.num_workers,
                  "persistent_workers": cfg.num_workers > 0}
        if cfg.bucket_by_length and (self.trainer is None or self.trainer.world_size == 1):
            sampler = LengthBuckets(sentences.lengths, cfg.batch_size, shuffle, self.seed)
            return DataLoader(sentences, batch_sampler=sampler, **common)
        order = EpochShuffle(len(sentences), self.seed) if shuffle else None
        return DataLoader(sentences, batch_size=cfg.batch_size, sampler=order, **common)
