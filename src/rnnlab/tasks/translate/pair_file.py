"""Sentence pairs from a user's file: one pair a line, source TAB target, further columns ignored.

This is the layout of the Tatoeba pairs (manythings.org's `fra.txt`: English, French, attribution) that
PyTorch's "NLP From Scratch" seq2seq tutorial reads. Sentences are normalised the tutorial's way (each
step a setting) and tokenised into words or characters by `TextForm`, which the checkpoint keeps so that
predict reads a sentence exactly as training did. Pairs are then filtered (length, prefixes, duplicates)
and split by source sentence: every translation of a source lands in the same split, and val/test score
a prediction against all of them.
"""

from __future__ import annotations

import logging
import random
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnlab.errors import UserError
from rnnlab.tasks.translate.pairs import Pair

log = logging.getLogger(__name__)

TOKENS = ("word", "char")
PREFIX_SIDES = ("source", "target")
Group = tuple[list[str], list[list[str]]]  # a source and every target the file gives it

_SENTENCE_END = re.compile(r"([.!?])")
_SYMBOL = re.compile(r"[^\w.!?]|_")  # neither a letter, a digit nor . ! ?


@dataclass(frozen=True)
class TextForm:
    """How a sentence becomes tokens: the tutorial's normalisation steps, then words or characters."""

    tokens: str = "word"
    unicode_to_ascii: bool = True
    lowercase: bool = True
    split_punctuation: bool = True
    drop_symbols: bool = True

    def normalize(self, text: str) -> str:
        """The tutorial's normalizeString, step by step: 'Ça va?' -> 'ca va ?'; spaces collapsed."""
        if self.unicode_to_ascii:  # accents dropped: the tutorial's unicodeToAscii (NFD, no combining marks)
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            text = text.lower()
        if self.split_punctuation:
            text = _SENTENCE_END.sub(r" \1 ", text)
        if self.drop_symbols:
            text = _SYMBOL.sub(" ", text)
        return " ".join(text.split())

    def tokenize(self, text: str) -> list[str]:
        normalized = self.normalize(text)
        return normalized.split() if self.tokens == "word" else list(normalized)

    def join(self, tokens: list[str]) -> str:
        """The text of `tokens` (the inverse of `tokenize` on normalised text)."""
        return " ".join(tokens) if self.tokens == "word" else "".join(tokens)


def read_pairs(path: Path, form: TextForm, reverse: bool) -> list[Pair]:
    """Every line's (source, target), tokenised by `form`; `reverse` swaps the first two columns.

    Blank lines are skipped; a line without a tab, a file that is not UTF-8 and a file without pairs are
    UserErrors naming the line or byte.
    """
    if not path.exists():
        raise UserError(f"data.path '{path}' does not exist; give a file of 'source<TAB>target' lines "
                        "(e.g. Tatoeba's fra.txt from manythings.org/anki)")
    if not path.is_file():
        raise UserError(f"data.path '{path}' is not a file; give a file of 'source<TAB>target' lines")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise UserError(f"{path} is not UTF-8 text: byte {error.start} (0x{raw[error.start]:02x}, line {line}) "
                        "cannot be decoded; convert it to UTF-8 (e.g. iconv -t utf-8)") from None
    pairs = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise UserError(f"{path}:{number} has no tab ({line[:60]!r}); each line needs a source, a TAB and its "
                            "target (further columns are ignored)")
        source, target = (columns[1], columns[0]) if reverse else (columns[0], columns[1])
        pairs.append((form.tokenize(source), form.tokenize(target)))
    if not pairs:
        raise UserError(f"{path} holds no sentence pairs (it is empty or blank); give lines of 'source<TAB>target'")
    return pairs


def filter_pairs(pairs: list[Pair], path: Path, form: TextForm, min_len: int | None, max_len: int | None,
                 prefixes: list[str], prefix_side: str) -> list[Pair]:
    """The pairs kept by each filter in turn; a filter that keeps nothing is a UserError naming it."""
    side = 0 if prefix_side == "source" else 1
    starts = tuple(prefixes)
    filters: list[tuple[str, str, Callable[[Pair], bool]]] = [
        ("the normalisation (both sides must keep a token)",
         "check that both columns hold text, or turn off data.drop_symbols", lambda pair: bool(pair[0] and pair[1])),
    ]
    if min_len is not None:
        filters.append((f"data.min_len={min_len} (each side at least {min_len} tokens)", "lower data.min_len",
                        lambda pair: min(len(pair[0]), len(pair[1])) >= min_len))
    if max_len is not None:
        filters.append((f"data.max_len={max_len} (each side at most {max_len} tokens)", "raise data.max_len",
                        lambda pair: max(len(pair[0]), len(pair[1])) <= max_len))
    if starts:
        filters.append((f"data.prefixes (the {prefix_side} starting with one of {len(starts)} prefixes, "
                        "after normalisation)", "check data.prefixes, data.prefix_side and data.reverse",
                        lambda pair: form.join(pair[side]).startswith(starts)))
    for name, fix, keep in filters:
        kept = [pair for pair in pairs if keep(pair)]
        if not kept:
            raise UserError(f"{path}: no pair is left after {name}, of {len(pairs)} before it; {fix}")
        if len(kept) < len(pairs):
            log.info("%s: %d of %d pairs kept by %s", path, len(kept), len(pairs), name)
        pairs = kept
    unique = list({(tuple(source), tuple(target)): (source, target) for source, target in pairs}.values())
    if len(unique) < len(pairs):
        log.info("%s: %d duplicate pairs dropped", path, len(pairs) - len(unique))
    return unique


def group_by_source(pairs: list[Pair]) -> list[Group]:
    """Each distinct source with all its targets, in the order of first appearance."""
    groups: dict[tuple[str, ...], Group] = {}
    for source, target in pairs:
        groups.setdefault(tuple(source), (source, []))[1].append(target)
    return list(groups.values())


def split_by_source(groups: list[Group], val_fraction: float, test_fraction: float, seed: int,
                    path: Path) -> dict[str, list[Group]]:
    """train/val/test groups drawn by `seed`, so no source sentence is in two splits (each split >= 1 source)."""
    count = len(groups)
    val_count, test_count = max(1, round(count * val_fraction)), max(1, round(count * test_fraction))
    if val_count + test_count >= count:
        raise UserError(f"{path} has {count} distinct source sentences after filtering, too few for train, "
                        f"validation ({val_count}) and test ({test_count}); give more pairs, loosen the filters or "
                        "lower data.val_fraction/data.test_fraction")
    order = list(range(count))
    random.Random(seed).shuffle(order)
    chosen = {"test": order[:test_count], "val": order[test_count : test_count + val_count],
              "train": order[test_count + val_count :]}
    return {split: [groups[i] for i in indices] for split, indices in chosen.items()}
