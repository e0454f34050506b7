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

from rnnlab.kernels import State, fused_recurrence
from rnnlab.models.impl_choice import choose, shape_key

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


class RecurrentLayer(nn.Module):
    """One layer of `cell`; `impl` = torch (`nn.*`), fused (ours, faster on CPU) or auto (the fastest).

    `auto` runs on the CPU whichever of our fused recurrence (time loops compiled from recurrence_kernels.c)
    and PyTorch's kernels measured faster on this machine for this kind of batch (impl_choice.py: timed on
    first use, kept per machine); GPUs (cuDNN) run `nn.*`. Under bf16 autocast the fused recurrence runs its
    big matrix products in bf16 where the CPU has bf16 matrix units, and its per-step products too where it
    has AMX tiles; states and element-wise updates stay fp32 (compiled.py).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool, impl: str = "auto") -> None:
        super().__init__()
        self.cell, self.impl = cell, impl
        self.rnn = TORCH_CELLS[cell](input_size, hidden_size, batch_first=True, bidirectional=bidirectional)
        self._autocast_logged = False
        self._picked: dict[str, bool] = {}  # shape_key -> fused, as impl_choice chose it

    def use_fused(self, x: Tensor, lengths: Tensor | None) -> bool:
        if self.impl != "auto":
            return self.impl == "fused"
        if x.device.type != "cpu":
            return False
        if x.numel() == 0:  # an empty batch: nothing to time, and both return empty tensors
            return True
        key = shape_key(self.cell, x, lengths, self.rnn.hidden_size, 2 if self.rnn.bidirectional else 1)
        if key not in self._picked:
            forwards = {"fused": lambda x_, lengths_: self._fused(x_, lengths_, None)[0],
                        "torch": lambda x_, lengths_: torch_recurrence(self.rnn, x_, lengths_)[0]}
            self._picked[key] = choose(key, forwards, list(self.rnn.parameters()), x, lengths) == "fused"
        return self._picked[key]

    def forward(self, x: Tensor, lengths: Tensor | None = None, state: State | None = None) -> tuple[Tensor, State]:
        """(outputs [B, T, H * directions], final state) from the initial `state` (None: zeros), as `nn.*`."""
        if not self.use_fused(x, lengths):
            return torch_recurrence(self.rnn, x, lengths, state)
        return self._fused(x, lengths, state)

    def _fused(self, x: Tensor, lengths: Tensor | None, state: State | None) -> tuple[Tensor, State]:
        autocast = torch.is_autocast_enabled(x.device.type)
        if autocast and not self._autocast_logged:
            log.info("the %s recurrence keeps its states in fp32 under autocast (products in bf16 where the CPU "
                     "multiplies bf16 in hardware): model.impl=%s picked the fused path", self.cell, self.impl)
            self._autocast_logged = True
        if autocast and x.device.type != "cpu":
            with torch.autocast(x.device.type, enabled=False):  # off the CPU the Python loops compute in fp32
                if state is not None:
                    state = tuple(s.float() for s in state) if isinstance(state, tuple) else state.float()
                return fused_recurrence(self.rnn, self.cell, x.float(), lengths, state)
        return fused_recurrence(self.rnn, self.cell, x, lengths, state)
