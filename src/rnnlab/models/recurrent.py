"""One recurrent layer behind one seam: `make_recurrent_layer` picks the implementation (`model.impl`).

Every implementation takes `x [B, T, I]` (batch_first) and optional `lengths [B]` of right-padded rows,
and returns `outputs [B, T, H * directions]` (zeros at padded steps) and `h_n [directions, B, H]`, the
state at each row's last real step.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TORCH_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class TorchRecurrentLayer(nn.Module):
    """`nn.RNN` / `nn.LSTM` / `nn.GRU` (one layer); cuDNN on GPU, oneDNN for LSTM on CPU."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool) -> None:
        super().__init__()
        self.rnn = TORCH_CELLS[cell](input_size, hidden_size, batch_first=True, bidirectional=bidirectional)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if lengths is None:
            outputs, state = self.rnn(x)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            packed_out, state = self.rnn(packed)
            outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=x.shape[1])
        h_n = state[0] if isinstance(state, tuple) else state
        return outputs, h_n


def make_recurrent_layer(
    cell: str, input_size: int, hidden_size: int, bidirectional: bool, impl: str = "auto"
) -> nn.Module:
    """Build one recurrent layer with the implementation `impl` asks for (`auto` picks the fastest)."""
    return TorchRecurrentLayer(cell, input_size, hidden_size, bidirectional)
