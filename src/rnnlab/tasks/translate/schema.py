"""The `data:` section of translation: generated toy pairs (which, how many, how long) or a pair file
(where, which direction, how sentences become tokens, which pairs are kept, how they are split)."""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnlab.checks import at_least, choice, fraction
from rnnlab.errors import UserError
from rnnlab.tasks.translate.pair_file import PREFIX_SIDES, TOKENS, TextForm
from rnnlab.tasks.translate.pairs import TASKS as PAIR_TASKS
from rnnlab.tasks.translate.pairs import check_settings

# source lengths (in tokens) a task generates when data.min_len / data.max_len are null
DEFAULT_LENGTHS = {"dates": (6, 29), "reverse": (5, 20), "numbers": (1, 9)}
# keys that only a pair file (data.path) reads
FILE_KEYS = ("reverse", "tokens", "unicode_to_ascii", "lowercase", "split_punctuation", "drop_symbols", "prefixes",
             "prefix_side", "min_count", "val_fraction", "test_fraction")


@dataclass
class TranslationDataConfig:
    """Generated toy pairs (dates -> ISO, sequence reversal, digits -> words), or the user's pair file."""

    task: str = "dates"
    train_size: int = 20000
    val_size: int = 1000
    test_size: int = 1000
    min_len: int | None = None
    max_len: int | None = None
    symbols: int = 20
    path: str | None = None
    reverse: bool = False
    tokens: str = "word"
    unicode_to_ascii: bool = True
    lowercase: bool = True
    split_punctuation: bool = True
    drop_symbols: bool = True
    prefixes: list[str] = field(default_factory=list)
    prefix_side: str = "target"
    min_count: int = 1
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    batch_size: int = 64
    embedding_dim: int = 32
    num_workers: int = 0
    examples: int = 10
    heatmaps: int = 4

    def lengths(self) -> tuple[int, int]:
        """(min_len, max_len) of generated pairs, with the task's defaults filled in."""
        low, high = DEFAULT_LENGTHS.get(self.task, (1, 1))
        return (low if self.min_len is None else self.min_len, high if self.max_len is None else self.max_len)

    def text_form(self) -> TextForm:
        """How the pair file's sentences (and predict's) become tokens."""
        return TextForm(self.tokens, self.unicode_to_ascii, self.lowercase, self.split_punctuation,
                        self.drop_symbols)

    def check(self) -> None:
        for key in ("batch_size", "embedding_dim"):
            at_least(f"data.{key}", getattr(self, key), 1)
        for key in ("num_workers", "examples", "heatmaps"):
            at_least(f"data.{key}", getattr(self, key), 0)
        if self.path is None:
            choice("data.task", self.task, PAIR_TASKS)
            for key in ("train_size", "val_size", "test_size"):
                at_least(f"data.{key}", getattr(self, key), 1)
            check_settings(self.task, *self.lengths(), self.symbols)
            self._check_no_file_settings()
        else:
            self._check_file_settings()

    def _check_no_file_settings(self) -> None:
        """Settings for a pair file without the file (e.g. experiment=translation_tutorial alone) would train on
        generated pairs instead; refuse them."""
        default = TranslationDataConfig()
        changed = [f"data.{key}" for key in FILE_KEYS if getattr(self, key) != getattr(default, key)]
        if changed:
            raise UserError(f"{', '.join(changed)} {'is' if len(changed) == 1 else 'are'} for a pair file, but "
                            "data.path is null; give data.path=<file of source TAB target lines>")

    def _check_file_settings(self) -> None:
        choice("data.tokens", self.tokens, TOKENS)
        choice("data.prefix_side", self.prefix_side, PREFIX_SIDES)
        at_least("data.min_count", self.min_count, 1)
        for key in ("min_len", "max_len"):
            if getattr(self, key) is not None:
                at_least(f"data.{key}", getattr(self, key), 1)
        if self.min_len is not None and self.max_len is not None and self.min_len > self.max_len:
            raise UserError(f"data.min_len={self.min_len} is greater than data.max_len={self.max_len}; "
                            "set data.min_len <= data.max_len")
        for key in ("val_fraction", "test_fraction"):
            fraction(f"data.{key}", getattr(self, key))
            if getattr(self, key) == 0:
                raise UserError(f"data.{key}=0 leaves that split empty; give a fraction above 0, e.g. 0.1")
        if self.val_fraction + self.test_fraction >= 1:
            raise UserError(f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction:g} "
                            "leaves nothing to train on; keep their sum below 1")
