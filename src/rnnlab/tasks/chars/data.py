"""Character streams as a LightningDataModule: a batch is B contiguous streams of the text, one window of
`data.bptt` characters each, so each window's final states can start the next (truncated back-propagation)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from rnnlab.data.splits import EpochShuffle, SplitData, private_generator
from rnnlab.errors import UserError
from rnnlab.tasks.chars.corpus import Corpus, build_corpus, locate_text, read_text
from rnnlab.tasks.chars.schema import CharsDataConfig

Batch = tuple[Tensor, Tensor]  # input ids [B, T], target ids [B, T] (the inputs shifted by one character)


@dataclass(frozen=True)
class CharsSpec:
    """What a character language model needs: its characters (saved in the checkpoint) and its input/output."""

    chars: list[str]
    embedding_dim: int
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0
    tie_weights: bool = False
    stateful: bool = True
    task: str = "chars"


def streams(ids: np.ndarray, count: int) -> tuple[Tensor, Tensor]:
    """`count` contiguous streams of equal length: inputs [count, L] and targets [count, L] one character on."""
    length = (len(ids) - 1) // count
    inputs = ids[: count * length].reshape(count, length)
    targets = ids[1 : count * length + 1].reshape(count, length)
    return torch.as_tensor(inputs), torch.as_tensor(targets)


class StreamWindows(Dataset):
    """Item i: window i of every stream ([B, bptt], the last window possibly shorter), in the text's order."""

    def __init__(self, ids: np.ndarray, count: int, bptt: int) -> None:
        self.inputs, self.targets = streams(ids, count)
        self.bptt = bptt

    def __len__(self) -> int:
        return -(-self.inputs.shape[1] // self.bptt)

    def __getitem__(self, i: int) -> Batch:
        window = slice(i * self.bptt, (i + 1) * self.bptt)
        return self.inputs[:, window], self.targets[:, window]


class RandomWindows(Dataset):
    """Item i: the i-th non-overlapping window of `bptt` characters (batched in a new random order each epoch)."""

    def __init__(self, ids: np.ndarray, bptt: int) -> None:
        self.inputs, self.targets = streams(ids, (len(ids) - 1) // bptt)
        self.bptt = bptt

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def __getitem__(self, i: int) -> Batch:
        return self.inputs[i], self.targets[i]


class CharsData(SplitData):
    """Any UTF-8 text split by position (train, validation, test last), as streams of character ids."""

    def __init__(self, cfg: CharsDataConfig, seed: int) -> None:
        super().__init__()
        self.cfg, self.seed = cfg, seed
        self.corpus: Corpus | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.corpus is not None:
            return
        cfg = self.cfg
        path = locate_text(cfg)
        corpus = build_corpus(read_text(path), cfg.val_fraction, cfg.test_fraction)
        train = len(corpus.splits["train"])
        if (train - 1) // cfg.batch_size < cfg.bptt:
            raise UserError(f"the training part of {path} has {train:,} characters, fewer than one window of "
                            f"data.bptt={cfg.bptt} for each of data.batch_size={cfg.batch_size} streams; lower "
                            f"data.batch_size or data.bptt, or give more text")
        for split in ("val", "test"):
            if len(corpus.splits[split]) < 2:
                raise UserError(f"the {split} part of {path} has {len(corpus.splits[split])} characters; "
                                f"raise data.{split}_fraction or give more text")
        prompt = cfg.sample_prompt if cfg.sample_prompt is not None else corpus.chars[corpus.splits["train"][0]]
        missing = sorted(set(prompt) - set(corpus.chars))
        if missing or not prompt:
            raise UserError(f"data.sample_prompt={cfg.sample_prompt!r} needs characters the text has "
                            f"({'no prompt' if not prompt else 'missing: ' + ', '.join(map(repr, missing))}); "
                            "change it, or null to start from the text's first character")
        self.corpus, self.path, self.sample_prompt = corpus, path, prompt
        self.spec = CharsSpec(corpus.chars, cfg.embedding_dim, cfg.embedding_dropout, cfg.output_dropout,
                              cfg.tie_weights, cfg.stateful)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        ids, cfg = self.corpus.splits[split], self.cfg
        common = {"num_workers": cfg.num_workers, "persistent_workers": cfg.num_workers > 0,
                  "generator": private_generator(self.seed)}
        if split == "train" and not cfg.stateful:
            windows = RandomWindows(ids, cfg.bptt)
            return DataLoader(windows, batch_size=cfg.batch_size, sampler=EpochShuffle(len(windows), self.seed),
                              **common)
        # evaluation reads its whole text statefully, in fewer streams (each starts from a zero state)
        count = cfg.batch_size if split == "train" else max(1, min(cfg.eval_batch_size, (len(ids) - 1)))
        return DataLoader(StreamWindows(ids, count, cfg.bptt), batch_size=None, shuffle=False, **common)
