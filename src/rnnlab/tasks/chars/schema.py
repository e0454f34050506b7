"""The `data:` section of character-level language modelling: which text, how it is split and batched."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, fraction
from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


@dataclass
class CharsDataConfig:
    """Any UTF-8 text, split by position (train, validation, test), read as contiguous streams of characters."""

    path: str | None = None
    cache_dir: str | None = None
    url: str = TINY_SHAKESPEARE_URL
    sha256: str | None = TINY_SHAKESPEARE_SHA256
    download: bool = True
    val_fraction: float = 0.05
    test_fraction: float = 0.10
    bptt: int = 128
    batch_size: int = 64
    stateful: bool = True
    eval_batch_size: int = 16
    embedding_dim: int = 64
    embedding_dropout: float = 0.0
    output_dropout: float = 0.0
    tie_weights: bool = False
    ngram_order: int = 5
    sample_length: int = 300
    sample_prompt: str | None = None
    sample_temperature: float = 0.8
    num_workers: int = 0

    def check(self) -> None:
        for key in ("val_fraction", "test_fraction"):
            value = getattr(self, key)
            if not 0 < value < 1:
                raise UserError(f"data.{key}={value} is out of range; use a value in (0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction} "
                            "leaves no training text; keep their sum below 1")
        for key in ("bptt", "batch_size", "eval_batch_size", "embedding_dim", "ngram_order"):
            at_least(f"data.{key}", getattr(self, key), 1)
        at_least("data.sample_length", self.sample_length, 0)
        fraction("data.embedding_dropout", self.embedding_dropout)
        fraction("data.output_dropout", self.output_dropout)
        if not self.sample_temperature > 0:
            raise UserError(f"data.sample_temperature={self.sample_temperature} is not valid; use a value > 0")
        at_least("data.num_workers", self.num_workers, 0)


def check_causal(model: ModelConfig) -> None:
    """A language model predicts each character from the ones before it: an encoder that reads ahead may not."""
    if model.bidirectional:
        raise UserError("data=chars trains a causal language model, and a bidirectional encoder would read the "
                        "characters it must predict; use model=rnn, lstm, gru or stacked_lstm "
                        "(or model.bidirectional=false)")
    if model.attention != "none" or model.pooling != "last":
        raise UserError("data=chars predicts a character at every step from the states so far, so pooling or "
                        f"attention over a whole window (model.attention={model.attention}, "
                        f"model.pooling={model.pooling}) does not apply; use model.attention=none model.pooling=last")
