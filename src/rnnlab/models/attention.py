"""Attention scores over a sequence of states, with padded steps masked out."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last dim where `mask` is True; padded steps get exactly zero weight."""
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


class AttentionPooling(nn.Module):
    """Summarise states [B, T, F] into [B, F] by a learned attention over time steps.

    `bahdanau` scores each state with v·tanh(W s + b) (additive); `luong` with q·s, a learned query (dot).
    The weights of the last call are kept in `last_weights` for figures.
    """

    def __init__(self, features: int, score: str) -> None:
        super().__init__()
        self.score = score
        if score == "bahdanau":
            self.project = nn.Linear(features, features)
            self.query = nn.Linear(features, 1, bias=False)
        else:
            self.query = nn.Linear(features, 1, bias=False)
        self.last_weights: Tensor | None = None

    def forward(self, states: Tensor, mask: Tensor | None = None) -> Tensor:
        keys = torch.tanh(self.project(states)) if self.score == "bahdanau" else states
        weights = masked_softmax(self.query(keys).squeeze(-1), mask)
        self.last_weights = weights.detach()
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)
