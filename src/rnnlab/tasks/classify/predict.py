"""A text classifier's predictions: each text encoded exactly as in training, its class, every class's probability."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.data.text import Vocabulary, encode
from rnnlab.errors import UserError
from rnnlab.tasks.classify.task import ClassifyTask


@torch.no_grad()
def class_probabilities(task: ClassifyTask, texts: list[str], batch_size: int = 256) -> Tensor:
    """[texts, classes]: each class's probability, in the order of `task.spec.labels`."""
    vocab, text = Vocabulary.from_dict(task.spec.vocab), task.spec.text
    found = []
    for start in range(0, len(texts), batch_size):
        tokens, lengths = encode(texts[start : start + batch_size], vocab, text["max_len"], text["truncate"],
                                 text["pad"])
        if (lengths == 0).any():
            raise UserError("a text has no words the tokenizer keeps (letters, digits, apostrophes); give real text")
        found.append(task.class_probabilities(task(torch.as_tensor(tokens), torch.as_tensor(lengths))))
    return torch.cat(found)


def predict_lines(task: ClassifyTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """A header saying what the numbers are, the column names, then per text (tab-separated) the predicted class,
    each class's probability and the text's start."""
    labels = task.spec.labels
    how = ("the sigmoid of the model's one output is P({1}), and P({0}) = 1 - P({1})".format(*labels)
           if len(labels) == 2 else "the softmax of the model's outputs")
    lines = [f"# class probabilities ({how}); the predicted class is the most probable",
             "\t".join(["class", *(f"P({label})" for label in labels), "text"])]
    for text, row in zip(texts, class_probabilities(task, texts, batch_size).tolist()):
        excerpt = text if len(text) <= 70 else text[:67] + "..."
        best = max(range(len(labels)), key=row.__getitem__)
        lines.append("\t".join([labels[best], *(f"{p:.4f}" for p in row), excerpt]))
    return lines
