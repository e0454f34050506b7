"""The `data:` section of text classification: where the labelled texts are, how they are tokenised and split,
the classifier's input and head.

One schema serves every source, so that IMDB and a user's files take the same path through data, model and
metrics: `format: imdb` is the official archive (found, downloaded and cached; `data=imdb`), every other
format reads the user's files (`data=text`). Keys marked (imdb) or (files) are read by that source only.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, choice, fraction
from rnnlab.data.text import TextSettings
from rnnlab.errors import UserError

FORMATS = ("imdb", "auto", "csv", "tsv", "jsonl", "folders")
EMPTY_TEXTS = ("skip", "error")
CLASS_WEIGHTS = ("none", "balanced")


@dataclass
class ClassifyDataConfig:
    """Labelled texts (the IMDB archive, or CSV/TSV/JSONL files or a folder per class), tokenised into word ids."""

    format: str = "imdb"
    path: str | None = None
    # (imdb) where the archive is looked for and fetched from
    cache_dir: str | None = None
    url: str = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    sha256: str | None = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    download: bool = True
    # (files) which files, which columns, what to do with empty texts
    train: str | None = None
    val: str | None = None
    test: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    delimiter: str | None = None
    empty_texts: str = "skip"
    test_fraction: float = 0.1
    split_seed: int = 0
    # both
    vocab_size: int = 20000
    max_len: int = 400
    truncate: str = "pre"
    pad: str = "pre"
    lowercase: bool = True
    token_pattern: str = "[a-z0-9']+"
    val_fraction: float = 0.1
    class_weights: str = "none"
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
        choice("data.format", self.format, FORMATS)
        choice("data.empty_texts", self.empty_texts, EMPTY_TEXTS)
        choice("data.class_weights", self.class_weights, CLASS_WEIGHTS)
        self.text_settings()  # vocab_size, max_len, truncate, pad, token_pattern: checked where they are used
        for key in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, key) < 1:
                raise UserError(f"data.{key}={getattr(self, key)} is out of range; use a value in (0, 1)")
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UserError(f"data.delimiter={self.delimiter!r} is not one character; give e.g. ',' or ';' "
                            "(or null to detect it)")
        if self.format != "imdb" and self.path is None and self.train is None:
            raise UserError("data=text needs your data: data.path=<a CSV/TSV/JSONL file or a folder> or "
                            "data.train=<file> (data=imdb reads the IMDB archive)")
        at_least("data.batch_size", self.batch_size, 1)
        at_least("data.embedding_dim", self.embedding_dim, 1)
        fraction("data.embedding_dropout", self.embedding_dropout)
        fraction("data.head_dropout", self.head_dropout)
        at_least("data.num_workers", self.num_workers, 0)
        at_least("data.wrong_examples", self.wrong_examples, 0)
