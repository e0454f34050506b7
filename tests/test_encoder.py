"""The recurrent encoder: shapes a user relies on, padding never leaks into the summary."""

from __future__ import annotations

import pytest
import torch

from rnnlab.models.config import ModelConfig
from rnnlab.models.encoder import RecurrentEncoder, detach_states

B, T, I, H = 4, 7, 3, 8


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
def test_states_are_batch_first_and_bidirectional_doubles_features(cell, bidirectional, num_layers):
    encoder = RecurrentEncoder(ModelConfig(cell=cell, hidden_size=H, num_layers=num_layers,
                                           bidirectional=bidirectional, dropout=0.1), input_size=I)
    states, summary = encoder(torch.randn(B, T, I))
    features = H * (2 if bidirectional else 1)
    assert states.shape == (B, T, features)
    assert summary.shape == (B, features) == (B, encoder.summary_size)
    assert len(encoder.layers) == num_layers


@pytest.mark.parametrize("pooling, width", [("last", 1), ("mean", 1), ("max", 1), ("mean_max", 2)])
def test_pooling_sets_the_summary_width(pooling, width):
    encoder = RecurrentEncoder(ModelConfig(hidden_size=H, pooling=pooling), input_size=I)
    _, summary = encoder(torch.randn(B, T, I))
    assert summary.shape == (B, H * width) == (B, encoder.summary_size)


def test_last_state_is_the_last_real_step_of_each_row():
    encoder = RecurrentEncoder(ModelConfig(cell="gru", hidden_size=H), input_size=I).eval()
    x, lengths = torch.randn(B, T, I), torch.tensor([7, 5, 1, 3])
    states, summary = encoder(x, lengths)
    for row, length in enumerate(lengths):
        alone, _ = encoder(x[row : row + 1, :length])
        torch.testing.assert_close(summary[row], alone[0, -1])
        assert torch.all(states[row, length:] == 0)


def test_bidirectional_summary_reads_each_row_back_from_its_last_real_step():
    encoder = RecurrentEncoder(ModelConfig(hidden_size=H, bidirectional=True), input_size=I).eval()
    x, lengths = torch.randn(B, T, I), torch.tensor([7, 4, 2, 6])
    _, summary = encoder(x, lengths)
    for row, length in enumerate(lengths):
        _, alone = encoder(x[row : row + 1, :length])
        torch.testing.assert_close(summary[row], alone[0])


def test_padding_does_not_change_mean_max_or_attention_summaries():
    x, lengths = torch.randn(B, T, I), torch.tensor([7, 4, 2, 6])
    for cfg in (ModelConfig(hidden_size=H, pooling="mean_max"), ModelConfig(hidden_size=H, attention="bahdanau"),
                ModelConfig(hidden_size=H, attention="luong", bidirectional=True)):
        encoder = RecurrentEncoder(cfg, input_size=I).eval()
        _, summary = encoder(x, lengths)
        for row, length in enumerate(lengths):
            _, alone = encoder(x[row : row + 1, :length])
            torch.testing.assert_close(summary[row], alone[0])


def test_attention_gives_padded_steps_zero_weight():
    encoder = RecurrentEncoder(ModelConfig(hidden_size=H, attention="bahdanau"), input_size=I)
    encoder(torch.randn(B, T, I), torch.tensor([7, 4, 2, 6]))
    weights = encoder.attention.last_weights
    assert weights.shape == (B, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B))
    assert torch.all(weights[1, 4:] == 0) and torch.all(weights[2, 2:] == 0)


def test_layer_norm_normalises_each_layers_states():
    encoder = RecurrentEncoder(ModelConfig(hidden_size=H, num_layers=2, layer_norm=True), input_size=I)
    states, _ = encoder(torch.randn(B, T, I) * 10)
    torch.testing.assert_close(states.mean(-1), torch.zeros(B, T), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_fused_and_torch_implementations_agree_and_share_checkpoints(cell):
    cfg = dict(cell=cell, hidden_size=H, num_layers=2, bidirectional=True, pooling="mean_max")
    fused = RecurrentEncoder(ModelConfig(impl="fused", **cfg), input_size=I)
    plain = RecurrentEncoder(ModelConfig(impl="torch", **cfg), input_size=I)
    plain.load_state_dict(fused.state_dict())
    x, lengths = torch.randn(B, T, I, requires_grad=True), torch.tensor([7, 4, 1, 6])
    for with_lengths in (None, lengths):
        (states_f, summary_f), (states_t, summary_t) = fused(x, with_lengths), plain(x, with_lengths)
        torch.testing.assert_close(states_f, states_t, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(summary_f, summary_t, atol=1e-5, rtol=1e-5)
        grad_f, = torch.autograd.grad(summary_f.sum(), x)
        grad_t, = torch.autograd.grad(summary_t.sum(), x)
        torch.testing.assert_close(grad_f, grad_t, atol=1e-5, rtol=1e-5)


def test_fused_states_stay_fp32_under_bf16_autocast():
    layer = RecurrentEncoder(ModelConfig(cell="gru", hidden_size=H, impl="fused"), input_size=I).layers[0]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs, state = layer(torch.randn(B, T, I))
    assert outputs.dtype == state.dtype == torch.float32


def test_keras_init_sets_orthogonal_recurrent_weights_and_forget_bias_one():
    from rnnlab.tasks.forecast.data import ForecastSpec
    from rnnlab.tasks.forecast.task import ForecastTask
    from rnnlab.tasks.optimizer import OptimizerConfig

    task = ForecastTask(ModelConfig(hidden_size=H, init="keras"), OptimizerConfig(), ForecastSpec(20, 1, 0.0, 1.0, 1.0))
    rnn = task.encoder.layers[0].rnn
    weight = rnn.weight_hh_l0  # [4H, H]: Keras's orthogonal (H, 4H) recurrent kernel, transposed
    torch.testing.assert_close(weight.T @ weight, torch.eye(H), atol=1e-4, rtol=0)
    assert torch.all(rnn.bias_ih_l0[H : 2 * H] == 1) and torch.all(rnn.bias_hh_l0 == 0)
    assert torch.all(task.head.bias == 0)


@pytest.mark.parametrize("pieces", ["halves", "steps"])
@pytest.mark.parametrize("impl", ["fused", "torch"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_running_in_pieces_with_the_state_carried_equals_running_whole(cell, impl, pieces):
    """A stateful model (truncated back-propagation: windows; generation: one step a call) sees what one run
    over the whole sequence sees, every layer's state carried; gradients too while the state is not detached."""
    torch.manual_seed(0)
    encoder = RecurrentEncoder(ModelConfig(cell=cell, hidden_size=H, num_layers=2, layer_norm=True, impl=impl),
                               input_size=I).eval()
    x = torch.randn(B, T, I, requires_grad=True)
    start = [torch.randn(1, B, H) for _ in range(2)]
    start = [(h, torch.randn(1, B, H)) if cell == "lstm" else h for h in start]
    whole, finals = encoder.run(x, state=start)
    loss_whole = whole.square().sum()
    state, outputs = start, []
    for piece in x.split(1 if pieces == "steps" else (T + 1) // 2, dim=1):
        out, state = encoder.run(piece, state=state)
        outputs.append(out)
    torch.testing.assert_close(torch.cat(outputs, dim=1), whole)
    for got, want in zip(state, finals, strict=True):
        torch.testing.assert_close(got, want)
    params = [x, *encoder.parameters()]
    for got, want in zip(torch.autograd.grad(torch.cat(outputs, dim=1).square().sum(), params),
                         torch.autograd.grad(loss_whole, params), strict=True):
        # one call per piece sums the weight gradients over the steps in another order than one product over all
        # of them: fp32 rounding of sums that cancel to ~1e-2 differs by ~1e-5 (seen on an AVX-512 Xeon)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_detached_states_carry_values_but_no_graph():
    encoder = RecurrentEncoder(ModelConfig(cell="lstm", hidden_size=H, num_layers=2), input_size=I)
    _, finals = encoder.run(torch.randn(B, T, I))
    carried = detach_states(finals)
    assert all(isinstance(s, tuple) and not any(t.requires_grad for t in s) for s in carried)
    assert all(torch.equal(a, b) for s, f in zip(carried, finals) for a, b in zip(s, f))
    with pytest.raises(ValueError, match="one state per layer"):
        encoder.run(torch.randn(B, T, I), state=carried[:1])
