"""The `data:` section of text classification: where IMDB is, how it is tokenised, the classifier's input and head."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, fraction
from rnnlab.data.text import TextSettings
from rnnlab.errors import UserError


@dataclass
class ImdbDataConfig:
    """The Large Movie Review Dataset: where to find it, how to tokenise it, and the classifier's input/head."""

    path: str | None = None
    cache_dir: str | None = None
    url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    sha256: str | None = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    download: bool = True
    vocab_size: int = 20000
    max_len: int = 400
    truncate: str = "pre"
    pad: str = "pre"
    lowercase: bool = True
    token_pattern: str = "[a-z0-9']+"
    val_fraction: float = 0.1
    batch_size: int = 64
    bucket_by_length: bool = True
    embedding_dim: int = 128
    embedding_dropout: float = 0.0
    head_dropout: float = 0.0
    num_workers: int = 0
    wrong_examples: int = 10

    def text_settings(self) -> TextSettings:
        return TextSettings(self.vocab_size, self.max_len, self.truncate, self.pad, self.lowercase, self.token_pattern)

    def check(self) -> None:
        self.text_settings()  # vocab_size, max_len, truncate, pad, token_pattern: checked where they are used
        if not 0 < self.val_fraction < 1:
            raise UserError(f"data.val_fraction={self.val_fraction} is out of range; use a value in (0, 1)")
        at_least("data.batch_size", self.batch_size, 1)
        at_least("data.embedding_dim", self.embedding_dim, 1)
        fraction("data.embedding_dropout", self.embedding_dropout)
        fraction("data.head_dropout", self.head_dropout)
        at_least("data.num_workers", self.num_workers, 0)
        at_least("data.wrong_examples", self.wrong_examples, 0)
