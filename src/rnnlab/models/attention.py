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


class AdditiveAttention(nn.Module):
    """Bahdanau et al. (2014): score(q, k_j) = v · tanh(W q + U k_j); the keys' part U k_j is computed once."""

    def __init__(self, query_size: int, key_size: int, attention_size: int) -> None:
        super().__init__()
        self.query_layer = nn.Linear(query_size, attention_size, bias=False)
        self.key_layer = nn.Linear(key_size, attention_size)
        self.energy = nn.Linear(attention_size, 1, bias=False)

    def keys(self, states: Tensor) -> Tensor:
        return self.key_layer(states)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """query [B, Q], keys [B, S, A], values [B, S, F] -> context [B, F], weights [B, S]."""
        scores = self.energy(torch.tanh(self.query_layer(query).unsqueeze(1) + keys)).squeeze(-1)
        weights = masked_softmax(scores, mask)
        return torch.bmm(weights.unsqueeze(1), values).squeeze(1), weights


class MultiplicativeAttention(nn.Module):
    """Luong et al. (2015): score(q, k_j) = q · k_j (`dot`) or q · W k_j (`general`, W applied to keys once)."""

    def __init__(self, query_size: int, key_size: int, score: str) -> None:
        super().__init__()
        if score == "dot" and query_size != key_size:
            raise ValueError(f"dot attention needs equal query and key sizes, got {query_size} and {key_size}")
        self.key_layer = nn.Linear(key_size, query_size, bias=False) if score == "general" else nn.Identity()

    def keys(self, states: Tensor) -> Tensor:
        return self.key_layer(states)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)
        weights = masked_softmax(scores, mask)
        return torch.bmm(weights.unsqueeze(1), values).squeeze(1), weights
