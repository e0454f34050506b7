"""A translation model's predictions: each source normalised and tokenised as in training (the checkpoint's
settings), decoded with the checkpoint's decode settings; words never seen in training are <unk>."""

from __future__ import annotations

import torch

from rnnlab.errors import UserError
from rnnlab.tasks.translate.data import encode_sources
from rnnlab.tasks.translate.task import Seq2SeqTask


@torch.no_grad()
def translate(task: Seq2SeqTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """Each source text translated."""
    spec = task.spec
    tokens = [spec.source_tokens(text) for text in texts]
    empty = [text for text, source in zip(texts, tokens) if not source]
    if empty:
        raise UserError(f"{empty[0]!r} has no tokens left after the model's normalisation; give a sentence in words")
    sources = encode_sources(tokens, spec.source_vocab)
    translations: list[str] = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)
        for ids in task(padded, torch.tensor([len(s) for s in chunk])):
            translations.append(spec.target_text([spec.target_vocab[i] for i in ids]))
    return translations


def predict_lines(task: Seq2SeqTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """`translation<TAB>source`, one line per source."""
    return [f"{translation}\t{text}" for text, translation in zip(texts, translate(task, texts, batch_size))]
