"""A tagger's predictions: each sentence split into words by a simple tokenizer, tagged, printed word/TAG."""

from __future__ import annotations

import re

import torch

from rnnlab.errors import UserError
from rnnlab.tasks.tagging.conll import Sentence
from rnnlab.tasks.tagging.data import Encoded, collate
from rnnlab.tasks.tagging.task import TaggingTask

# numbers with separators, words (with inner hyphens), clitics, and every other non-space character alone
TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|n't\b|\w+(?:-\w+)*|'\w*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """"Don't stop, it's 3.5 km." -> Do n't stop , it 's 3.5 km . (the treebanks' own splits, roughly)"""
    text = re.sub(r"(\w)n't\b", r"\1 n't", text)
    text = re.sub(r"(\w)'(s|re|ll|ve|d|m)\b", r"\1 '\2", text, flags=re.IGNORECASE)
    return TOKEN.findall(text)


@torch.no_grad()
def predict_lines(task: TaggingTask, texts: list[str], batch_size: int = 256) -> list[str]:
    """`word/TAG word/TAG ...`, one line per text."""
    sentences = [tokenize(text) for text in texts]
    if any(not words for words in sentences):
        raise UserError("a text has no words to tag; give a sentence")
    spec = task.spec
    encoded = Encoded([Sentence(tuple(words), ("",) * len(words)) for words in sentences], spec, None)
    lines = []
    for start in range(0, len(encoded), batch_size):
        words, lengths, chars, _, rows = collate([encoded[i] for i in range(start, min(start + batch_size,
                                                                                       len(encoded)))])
        for row, tags, length in zip(rows.tolist(), task(words, lengths, chars).tolist(), lengths.tolist()):
            lines.append(" ".join(f"{word}/{spec.tags[tag]}" for word, tag in zip(sentences[row], tags[:length])))
    return lines
