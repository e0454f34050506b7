"""From a user's labelled texts to the splits a classifier trains on: empty texts dropped, classes named from the
training split (val/test may not bring new ones), validation and test carved out stratified where no file gives them.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import UserError
from rnnlab.tasks.classify.files import LabelledTexts
from rnnlab.tasks.classify.schema import ClassifyDataConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassSplit:
    texts: list[str]
    labels: np.ndarray  # int64 class ids, indices into the class names


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out): `fraction` of each label's texts, drawn with `seed`, are held out.

    The held-out part comes in a seeded random order: files often list one class after another, and
    evaluation batches (or a `limit_val_batches` subset) should hold every class. (Training batches are
    shuffled by the loader.)
    """
    rng = np.random.default_rng(seed)
    kept, held_out = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        cut = round(len(members) * fraction)
        held_out.append(members[:cut])
        kept.append(members[cut:])
    return np.sort(np.concatenate(kept)), rng.permutation(np.concatenate(held_out))


def class_order(names: set[str]) -> list[str]:
    """Class names sorted as a person would: numerically where they are numbers (stars 1..10), else by text."""
    def key(name: str) -> tuple:
        return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name))

    return sorted(names, key=key)


def drop_empty_texts(splits: dict[str, LabelledTexts], policy: str) -> dict[str, LabelledTexts]:
    """Texts that are empty or only whitespace: counted and skipped with a warning, or (`error`) refused."""
    kept = {}
    for split, found in splits.items():
        keep = [i for i, text in enumerate(found.texts) if text.strip()]
        empty = len(found.texts) - len(keep)
        if empty and policy == "error":
            raise UserError(f"{empty} of the {len(found.texts)} texts in '{found.source}' are empty; remove them, "
                            "or set data.empty_texts=skip to skip them")
        if empty:
            log.warning("skipped %d empty texts of %d in %s (data.empty_texts=error refuses them)", empty,
                        len(found.texts), found.source)
        kept[split] = LabelledTexts(found.source, [found.texts[i] for i in keep], [found.labels[i] for i in keep])
    return kept


def check_classes(splits: dict[str, LabelledTexts]) -> list[str]:
    """The training split's class names, in order; refuses one class and labels training never saw."""
    classes = class_order(set(splits["train"].labels))
    if len(classes) < 2:
        what = f"only the class '{classes[0]}'" if classes else "no labelled texts"
        raise UserError(f"'{splits['train'].source}' has {what}; a classifier needs texts of at least two classes")
    for split in ("val", "test"):
        if split in splits:
            unseen = class_order(set(splits[split].labels) - set(classes))
            if unseen:
                raise UserError(f"labels {', '.join(map(repr, unseen))} in '{splits[split].source}' ({split}) never "
                                f"occur in training ({', '.join(classes)}); fix them or add training texts")
    return classes


def assemble_splits(splits: dict[str, LabelledTexts], cfg: ClassifyDataConfig, seed: int
                    ) -> tuple[dict[str, ClassSplit], list[str]]:
    """Train, val and test with class ids, and the class names; missing splits carved from the training file.

    The test split is drawn with `data.split_seed`, so runs of different seeds are scored on the same texts;
    validation with the run's seed, as for IMDB.
    """
    splits = drop_empty_texts(splits, cfg.empty_texts)
    classes = check_classes(splits)
    ids = {name: i for i, name in enumerate(classes)}

    def with_ids(found: LabelledTexts) -> ClassSplit:
        return ClassSplit(found.texts, np.asarray([ids[label] for label in found.labels], dtype=np.int64))

    train = with_ids(splits["train"])
    found = {split: with_ids(splits[split]) for split in ("val", "test") if split in splits}
    for split, fraction, split_seed in (("test", cfg.test_fraction, cfg.split_seed), ("val", cfg.val_fraction, seed)):
        if split not in found:
            kept, held_out = stratified_split(train.labels, fraction, split_seed)
            found[split] = select(train, held_out)
            train = select(train, kept)
            if not len(held_out):
                raise UserError(f"data.{split}_fraction={fraction} of {len(kept)} texts leaves no {split} texts; "
                                f"raise it or give a {split} file")
    missing = [classes[i] for i in range(len(classes)) if not (train.labels == i).any()]
    if missing:
        raise UserError(f"classes {', '.join(missing)} have no training texts left after the held-out splits; "
                        "give more texts of them or lower data.val_fraction and data.test_fraction")
    return {"train": train, **found}, classes


def select(split: ClassSplit, rows: np.ndarray) -> ClassSplit:
    return ClassSplit([split.texts[i] for i in rows], split.labels[rows])


def class_counts(labels: np.ndarray, classes: list[str]) -> dict[str, int]:
    counts = Counter(labels.tolist())
    return {name: counts.get(i, 0) for i, name in enumerate(classes)}


def balanced_weights(counts: dict[str, int]) -> list[float]:
    """sklearn's `balanced` class weights, n / (classes x count): every class weighs the same in the loss."""
    total = sum(counts.values())
    return [total / (len(counts) * count) for count in counts.values()]
