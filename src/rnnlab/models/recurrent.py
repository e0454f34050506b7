"""One recurrent layer behind one seam: `RecurrentLayer` runs the implementation `model.impl` picks.

Every implementation takes `x [B, T, I]` (batch_first) and optional `lengths [B]` of right-padded rows,
and returns `outputs [B, T, H * directions]` (zeros at padded steps) and `h_n [directions, B, H]`, the
state at each row's last real step. They share one set of parameters (those of `nn.RNN/LSTM/GRU`), so
a checkpoint trained with one implementation loads and runs with the other.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.models.fused import fused_recurrence

TORCH_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
log = logging.getLogger(__name__)


def torch_recurrence(rnn: nn.RNNBase, x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
    """`nn.RNN/LSTM/GRU`: cuDNN on GPU, oneDNN for LSTM on CPU (full-length input only)."""
    if lengths is None:
        outputs, state = rnn(x)
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, state = rnn(packed)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=x.shape[1])
    return outputs, state[0] if isinstance(state, tuple) else state


class RecurrentLayer(nn.Module):
    """One layer of `cell`; `impl` = torch (`nn.*`), fused (ours, faster on CPU) or auto (the fastest).

    `auto` runs our fused recurrence (time loops compiled from recurrence_kernels.c) on the CPU wherever it
    is faster than PyTorch's kernels: always for GRU and RNN, and for LSTM with variable lengths (packed
    sequences leave oneDNN); full-length LSTM (oneDNN) and GPUs (cuDNN) run `nn.*`. The fused recurrence
    computes in fp32 even under autocast: on the CPU, bf16 autocast slows GRU and RNN down (only oneDNN's
    LSTM gains from it), so mixed precision is used only where it is faster for the cell
    (benchmarks/results.md).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool, impl: str = "auto") -> None:
        super().__init__()
        self.cell, self.impl = cell, impl
        self.rnn = TORCH_CELLS[cell](input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self._autocast_logged = False

    def use_fused(self, x: Tensor, lengths: Tensor | None) -> bool:
        if self.impl != "auto":
            return self.impl == "fused"
        return x.device.type == "cpu" and (self.cell != "lstm" or lengths is not None)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if not self.use_fused(x, lengths):
            return torch_recurrence(self.rnn, x, lengths)
        if not torch.is_autocast_enabled(x.device.type):
            return fused_recurrence(self.rnn, self.cell, x, lengths)
        if not self._autocast_logged:
            log.info("the %s recurrence runs in fp32 under autocast: model.impl=%s picked the fused CPU path, "
                     "which is faster in fp32 than nn.%s in bf16", self.cell, self.impl, type(self.rnn).__name__)
            self._autocast_logged = True
        with torch.autocast(x.device.type, enabled=False):
            return fused_recurrence(self.rnn, self.cell, x.float(), lengths)
