"""Toy translation as a LightningDataModule: generated pairs, disjoint splits, vocabularies, padded batches."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.translate.pairs import Pair, make_pairs
from rnnlab.tasks.translate.schema import TranslationDataConfig

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]

# source ids [B, S], source lengths [B], decoder inputs <s> y [B, T], decoder targets y </s> [B, T], pair index [B]
Batch = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class TranslateSpec:
    """What a translation model needs: both vocabularies (saved in the checkpoint) and the target lengths."""

    pairs: str  # the generated task: dates | reverse | numbers
    source_vocab: list[str]
    target_vocab: list[str]
    embedding_dim: int
    max_target_len: int  # longest target of the training pairs, in tokens (</s> not counted)
    task: str = "translate"


def build_vocab(sequences: list[list[str]]) -> list[str]:
    """The special tokens, then every token of `sequences` in sorted order (ids are list positions)."""
    return SPECIALS + sorted({token for sequence in sequences for token in sequence} - set(SPECIALS))


def encode_sources(sources: list[list[str]], vocab: list[str]) -> list[Tensor]:
    """Token ids of each source; tokens the model never saw raise a UserError naming them."""
    index = {token: i for i, token in enumerate(vocab[len(SPECIALS):], start=len(SPECIALS))}
    unknown = sorted({token for tokens in sources for token in tokens if token not in index})
    if unknown:
        shown = ", ".join(repr(token) for token in unknown[:10])
        raise UserError(f"the source contains {shown}, which the model's vocabulary does not have; "
                        f"use only these: {''.join(vocab[len(SPECIALS):])[:200]}")
    return [torch.tensor([index[token] for token in tokens]) for tokens in sources]


class PairSet(Dataset):
    """Encoded pairs; item i = (source ids, target ids with </s>, i)."""

    def __init__(self, pairs: list[Pair], source_vocab: list[str], target_vocab: list[str]) -> None:
        self.pairs = pairs
        target_index = {token: i for i, token in enumerate(target_vocab)}
        self.sources = encode_sources([source for source, _ in pairs], source_vocab)
        self.targets = [torch.tensor([target_index[t] for t in target] + [EOS]) for _, target in pairs]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, int]:
        return self.sources[i], self.targets[i], i


def collate_pairs(items: list[tuple[Tensor, Tensor, int]]) -> Batch:
    """Right-pad sources and targets of a batch; the decoder reads <s> y and predicts y </s>."""
    sources, targets, rows = zip(*items)
    lengths = torch.tensor([len(source) for source in sources])
    source = pad_sequence(list(sources), batch_first=True, padding_value=PAD)
    target_out = pad_sequence(list(targets), batch_first=True, padding_value=PAD)
    target_in = torch.cat([torch.full((len(items), 1), SOS), target_out[:, :-1]], dim=1)
    target_in = target_in.masked_fill(target_in == EOS, PAD)
    return source, lengths, target_in, target_out, torch.tensor(rows)


class TranslationData(SplitData):
    """`data.train_size + val_size + test_size` pairs with distinct sources, generated from the seed."""

    def __init__(self, cfg: TranslationDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.sets: dict[str, PairSet] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        cfg = self.cfg
        sizes = {"train": cfg.train_size, "val": cfg.val_size, "test": cfg.test_size}
        pairs = make_pairs(cfg.task, sum(sizes.values()), *cfg.lengths(), cfg.symbols, self.seed)
        splits, start = {}, 0
        for split, size in sizes.items():
            splits[split] = pairs[start : start + size]
            start += size
        source_vocab = build_vocab([source for source, _ in pairs])
        target_vocab = build_vocab([target for _, target in pairs])
        self.sets = {split: PairSet(chunk, source_vocab, target_vocab) for split, chunk in splits.items()}
        longest = max(len(target) for _, target in splits["train"])
        self.spec = TranslateSpec(cfg.task, source_vocab, target_vocab, cfg.embedding_dim, longest)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        pairs = self.sets[split]
        return DataLoader(pairs, batch_size=self.cfg.batch_size, collate_fn=collate_pairs,
                          sampler=EpochShuffle(len(pairs), self.seed) if shuffle else None,
                          generator=private_generator(self.seed), num_workers=self.cfg.num_workers,
                          persistent_workers=self.cfg.num_workers > 0)

    def test_pairs(self) -> list[Pair]:
        """The test pairs, indexed like the `rows` of test batches (for the examples and heatmaps)."""
        return self.sets["test"].pairs
