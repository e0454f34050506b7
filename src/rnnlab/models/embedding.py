"""The classifier's embedding lookup, in the order the fused recurrence reads, with a faster CPU backward."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.kernels import EmbeddingLookup, usable


def embed_time_major(embedding: nn.Embedding, tokens: Tensor) -> Tensor:
    """`embedding(tokens)` [B, T, E] as a batch-first view of time-major memory [T, B, E], the order in which
    the fused recurrence reads steps: neither its forward pass nor the embedding's backward pass then copies
    the vectors into the other order (a few percent of a tutorial step).

    On the CPU in fp32 its weight gradient comes from the compiled kernels (`kernels.embedding`, a
    quarter of the time of torch's `embedding_dense_backward` at the tutorial's shapes); the options that
    change what the gradient is (max_norm, scale_grad_by_freq, sparse) keep nn.Embedding's own path.
    """
    time_major = tokens.t()
    weight = embedding.weight
    plain = embedding.max_norm is None and not embedding.scale_grad_by_freq and not embedding.sparse
    if plain and weight.requires_grad and torch.is_grad_enabled() and usable(weight):
        return EmbeddingLookup.apply(time_major, weight, embedding.padding_idx).transpose(0, 1)
    return embedding(time_major).transpose(0, 1)
