"""A translation model's predictions: each source tokenised as in training, decoded with the checkpoint's settings."""

from __future__ import annotations

import torch

from rnnlab.tasks.translate.data import encode_sources
from rnnlab.tasks.translate.pairs import source_tokens, target_text
from rnnlab.tasks.translate.task import Seq2SeqTask


@torch.no_grad()
def translate(task: Seq2SeqTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """Each source text translated."""
    spec = task.spec
    sources = encode_sources([source_tokens(spec.pairs, text) for text in texts], spec.source_vocab)
    translations: list[str] = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)
        for ids in task(padded, torch.tensor([len(s) for s in chunk])):
            translations.append(target_text(spec.pairs, [spec.target_vocab[i] for i in ids]))
    return translations


def predict_lines(task: Seq2SeqTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """`translation<TAB>source`, one line per source."""
    return [f"{translation}\t{text}" for text, translation in zip(texts, translate(task, texts, batch_size))]
