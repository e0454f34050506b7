"""A word's characters -> one vector, so that a word never seen in training still has a telling representation
(its suffix, capitals, digits, hyphens): a bidirectional LSTM's final states, or a convolution's max over
character positions."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.models.config import CHAR_ENCODERS
from rnnlab.models.recurrent import RecurrentLayer, last_hidden


class CharWordEncoder(nn.Module):
    """Character ids [B, T, C] (0 pads characters and words) -> a vector per word [B, T, output_size]."""

    def __init__(self, kind: str, vocab_size: int, embedding_dim: int, hidden_size: int, impl: str = "auto") -> None:
        super().__init__()
        self.kind = kind
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        if kind == "lstm":
            self.rnn = RecurrentLayer("lstm", embedding_dim, hidden_size, bidirectional=True, impl=impl)
            self.output_size = 2 * hidden_size
        elif kind == "cnn":
            self.conv = nn.Conv1d(embedding_dim, hidden_size, kernel_size=3, padding=1)
            self.output_size = hidden_size
        else:
            raise ValueError(f"unknown character encoder {kind!r}; use one of {CHAR_ENCODERS[1:]}")

    def forward(self, chars: Tensor) -> Tensor:
        words = chars[:, :, 0] != 0  # [B, T]: real words (each has at least one character)
        flat, inverse = chars[words].unique(dim=0, return_inverse=True)  # [N, C]: each distinct word once
        lengths = (flat != 0).sum(1)
        flat = flat[:, : int(lengths.max())] if len(flat) else flat
        vectors = self.embedding(flat)
        if self.kind == "lstm":
            _, state = self.rnn(vectors, lengths)
            encoded = torch.cat(list(last_hidden(state)), dim=-1)
        else:
            features = self.conv(vectors.transpose(1, 2))  # [N, H, C]
            pads = (flat == 0).unsqueeze(1)
            encoded = features.masked_fill(pads, torch.finfo(features.dtype).min).amax(-1)
        out = encoded.new_zeros(*chars.shape[:2], self.output_size)
        out[words] = encoded[inverse]
        return out
