"""The classifier's time-major embedding lookup against nn.Embedding's batch-first one."""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.models.recurrent import embed_time_major


def test_time_major_lookup_gives_nn_embeddings_values_and_gradients():
    torch.manual_seed(0)
    embedding = nn.Embedding(50, 8, padding_idx=0)
    tokens = torch.randint(0, 50, (6, 30))
    tokens[:, :5] = 0  # pads, and (50 words, 180 tokens) many repeated words
    upstream = torch.randn(6, 30, 8)
    expected = embedding(tokens)
    (expected_grad,) = torch.autograd.grad((expected * upstream).sum(), embedding.weight)
    actual = embed_time_major(embedding, tokens)
    (actual_grad,) = torch.autograd.grad((actual * upstream).sum(), embedding.weight)
    assert torch.equal(actual, expected)
    assert actual.transpose(0, 1).is_contiguous()  # [T, B, E] memory, the fused recurrence's order
    torch.testing.assert_close(actual_grad, expected_grad)
    assert not actual_grad[0].any()  # the pad row learns nothing
