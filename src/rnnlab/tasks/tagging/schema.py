"""The `data:` section of sequence tagging: where the sentences are, which tag, how words become vectors."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab.checks import at_least, choice, fraction
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig

TAG_COLUMNS = ("upos", "xpos")
FORMATS = ("auto", "conllu", "columns")
LOSS_PER = ("batch", "word")
UD_EWT_URL = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.16"
# dev and test of the release (the train file is checked for completeness only)
UD_EWT_SHA256 = {"val": "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
                 "test": "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd"}


@dataclass
class TaggingDataConfig:
    """CoNLL-U treebanks (Universal Dependencies) or token-TAB-tag files, one sentence per blank-line block."""

    path: str | None = None
    train: str | None = None
    val: str | None = None
    test: str | None = None
    cache_dir: str | None = None
    url: str = UD_EWT_URL
    sha256: dict[str, str] = field(default_factory=lambda: dict(UD_EWT_SHA256))
    download: bool = True
    format: str = "auto"
    tag_column: str = "upos"
    min_count: int = 1
    lowercase: bool = True
    word_dropout: float = 0.25
    word_dropout_mode: str = "uniform"
    embedding_dim: int = 100
    char_embedding_dim: int = 32
    char_hidden_size: int = 50
    max_len: int | None = None
    batch_size: int = 32
    bucket_by_length: bool = True
    dropout: float = 0.33
    crf: bool = False
    loss_per: str = "word"
    num_workers: int = 0

    def check(self) -> None:
        choice("data.format", self.format, FORMATS)
        choice("data.tag_column", self.tag_column, TAG_COLUMNS)
        for key in ("min_count", "embedding_dim", "char_embedding_dim", "char_hidden_size", "batch_size"):
            at_least(f"data.{key}", getattr(self, key), 1)
        if self.max_len is not None:
            at_least("data.max_len", self.max_len, 1)
        choice("data.word_dropout_mode", self.word_dropout_mode, ("uniform", "frequency"))
        choice("data.loss_per", self.loss_per, LOSS_PER)
        fraction("data.word_dropout", self.word_dropout)
        fraction("data.dropout", self.dropout)
        at_least("data.num_workers", self.num_workers, 0)


def check_tagger_model(model: ModelConfig) -> None:
    """A tag per word: the encoder's states at every step are what is read, never a pooled summary."""
    if model.attention != "none" or model.pooling != "last":
        raise UserError(f"data=tagging tags every word from its own state, so attention pooling or pooling over the "
                        f"sentence (model.attention={model.attention}, model.pooling={model.pooling}) does not "
                        "apply; use model.attention=none model.pooling=last (e.g. model=bilstm or model=bigru)")
