"""Translation as a LightningDataModule: generated toy pairs or a pair file, splits disjoint by source,
vocabularies, padded batches."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.translate import pairs as toy
from rnnlab.tasks.translate.pair_file import Group, TextForm, filter_pairs, group_by_source, read_pairs, split_by_source
from rnnlab.tasks.translate.pairs import Pair, make_pairs
from rnnlab.tasks.translate.schema import TranslationDataConfig

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<s>", "</s>"]
UNK = "<unk>"  # a pair file's vocabularies only: every token seen fewer than data.min_count times in training
FILE_PAIRS = "file"  # TranslateSpec.pairs of a model trained on a pair file

# source ids [B, S], source lengths [B], decoder inputs <s> y [B, T], decoder targets y </s> [B, T], pair index [B]
Batch = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class TranslateSpec:
    """What a translation model needs: both vocabularies and, for a pair file, how text becomes tokens (all saved
    in the checkpoint, so predict reads a sentence as training did), and the target lengths."""

    pairs: str  # the generated task (dates | reverse | numbers), or "file"
    source_vocab: list[str]
    target_vocab: list[str]
    embedding_dim: int
    max_target_len: int  # longest target of the training pairs, in tokens (</s> not counted)
    task: str = "translate"
    text_form: dict[str, Any] = field(default_factory=dict)  # a pair file's TextForm settings

    def _form(self) -> TextForm:
        return TextForm(**self.text_form)

    def source_tokens(self, text: str) -> list[str]:
        """A user's sentence as source tokens, read the way the training sources were."""
        return self._form().tokenize(text) if self.pairs == FILE_PAIRS else toy.source_tokens(self.pairs, text)

    def source_text(self, tokens: list[str]) -> str:
        return self._form().join(tokens) if self.pairs == FILE_PAIRS else toy.source_text(self.pairs, tokens)

    def target_text(self, tokens: list[str]) -> str:
        return self._form().join(tokens) if self.pairs == FILE_PAIRS else toy.target_text(self.pairs, tokens)


def build_vocab(sequences: list[list[str]]) -> list[str]:
    """The special tokens, then every token of `sequences` in sorted order (ids are list positions)."""
    return SPECIALS + sorted({token for sequence in sequences for token in sequence} - set(SPECIALS))


def counted_vocab(sequences: list[list[str]], min_count: int) -> list[str]:
    """The special tokens, UNK, then the tokens seen at least `min_count` times (rarer ones become UNK)."""
    counts = Counter(token for sequence in sequences for token in sequence)
    return SPECIALS + [UNK] + sorted(t for t, n in counts.items() if n >= min_count and t not in {*SPECIALS, UNK})


def encode_sources(sources: list[list[str]], vocab: list[str]) -> list[Tensor]:
    """Token ids of each source: tokens the model never saw are UNK if the vocabulary has it, else a UserError
    naming them (the generated tasks, whose vocabularies are complete)."""
    index = {token: i for i, token in enumerate(vocab[len(SPECIALS):], start=len(SPECIALS))}
    if UNK in index:
        return [torch.tensor([index.get(token, index[UNK]) for token in tokens]) for tokens in sources]
    unknown = sorted({token for tokens in sources for token in tokens if token not in index})
    if unknown:
        shown = ", ".join(repr(token) for token in unknown[:10])
        raise UserError(f"the source contains {shown}, which the model's vocabulary does not have; "
                        f"use only these: {''.join(vocab[len(SPECIALS):])[:200]}")
    return [torch.tensor([index[token] for token in tokens]) for tokens in sources]


class PairSet(Dataset):
    """Encoded pairs; item i = (source ids, target ids with </s>, i).

    `references[i]` are the target token lists a prediction for source i is scored against: every translation
    the file gives that source (default: the pair's own target).
    """

    def __init__(self, pairs: list[Pair], source_vocab: list[str], target_vocab: list[str],
                 references: list[list[list[str]]] | None = None) -> None:
        self.pairs = pairs
        self.references = references or [[target] for _, target in pairs]
        target_index = {token: i for i, token in enumerate(target_vocab)}
        unknown = target_index.get(UNK)
        self.sources = encode_sources([source for source, _ in pairs], source_vocab)
        self.targets = [torch.tensor([target_index.get(t, unknown) for t in target] + [EOS]) for _, target in pairs]

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
    """Pairs generated from the seed (`data.train_size + val_size + test_size`, distinct sources), or read from
    `data.path` and split by source with the seed."""

    def __init__(self, cfg: TranslationDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.sets: dict[str, PairSet] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        self.sets, self.spec = self._from_file() if self.cfg.path is not None else self._generated()

    def _generated(self) -> tuple[dict[str, PairSet], TranslateSpec]:
        cfg = self.cfg
        sizes = {"train": cfg.train_size, "val": cfg.val_size, "test": cfg.test_size}
        pairs = make_pairs(cfg.task, sum(sizes.values()), *cfg.lengths(), cfg.symbols, self.seed)
        splits, start = {}, 0
        for split, size in sizes.items():
            splits[split] = pairs[start : start + size]
            start += size
        source_vocab = build_vocab([source for source, _ in pairs])
        target_vocab = build_vocab([target for _, target in pairs])
        sets = {split: PairSet(chunk, source_vocab, target_vocab) for split, chunk in splits.items()}
        longest = max(len(target) for _, target in splits["train"])
        return sets, TranslateSpec(cfg.task, source_vocab, target_vocab, cfg.embedding_dim, longest)

    def _from_file(self) -> tuple[dict[str, PairSet], TranslateSpec]:
        """Training keeps every (source, target) pair; val/test hold each source once, with all its targets as
        references (the first one is its teacher-forced target). Vocabularies come from training alone."""
        cfg, path, form = self.cfg, Path(self.cfg.path).expanduser(), self.cfg.text_form()
        pairs = filter_pairs(read_pairs(path, form, cfg.reverse), path, form, cfg.min_len, cfg.max_len,
                             cfg.prefixes, cfg.prefix_side)
        groups = split_by_source(group_by_source(pairs), cfg.val_fraction, cfg.test_fraction, self.seed, path)
        train = [(source, target) for source, targets in groups["train"] for target in targets]
        source_vocab = counted_vocab([source for source, _ in train], cfg.min_count)
        target_vocab = counted_vocab([target for _, target in train], cfg.min_count)

        def held_out(split_groups: list[Group]) -> PairSet:
            return PairSet([(source, targets[0]) for source, targets in split_groups], source_vocab, target_vocab,
                           [targets for _, targets in split_groups])

        sets = {"train": PairSet(train, source_vocab, target_vocab), "val": held_out(groups["val"]),
                "test": held_out(groups["test"])}
        longest = max(len(target) for _, target in train)
        return sets, TranslateSpec(FILE_PAIRS, source_vocab, target_vocab, cfg.embedding_dim, longest,
                                   text_form=asdict(form))

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        pairs = self.sets[split]
        return DataLoader(pairs, batch_size=self.cfg.batch_size, collate_fn=collate_pairs,
                          sampler=EpochShuffle(len(pairs), self.seed) if shuffle else None,
                          generator=private_generator(self.seed), num_workers=self.cfg.num_workers,
                          persistent_workers=self.cfg.num_workers > 0)

    def test_pairs(self) -> list[Pair]:
        """The test pairs, indexed like the `rows` of test batches (for the examples and heatmaps)."""
        return self.sets["test"].pairs
