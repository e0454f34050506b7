"""The classifier's time-major embedding lookup and its compiled weight gradient against nn.Embedding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnlab.kernels import compiled
from rnnlab.models.embedding import embed_time_major


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


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_compiled_weight_gradient_adds_in_token_order_on_any_number_of_threads(threads: int):
    """Each table row gathers its tokens' gradients in token order whatever the thread count: the same bits as
    torch's own embedding backward."""
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    torch.manual_seed(1)
    tokens = torch.randint(0, 23, (40, 7))  # 280 tokens over 23 rows: every row many times, pads (0) among them
    grad = torch.randn(40, 7, 5)
    expected = torch.ops.aten.embedding_dense_backward(grad.reshape(-1, 5), tokens.reshape(-1), 23, 0, False)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        actual = compiled.embedding_grad(grad, tokens, 23, padding_idx=0)
        unpadded = compiled.embedding_grad(grad, tokens, 23, padding_idx=None)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(actual, expected)
    assert unpadded[0].any() and torch.equal(unpadded[1:], expected[1:])


@pytest.mark.parametrize("option", [{"scale_grad_by_freq": True}, {"max_norm": 1.0}])
def test_options_that_change_the_gradient_keep_nn_embeddings_own_path(option: dict):
    torch.manual_seed(0)
    embedding = nn.Embedding(20, 4, padding_idx=0, **option)
    tokens = torch.randint(0, 20, (3, 9))
    upstream = torch.randn(3, 9, 4)
    (expected,) = torch.autograd.grad((embedding(tokens) * upstream).sum(), embedding.weight)
    (actual,) = torch.autograd.grad((embed_time_major(embedding, tokens) * upstream).sum(), embedding.weight)
    torch.testing.assert_close(actual, expected)
