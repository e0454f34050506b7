"""Reports of a classifier's test pass: per-class table, majority-class baseline and verdict, confusion matrix
figure, its worst mistakes."""

from __future__ import annotations

from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score, multiclass_recall

from rnnlab.figures import plt

ANNOTATED_CLASSES = 20  # confusion matrices up to this size show their counts in the cells


def classification_report(confusion: Tensor, labels: list[str], train_counts: dict[str, int]
                          ) -> tuple[dict[str, Any], str]:
    """Precision, recall, F1, test support and training texts per class from a confusion matrix [true, predicted],
    their macro and weighted averages; and the same as a text table."""
    confusion = confusion.double()
    rows: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        true_positive, predicted, actual = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = float(true_positive / predicted) if predicted else 0.0
        recall = float(true_positive / actual) if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual),
                       "train": train_counts.get(label, 0)}
    total = int(confusion.sum())
    averages = {}
    for name, weights in (("macro avg", [1 / len(rows)] * len(rows)),
                          ("weighted avg", [r["support"] / max(total, 1) for r in rows.values()])):
        averages[name] = {key: sum(w * r[key] for w, r in zip(weights, rows.values()))
                          for key in ("precision", "recall", "f1")}
    accuracy = float(confusion.diag().sum() / max(total, 1))
    width = max(12, *(len(label) for label in labels))
    columns = ("precision", "recall", "f1", "support", "train")
    lines = [f"{'':>{width}} " + " ".join(f"{c:>10}" for c in columns)]
    lines += [f"{label:>{width}} {r['precision']:>10.4f} {r['recall']:>10.4f} {r['f1']:>10.4f} {r['support']:>10,} "
              f"{r['train']:>10,}" for label, r in rows.items()]
    lines.append("")
    lines.append(f"{'accuracy':>{width}} {'':>10} {'':>10} {accuracy:>10.4f} {total:>10,}")
    lines += [f"{name:>{width}} {a['precision']:>10.4f} {a['recall']:>10.4f} {a['f1']:>10.4f} {total:>10,}"
              for name, a in averages.items()]
    return {"classes": rows, "averages": averages, "accuracy": accuracy}, "\n".join(lines) + "\n"


def majority_baseline(train_counts: dict[str, int], labels: Tensor) -> dict[str, Any]:
    """The scores, on the test labels, of always answering the most frequent training class."""
    names = list(train_counts)
    majority = max(range(len(names)), key=lambda i: train_counts[names[i]])
    guesses = torch.full_like(labels, majority)
    scores = {"acc": multiclass_accuracy(guesses, labels, len(names), average="micro"),
              "balanced_acc": multiclass_recall(guesses, labels, len(names), average="macro"),
              "macro_f1": multiclass_f1_score(guesses, labels, len(names), average="macro"),
              "weighted_f1": multiclass_f1_score(guesses, labels, len(names), average="weighted")}
    return {"class": names[majority], "scores": {name: float(value) for name, value in scores.items()}}


def verdict(scores: dict[str, float], baseline: dict[str, Any]) -> str:
    """One line: the model's accuracy and macro F1 against always answering the majority class."""
    majority = baseline["scores"]
    outcome = "beats" if scores["acc"] > majority["acc"] else "does NOT beat"
    return (f"the classifier (accuracy {scores['acc']:.2%}, macro F1 {scores['macro_f1']:.4f}, balanced accuracy "
            f"{scores['balanced_acc']:.2%}) {outcome} the majority-class baseline (always '{baseline['class']}': "
            f"accuracy {majority['acc']:.2%}, macro F1 {majority['macro_f1']:.4f}, balanced accuracy "
            f"{majority['balanced_acc']:.2%})")


def confusion_figure(confusion: Tensor, labels: list[str]) -> Figure:
    """Counts of [true, predicted] classes on the test texts; annotated while the cells are large enough."""
    size = max(4.5, 0.45 * len(labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * 0.9), dpi=100)
    counts = confusion.numpy()
    axes.imshow(counts, cmap="Blues")
    if len(labels) <= ANNOTATED_CLASSES:
        for (i, j), count in zip(torch.cartesian_prod(torch.arange(len(labels)), torch.arange(len(labels))).tolist(),
                                 counts.flatten()):
            axes.text(j, i, f"{count:,}", ha="center", va="center",
                      color="white" if count > counts.max() / 2 else "black", fontsize=9 if len(labels) > 6 else 10)
    axes.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 4 else 0, ha="right"
                    if len(labels) > 4 else "center")
    axes.set_yticks(range(len(labels)), labels)
    axes.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    figure.tight_layout()
    return figure


def most_confidently_wrong(probabilities: Tensor, labels: Tensor, rows: Tensor, texts: list[str], names: list[str],
                           count: int) -> str:
    """Markdown list of the `count` test texts the model got wrong with the most confidence.

    `probabilities` [N, classes]: the model answers its most probable class; its confidence is that probability.
    """
    confidence, predicted = probabilities.max(dim=1)
    wrong = predicted != labels
    order = torch.argsort(confidence.masked_fill(~wrong, -1.0), descending=True)[: min(count, int(wrong.sum()))]
    lines = ["# Most confidently wrong test texts", ""]
    for i in order.tolist():
        text = " ".join(texts[int(rows[i])].replace("<br />", " ").split())
        lines += [f"- **true {names[int(labels[i])]}**, predicted {names[int(predicted[i])]} with P = "
                  f"{float(confidence[i]):.3f}: {text[:600]}" + ("…" if len(text) > 600 else ""), ""]
    return "\n".join(lines)
