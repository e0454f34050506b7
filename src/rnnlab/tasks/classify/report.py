"""Reports of a classifier's test pass: per-class report, confusion matrix figure, its worst mistakes."""

from __future__ import annotations

from typing import Any

import torch
from matplotlib.figure import Figure
from torch import Tensor

from rnnlab.figures import plt


def classification_report(confusion: Tensor, labels: list[str]) -> dict[str, Any]:
    """Precision, recall, F1 and support per class from a confusion matrix [true, predicted], plus text."""
    confusion = confusion.double()
    rows: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        true_positive, predicted, actual = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = float(true_positive / predicted) if predicted else 0.0
        recall = float(true_positive / actual) if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(actual)}
    accuracy = float(confusion.diag().sum() / confusion.sum())
    lines = [f"{'':>10} {'precision':>10} {'recall':>10} {'f1':>10} {'support':>10}"]
    lines += [f"{label:>10} {r['precision']:>10.4f} {r['recall']:>10.4f} {r['f1']:>10.4f} {r['support']:>10}"
              for label, r in rows.items()]
    lines.append(f"{'accuracy':>10} {'':>10} {'':>10} {accuracy:>10.4f} {int(confusion.sum()):>10}")
    return {"classes": rows, "accuracy": accuracy, "text": "\n".join(lines) + "\n"}


def confusion_figure(confusion: Tensor, labels: list[str]) -> Figure:
    figure, axes = plt.subplots(figsize=(4.5, 4), dpi=100)
    counts = confusion.numpy()
    axes.imshow(counts, cmap="Blues")
    for (i, j), count in zip(torch.cartesian_prod(torch.arange(2), torch.arange(2)).tolist(), counts.flatten()):
        axes.text(j, i, f"{count:,}", ha="center", va="center", color="white" if count > counts.max() / 2 else "black")
    axes.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
             xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    figure.tight_layout()
    return figure


def most_confidently_wrong(probabilities: Tensor, labels: Tensor, rows: Tensor, texts: list[str], count: int) -> str:
    """Markdown list of the `count` test reviews the model got wrong with the most confidence."""
    wrong = (probabilities >= 0.5).long() != labels
    confidence = torch.where(labels == 1, 1 - probabilities, probabilities)  # probability of the wrong answer
    order = torch.argsort(confidence.masked_fill(~wrong, -1.0), descending=True)[: min(count, int(wrong.sum()))]
    lines = ["# Most confidently wrong test reviews", ""]
    for i in order.tolist():
        label = "pos" if labels[i] == 1 else "neg"
        text = " ".join(texts[int(rows[i])].replace("<br />", " ").split())
        lines += [f"- **true {label}**, P(pos) = {float(probabilities[i]):.3f}: {text[:600]}"
                  + ("…" if len(text) > 600 else ""), ""]
    return "\n".join(lines)
