"""A text classifier's predictions: each text encoded exactly as in training, its label and probability."""

from __future__ import annotations

import torch

from rnnlab.data.text import Vocabulary, encode
from rnnlab.errors import UserError
from rnnlab.tasks.classify.task import ClassifyTask


@torch.no_grad()
def probabilities(task: ClassifyTask, texts: list[str], batch_size: int = 256) -> list[float]:
    """Probability of the positive class for each text."""
    vocab, text = Vocabulary.from_dict(task.spec.vocab), task.spec.text
    found: list[float] = []
    for start in range(0, len(texts), batch_size):
        tokens, lengths = encode(texts[start : start + batch_size], vocab, text["max_len"], text["truncate"],
                                 text["pad"])
        if (lengths == 0).any():
            raise UserError("a text has no words the tokenizer keeps (letters, digits, apostrophes); give real text")
        logits = task(torch.as_tensor(tokens), torch.as_tensor(lengths))
        found += torch.sigmoid(logits).tolist()
    return found


def predict_lines(task: ClassifyTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """`label<TAB>P(positive)<TAB>the text's start`, one line per text."""
    labels = task.spec.labels
    lines = []
    for text, probability in zip(texts, probabilities(task, texts, batch_size)):
        excerpt = text if len(text) <= 70 else text[:67] + "..."
        lines.append(f"{labels[int(probability >= 0.5)]}\t{probability:.4f}\t{excerpt}")
    return lines
