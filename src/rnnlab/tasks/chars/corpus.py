"""The text of a character language model: found (data.path -> the cache -> a checked download), read as UTF-8,
split by position and turned into ids over its characters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.archive import default_cache_dir, download
from rnnlab.errors import UserError
from rnnlab.tasks.chars.schema import CharsDataConfig

CACHED_NAME = "tinyshakespeare.txt"


def locate_text(cfg: CharsDataConfig) -> Path:
    """`data.path` if given, else the cached copy, else the download of `data.url` (SHA-256 checked) into the cache."""
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_file():
            raise UserError(f"data.path '{path}' is not a file; give a UTF-8 text file (any text trains)")
        return path
    cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
    cached = cache_dir / CACHED_NAME
    where = (f"put the text at data.path=<file> or copy tiny Shakespeare (the char-rnn input.txt) to {cached}")
    if cached.is_file():
        return cached
    if not cfg.download:
        raise UserError(f"no text to train on and downloading is off; {where}")
    try:
        return download(cfg.url, cached, cfg.sha256)
    except UserError as error:
        raise UserError(f"no text found locally and {error}; {where}") from None


def read_text(path: Path) -> str:
    """The file as UTF-8 text; a file that is not says where its first undecodable byte is."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"{path} is not UTF-8 text: byte {error.start} (0x{raw[error.start]:02x}) cannot be "
                        "decoded; convert it to UTF-8 (e.g. iconv -t utf-8)") from None
    if "\x00" in text:
        raise UserError(f"{path} holds NUL bytes (first at character {text.index(chr(0))}): it is binary, not "
                        "text; give a text file")
    if not text:
        raise UserError(f"{path} is empty; give a text file with something to learn")
    return text


@dataclass(frozen=True)
class Corpus:
    """The text's characters (the vocabulary, in sorted order) and its three splits as ids."""

    chars: list[str]
    splits: dict[str, np.ndarray]  # train / val / test ids, int64, in the text's order


def split_bounds(length: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """[start, end) of each split by position: train first, then validation, then test (the text's end)."""
    test_start = length - round(length * test_fraction)
    val_start = test_start - round(length * val_fraction)
    return {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, length)}


def build_corpus(text: str, val_fraction: float, test_fraction: float) -> Corpus:
    """Vocabulary over the whole text (a character seen only in the test part still has an id, as in nanoGPT)."""
    chars = sorted(set(text))
    table = {char: i for i, char in enumerate(chars)}
    ids = np.fromiter((table[char] for char in text), dtype=np.int64, count=len(text))
    bounds = split_bounds(len(text), val_fraction, test_fraction)
    return Corpus(chars, {name: ids[start:end] for name, (start, end) in bounds.items()})
