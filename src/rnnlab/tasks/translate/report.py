"""What a translation test pass reports: accuracy per source length, sample translations, attention maps."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from torchmetrics.functional.text import sacre_bleu_score
from torchmetrics.text import SacreBLEUScore

from rnnlab.figures import line_figure, plt
from rnnlab.tasks.translate.data import FILE_PAIRS, TranslateSpec
from rnnlab.tasks.translate.pairs import Pair

MAX_BUCKETS = 10  # at most this many length groups in the per-length table and plot


def bleu_tokenize(spec: TranslateSpec) -> str:
    """sacreBLEU's tokeniser: 13a on a pair file's sentences (BLEU over words, whatever the model's tokens);
    none on generated pairs, whose tokens are the words BLEU counts (character tasks: characters)."""
    return "13a" if spec.pairs == FILE_PAIRS else "none"


def bleu_metric(spec: TranslateSpec) -> SacreBLEUScore:
    return SacreBLEUScore(tokenize=bleu_tokenize(spec))


def bleu_text(spec: TranslateSpec, tokens: list[str]) -> str:
    """What BLEU reads: a pair file's sentence as text; generated tokens space-separated (a space token: '▁')."""
    if spec.pairs == FILE_PAIRS:
        return spec.target_text(tokens)
    return " ".join("▁" if token.isspace() else token for token in tokens)


@dataclass
class TestRow:
    row: int  # index into the test pairs
    source_length: int
    prediction: list[str]
    references: list[list[str]]  # every target of the source (pair files: all its translations)

    @property
    def correct(self) -> bool:
        return self.prediction in self.references

    def example(self, pairs: list[Pair], spec: TranslateSpec) -> dict[str, Any]:
        return {"source": spec.source_text(pairs[self.row][0]),
                "reference": " / ".join(spec.target_text(reference) for reference in self.references),
                "prediction": spec.target_text(self.prediction), "correct": self.correct}


def by_length(rows: list[TestRow], spec: TranslateSpec) -> list[dict[str, Any]]:
    """Exact match and BLEU per group of source lengths (equal-width groups, at most MAX_BUCKETS)."""
    if not rows:
        return []
    low, high = min(r.source_length for r in rows), max(r.source_length for r in rows)
    width = max(1, math.ceil((high - low + 1) / MAX_BUCKETS))
    buckets = []
    for start in range(low, high + 1, width):
        members = [r for r in rows if start <= r.source_length < start + width]
        if not members:
            continue
        bleu = sacre_bleu_score([bleu_text(spec, r.prediction) for r in members],
                                [[bleu_text(spec, reference) for reference in r.references] for r in members],
                                tokenize=bleu_tokenize(spec))
        end = min(start + width - 1, high)
        buckets.append({"lengths": f"{start}" if start == end else f"{start}-{end}", "mid": (start + end) / 2,
                        "n": len(members), "exact_match": sum(r.correct for r in members) / len(members),
                        "bleu": float(bleu)})
    return buckets


def by_length_markdown(buckets: list[dict[str, Any]]) -> str:
    lines = ["| source length | pairs | exact match | BLEU |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {b['lengths']} | {b['n']} | {b['exact_match']:.3f} | {b['bleu']:.3f} |" for b in buckets]
    return "\n".join(lines) + "\n"


def by_length_figure(buckets: list[dict[str, Any]]) -> Figure:
    mids = [b["mid"] for b in buckets]
    return line_figure("Test accuracy by source length", "source length (tokens)", "score",
                       {"exact match": (mids, [b["exact_match"] for b in buckets]),
                        "BLEU": (mids, [b["bleu"] for b in buckets])})


def translations_markdown(examples: list[dict[str, Any]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| source | reference | prediction | correct |", "| --- | --- | --- | :---: |"]
    lines += [f"| {cell(e['source'])} | {cell(e['reference'])} | {cell(e['prediction'])} | "
              f"{'yes' if e['correct'] else 'no'} |" for e in examples]
    return "\n".join(lines) + "\n"


def attention_figure(panels: list[tuple[np.ndarray, list[str], list[str]]]) -> Figure:
    """One heatmap per pair: output tokens (rows) against source tokens (columns), weight as colour."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), dpi=100, squeeze=False)
    for ax, (weights, source, output) in zip(axes[0], panels):
        ax.imshow(weights, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(source)), ["␣" if t.isspace() else t for t in source], fontsize=7,
                      rotation=90)
        ax.set_yticks(range(len(output)), output, fontsize=7)
        ax.set_xlabel("source")
    axes[0][0].set_ylabel("output")
    figure.suptitle("Attention weights (greedy decoding, first test pairs)")
    figure.tight_layout()
    return figure
