"""The `data:` section of toy translation: which pairs are generated, how many, how long."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, choice
from rnnlab.tasks.translate.pairs import TASKS as PAIR_TASKS
from rnnlab.tasks.translate.pairs import check_settings

# source lengths (in tokens) a task generates when data.min_len / data.max_len are null
DEFAULT_LENGTHS = {"dates": (6, 29), "reverse": (5, 20), "numbers": (1, 9)}


@dataclass
class TranslationDataConfig:
    """Generated toy translation pairs (dates -> ISO, sequence reversal, digits -> words), split disjointly."""

    task: str = "dates"
    train_size: int = 20000
    val_size: int = 1000
    test_size: int = 1000
    min_len: int | None = None
    max_len: int | None = None
    symbols: int = 20
    batch_size: int = 64
    embedding_dim: int = 32
    num_workers: int = 0
    examples: int = 10
    heatmaps: int = 4

    def lengths(self) -> tuple[int, int]:
        """(min_len, max_len) with the task's defaults filled in."""
        low, high = DEFAULT_LENGTHS.get(self.task, (1, 1))
        return (low if self.min_len is None else self.min_len, high if self.max_len is None else self.max_len)

    def check(self) -> None:
        choice("data.task", self.task, PAIR_TASKS)
        for key in ("train_size", "val_size", "test_size", "batch_size", "embedding_dim"):
            at_least(f"data.{key}", getattr(self, key), 1)
        for key in ("num_workers", "examples", "heatmaps"):
            at_least(f"data.{key}", getattr(self, key), 0)
        check_settings(self.task, *self.lengths(), self.symbols)
