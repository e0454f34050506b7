"""What a tagger's test pass reports: accuracy (all tokens, tokens unseen in training), per-tag precision,
recall and F1, sentence exact match, BIO spans, the confusion matrix, and the most-frequent-tag baseline."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rnnlab.figures import plt
from rnnlab.tasks.tagging.conll import Sentence


def most_frequent_tags(train: list[Sentence]) -> tuple[dict[str, str], str]:
    """Lower-cased word -> its commonest training tag (ties alphabetical), and the commonest tag overall."""
    by_word: dict[str, Counter] = defaultdict(Counter)
    for sentence in train:
        for word, tag in zip(sentence.words, sentence.tags):
            by_word[word.lower()][tag] += 1
    overall = Counter(tag for sentence in train for tag in sentence.tags)
    pick = lambda counts: min(counts, key=lambda tag: (-counts[tag], tag))  # noqa: E731
    return {word: pick(counts) for word, counts in by_word.items()}, pick(overall)


def baseline_predictions(train: list[Sentence], sentences: list[Sentence]) -> list[list[str]]:
    table, fallback = most_frequent_tags(train)
    return [[table.get(word.lower(), fallback) for word in sentence.words] for sentence in sentences]


def bio_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, start, end) of the chunks of a BIO/IOB tag sequence, as conlleval reads them: a chunk starts at
    B-X, or at I-X after a tag that is not of type X, and runs over the I-X that follow."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and label == kind
        if start is not None and not continues:
            spans.add((kind, start, i))
            start, kind = None, None
        if prefix in ("B", "I") and not continues:
            start, kind = i, label
    return spans


def is_bio(tags: list[str]) -> bool:
    return any(tag.startswith(("B-", "I-")) for tag in tags) and all(
        tag == "O" or tag.startswith(("B-", "I-")) for tag in tags)


def span_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Chunk precision, recall and F1 (micro over all chunks), as conlleval and seqeval's default compute them."""
    found = right = correct = 0
    for g, p in zip(gold, predicted):
        gold_spans, predicted_spans = bio_spans(g), bio_spans(p)
        found, right, correct = found + len(predicted_spans), right + len(gold_spans), correct + len(
            gold_spans & predicted_spans)
    precision = correct / found if found else 0.0
    recall = correct / right if right else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"span_precision": precision, "span_recall": recall, "span_f1": f1}


def tag_scores(gold: list[list[str]], predicted: list[list[str]], tags: list[str],
               unseen: list[list[bool]]) -> dict[str, Any]:
    """Token accuracy, accuracy on the tokens marked unseen, sentence exact match, per-tag precision/recall/F1
    (macro F1 over the training tags), and the confusion matrix [gold, predicted] over the training tags."""
    index = {tag: i for i, tag in enumerate(tags)}
    confusion = np.zeros((len(tags), len(tags)), dtype=np.int64)
    tokens = correct = unseen_tokens = unseen_correct = exact = 0
    for g, p, new in zip(gold, predicted, unseen):
        exact += g == p
        for gold_tag, predicted_tag, is_new in zip(g, p, new):
            tokens += 1
            correct += gold_tag == predicted_tag
            unseen_tokens += is_new
            unseen_correct += is_new and gold_tag == predicted_tag
            if gold_tag in index:  # a test tag never seen in training is a miss, outside the matrix
                confusion[index[gold_tag], index[predicted_tag]] += 1
    per_tag = {}
    for i, tag in enumerate(tags):
        hits, predicted_count, support = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = hits / predicted_count if predicted_count else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_tag[tag] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                        "support": int(support)}
    scored = [row["f1"] for row in per_tag.values() if row["support"]]
    return {"acc": correct / tokens, "unseen_acc": unseen_correct / unseen_tokens if unseen_tokens else float("nan"),
            "unseen_share": unseen_tokens / tokens, "exact_match": exact / len(gold),
            "macro_f1": float(np.mean(scored)) if scored else 0.0, "per_tag": per_tag, "confusion": confusion}


def per_tag_table(per_tag: dict[str, dict[str, float]]) -> str:
    lines = ["| tag | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {tag} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1']:.4f} | {row['support']:,} |"
              for tag, row in sorted(per_tag.items(), key=lambda item: -item[1]["support"])]
    return "\n".join(lines) + "\n"


def confusion_figure(confusion: np.ndarray, tags: list[str]) -> Figure:
    """Each gold tag's row as shares of its tokens, the diagonal (correct) included."""
    shares = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    size = max(5.0, 0.32 * len(tags) + 2)
    figure, axes = plt.subplots(figsize=(size, size), dpi=100)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(tags)), tags, rotation=90, fontsize=7)
    axes.set_yticks(range(len(tags)), tags, fontsize=7)
    axes.set(xlabel="predicted", ylabel="gold", title="Tag confusion on test (share of each gold tag)")
    figure.tight_layout()
    return figure
