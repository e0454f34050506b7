"""Turning review text into fixed-length arrays of word ids: tokenizer, vocabulary, padding."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnlab.errors import UserError

DEFAULT_TOKEN_PATTERN = r"[a-z0-9']+"
PAD, OOV = "<pad>", "<oov>"
PAD_ID, OOV_ID = 0, 1
SIDES = ("pre", "post")
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)


class Tokenizer:
    """Splits text into words: removes `<br />` tags, optionally lower-cases, then keeps regex matches."""

    def __init__(self, lowercase: bool = True, pattern: str = DEFAULT_TOKEN_PATTERN) -> None:
        self.lowercase = lowercase
        self.pattern = pattern
        self._regex = _compile_token_pattern(pattern)

    def __call__(self, text: str) -> list[str]:
        text = _BREAK_TAG.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        return self._regex.findall(text)


def _compile_token_pattern(pattern: str) -> re.Pattern[str]:
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise UserError(
            f"data.token_pattern {pattern!r} is not a valid regular expression ({e}); fix the pattern"
        ) from None
    if regex.groups:
        # findall would return the groups instead of the whole match.
        raise UserError(f"data.token_pattern {pattern!r} has capturing groups; use non-capturing (?:...) groups")
    return regex


class Vocabulary:
    """Word <-> id mapping; id 0 is padding, id 1 stands for every word not in the vocabulary.

    It carries its tokenizer so that new text can be encoded exactly like the training data.
    """

    def __init__(self, words: Sequence[str], tokenizer: Tokenizer) -> None:
        if list(words[:2]) != [PAD, OOV]:
            raise UserError(
                f"vocabulary must start with {PAD!r}, {OOV!r}; the stored vocabulary is damaged, rebuild it"
            )
        self.words = list(words)
        self.tokenizer = tokenizer
        self._ids = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], size: int, tokenizer: Tokenizer) -> Vocabulary:
        """The `size - 2` most frequent words of `texts` (ties by word) plus PAD and OOV."""
        check_vocab_size(size)
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenizer(text))
        for special in (PAD, OOV):
            counts.pop(special, None)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls([PAD, OOV, *(word for word, _ in ranked[: size - 2])], tokenizer)

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        get = self._ids.get
        return [get(token, OOV_ID) for token in tokens]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, e.g. for a checkpoint."""
        return {"words": self.words, "lowercase": self.tokenizer.lowercase, "token_pattern": self.tokenizer.pattern}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        return cls(data["words"], Tokenizer(data["lowercase"], data["token_pattern"]))


def encode(
    texts: Sequence[str], vocab: Vocabulary, max_len: int, truncate: str, pad: str
) -> tuple[np.ndarray, np.ndarray]:
    """Token ids int64 [N, max_len] and lengths int64 [N], with Keras `pad_sequences` semantics.

    `truncate="pre"` drops tokens from the start (keeps the last `max_len`), "post" from the end;
    `pad="pre"` puts the padding before the tokens, "post" after. Lengths count the kept tokens
    (OOV included), so an empty text has length 0.
    """
    check_encoding(max_len, truncate, pad)
    tokens = np.full((len(texts), max_len), PAD_ID, dtype=np.int64)
    lengths = np.zeros(len(texts), dtype=np.int64)
    for row, text in enumerate(texts):
        ids = vocab.ids(vocab.tokenizer(text))
        ids = ids[-max_len:] if truncate == "pre" else ids[:max_len]
        start = 0 if pad == "post" else max_len - len(ids)
        tokens[row, start : start + len(ids)] = ids
        lengths[row] = len(ids)
    return tokens, lengths


def check_vocab_size(size: int) -> None:
    if size < 3:
        raise UserError(
            f"data.vocab_size is {size} but must be at least 3 (it counts the padding and out-of-vocabulary ids)"
        )


def check_encoding(max_len: int, truncate: str, pad: str) -> None:
    if max_len <= 0:
        raise UserError(f"data.max_len is {max_len} but must be a positive number of tokens")
    for option, value in (("truncate", truncate), ("pad", pad)):
        if value not in SIDES:
            raise UserError(f"data.{option} is {value!r} but must be 'pre' or 'post'")


@dataclass(frozen=True)
class TextSettings:
    """Every setting that changes the encoded arrays; all of them key the encoded cache."""

    vocab_size: int = 20_000
    max_len: int = 400
    truncate: str = "pre"
    pad: str = "post"
    lowercase: bool = True
    token_pattern: str = DEFAULT_TOKEN_PATTERN

    def __post_init__(self) -> None:
        check_vocab_size(self.vocab_size)
        check_encoding(self.max_len, self.truncate, self.pad)
        _compile_token_pattern(self.token_pattern)

    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.lowercase, self.token_pattern)
