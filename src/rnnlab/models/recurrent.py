"""One recurrent layer behind one seam: `RecurrentLayer` runs the implementation `model.impl` picks.

Every implementation takes `x [B, T, I]` (batch_first), optional `lengths [B]` of right-padded rows and an
optional initial state as `nn.RNN/LSTM/GRU` take it (`h0 [directions, B, H]`; LSTM `(h0, c0)`), and returns
`outputs [B, T, H * directions]` (zeros at padded steps) and the final state in the same form, each row's
at its last real step. They share one set of parameters (those of `nn.RNN/LSTM/GRU`), so a checkpoint
trained with one implementation loads and runs with the other.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.kernels import State, amx_tiles, fused_recurrence

TORCH_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
log = logging.getLogger(__name__)


def torch_recurrence(rnn: nn.RNNBase, x: Tensor, lengths: Tensor | None,
                     state: State | None = None) -> tuple[Tensor, State]:
    """`nn.RNN/LSTM/GRU`: cuDNN on GPU, oneDNN for LSTM on CPU (full-length input only)."""
    if lengths is None:
        return rnn(x, state)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    packed_out, final = rnn(packed, state)
    outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=x.shape[1])
    return outputs, final


def last_hidden(state: State) -> Tensor:
    """h_n [directions, B, H] of a final state (an LSTM's is (h_n, c_n))."""
    return state[0] if isinstance(state, tuple) else state


def fused_is_faster(cell: str, batch: int, hidden: int, ragged: bool, bf16_without_amx: bool) -> bool:
    """Whether the fused recurrence trains this layer faster than `nn.*` on the CPU, by the thresholds that
    `python benchmarks/impl_scaling.py` measured (benchmarks/results.md, "Recurrence implementations by
    shape"). oneDNN's LSTM wins on full-length input when each step's product is wide but its batch small
    (a 1024-wide layer; B x H up to 8,192), and nn.GRU on the widest batches. Under bf16 autocast without AMX
    tiles, the fused loops multiply step by step in fp32 while nn.* runs bf16 products: nn.* wins on
    full-length LSTM and on wide full-length layers, and on 1024-wide ragged ones below 256 rows."""
    if bf16_without_amx:
        if not ragged:
            return cell != "lstm" and batch * hidden < 65_536 and hidden < 1024
        return hidden < 1024 or batch > 64
    if ragged:  # nn.* runs packed sequences step by step without oneDNN: the fused loops win at every size
        return True
    if cell == "lstm":
        return hidden < 512 and not (hidden >= 128 and batch * hidden <= 8_192)
    return cell != "gru" or batch * hidden < 262_144


class RecurrentLayer(nn.Module):
    """One layer of `cell`; `impl` = torch (`nn.*`), fused (ours, faster on CPU) or auto (the fastest).

    `auto` runs our fused recurrence (time loops compiled from recurrence_kernels.c) on the CPU wherever it
    measured faster than PyTorch's kernels (`fused_is_faster`); GPUs (cuDNN) run `nn.*`. Under bf16 autocast the fused
    recurrence runs its big matrix products in bf16 where the CPU has bf16 matrix units, and its per-step
    products too where it has AMX tiles; states and element-wise updates stay fp32 (compiled.py), so mixed
    precision is used only where it is faster (benchmarks/results.md).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool, impl: str = "auto") -> None:
        super().__init__()
        self.cell, self.impl = cell, impl
        self.rnn = TORCH_CELLS[cell](input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self._autocast_logged = False

    def use_fused(self, x: Tensor, lengths: Tensor | None) -> bool:
        if self.impl != "auto":
            return self.impl == "fused"
        if x.device.type != "cpu":
            return False
        return fused_is_faster(self.cell, x.shape[0], self.rnn.hidden_size, lengths is not None,
                               torch.is_autocast_enabled("cpu") and not amx_tiles())

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: State | None = None) -> tuple[Tensor, State]:
        """(outputs [B, T, H * directions], final state) from the initial `state` (None: zeros), as `nn.*`."""
        if not self.use_fused(x, lengths):
            return torch_recurrence(self.rnn, x, lengths, state)
        autocast = torch.is_autocast_enabled(x.device.type)
        if autocast and not self._autocast_logged:
            log.info("the %s recurrence keeps its states in fp32 under autocast (products in bf16 where the CPU "
                     "multiplies bf16 in hardware): model.impl=%s picked the fused CPU path, faster than nn.%s in "
                     "bf16", self.cell, self.impl, type(self.rnn).__name__)
            self._autocast_logged = True
        if autocast and x.device.type != "cpu":
            with torch.autocast(x.device.type, enabled=False):  # off the CPU the Python loops compute in fp32
                if state is not None:
                    state = tuple(s.float() for s in state) if isinstance(state, tuple) else state.float()
                return fused_recurrence(self.rnn, self.cell, x.float(), lengths, state)
        return fused_recurrence(self.rnn, self.cell, x, lengths, state)
