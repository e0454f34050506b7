"""A single-layer RNN / GRU / LSTM that trains faster on CPU than `nn.RNN` / `nn.GRU` (and packed `nn.LSTM`).

On CPU those modules run one small matmul and several element-wise ops per time step, each recorded by
autograd. Here the input projections of all steps are one matmul, each step is one small batched matmul
(both directions together) plus a few in-place element-wise ops, and the backward through time is written
by hand in an `autograd.Function`; the weight gradients are then one matmul each over all steps.

Same parameters (names, shapes, init) and maths as the torch modules, so state dicts load both ways.
Variable lengths give the same results as `pack_padded_sequence`: rows are sorted by length and the
reverse direction reads each row back from its last real step, via gather indices built once per batch.
Initial and final states are those of the torch modules too: h0 [D, B, H] (LSTM: (h0, c0)) in, and the
state at each row's last real step (time 0 for the reverse direction) out, gradients flowing through both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from rnnlab.kernels import compiled
from rnnlab.kernels.python_loops import CELLS


@dataclass(frozen=True)
class _Plan:
    """Row permutations between the caller's `[B, T, D]` rows and the sorted, time-major buffer rows."""

    to_buffer: Tensor  # [T * D * B]: caller row (b * T + t) * D + d read at buffer row (t', d, j)
    to_caller: Tensor  # the inverse permutation
    order: Tensor  # [B]: the caller's row at each buffer row j (rows longest first)
    hn_rows: Tensor  # [D * B]: buffer row (of states[1:]) holding h_n for (d, b)
    counts: list[int]  # active rows per step


@lru_cache(maxsize=16)
def _full_plan(batch: int, steps: int, directions: int, device: torch.device) -> _Plan:
    return _plan(batch, steps, directions, None, device)


def _plan(batch: int, steps: int, directions: int, lengths: Tensor | None, device: torch.device) -> _Plan:
    t = torch.arange(steps, device=device)[:, None]
    d = torch.arange(directions, device=device)
    if lengths is None:
        lens = torch.full((batch,), steps, device=device)
        perm = pos = torch.arange(batch, device=device)
    else:
        lens = compiled.check_lengths(lengths.to(device=device, dtype=torch.long), batch, steps)
        perm = torch.argsort(lens, descending=True, stable=True)
        pos = torch.empty_like(perm)
        pos[perm] = torch.arange(batch, device=device)
    sorted_lens = lens[perm]
    active = t < sorted_lens  # [T, B]
    # time read at step t' of sorted row j: the reverse direction reads each row back from its last real step
    src = torch.stack([t.expand(steps, batch), torch.where(active, sorted_lens - 1 - t, t)][:directions], dim=1)
    to_buffer = ((perm * steps + src) * directions + d[:, None]).flatten()
    to_caller = torch.empty_like(to_buffer)
    to_caller[to_buffer] = torch.arange(to_buffer.numel(), device=device)
    hn_rows = ((lens - 1) * directions + d[:, None]) * batch + pos
    counts = active.sum(1)
    return _Plan(to_buffer, to_caller, perm, hn_rows.flatten(), counts[counts > 0].tolist())


def _per_direction_product(a: Tensor, b: Tensor) -> Tensor:
    """sum over steps and rows of a^T b, per direction: [T, D, B, G] x [T, D, B, K] -> [D, G, K]."""
    return torch.stack([a[:, k].flatten(0, 1).t() @ b[:, k].flatten(0, 1) for k in range(a.shape[1])])


class _FusedRecurrence(torch.autograd.Function):
    """x [B, T, I], weights stacked over directions [D, G, *], initial states [D, B, H] (h0, then c0 for LSTM;
    none: zeros) -> (outputs [B, T, D * H], h_n [D, B, H], and c_n [D, B, H] for LSTM)."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # bf16 slows these loops on the CPU
    def forward(ctx, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, plan: _Plan, cell_name: str,
                *initial: Tensor):
        cell = CELLS[cell_name]
        batch, steps, inputs = x.shape
        directions, gates, hidden = w_hh.shape
        bias = cell.input_bias(b_ih, b_hh).flatten()
        proj = torch.addmm(bias, x.reshape(batch * steps, inputs), w_ih.flatten(0, 1).t())  # [B * T, D * G]
        gi = proj.view(-1, gates).index_select(0, plan.to_buffer).view(steps, directions, batch, gates)
        states, saved = cell.forward(gi, w_hh, b_hh, plan.counts, tuple(s.index_select(1, plan.order) for s in initial))
        outputs = states[0][1:].view(-1, hidden).index_select(0, plan.to_caller).view(batch, steps, directions * hidden)
        finals = (s[1:].view(-1, hidden).index_select(0, plan.hn_rows).view(directions, batch, hidden) for s in states)
        ctx.save_for_backward(x, w_ih, w_hh)
        ctx.plan, ctx.cell, ctx.states, ctx.saved, ctx.initial = plan, cell, states, saved, len(initial)
        return outputs, *finals

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, d_outputs: Tensor, *d_finals: Tensor):
        x, w_ih, w_hh = ctx.saved_tensors
        plan, cell, states = ctx.plan, ctx.cell, ctx.states
        batch, steps, inputs = x.shape
        directions, gates, hidden = w_hh.shape
        grads = []  # per state buffer: dL/d(states), from the outputs (h only) and the final states
        for k, d_final in enumerate(d_finals):
            g = torch.zeros_like(states[k]) if k else torch.empty_like(states[k])
            if k == 0:
                g[0] = 0  # receives the initial state's gradient
                torch.index_select(d_outputs.reshape(-1, hidden), 0, plan.to_buffer, out=g[1:].view(-1, hidden))
            g[1:].view(-1, hidden).index_add_(0, plan.hn_rows, d_final.reshape(-1, hidden))
            grads.append(g)
        dgi, dgh = cell.backward(tuple(grads), w_hh, ctx.saved, plan.counts)
        d_proj = dgi.flatten(0, 2).index_select(0, plan.to_caller).view(batch * steps, directions * gates)
        dx = dw_ih = dw_hh = None
        if ctx.needs_input_grad[0]:
            dx = (d_proj @ w_ih.flatten(0, 1)).view(batch, steps, inputs)
        if ctx.needs_input_grad[1]:
            dw_ih = (d_proj.t() @ x.reshape(batch * steps, inputs)).view(directions, gates, inputs)
        if ctx.needs_input_grad[2]:
            dw_hh = _per_direction_product(dgh, states[0][:-1])
        db_ih = d_proj.sum(0).view(directions, gates)
        db_hh = db_ih if dgh is dgi else dgh.sum((0, 2))
        # the initial states' gradients, back in the caller's row order
        d_initial = (torch.empty_like(g[0]).index_copy_(1, plan.order, g[0]) for g in grads[: ctx.initial])
        return dx, dw_ih, dw_hh, db_ih, db_hh, None, None, *d_initial


@lru_cache(maxsize=32)
def _gate_rows(order: tuple[int, ...], hidden_size: int, device: torch.device) -> Tensor | None:
    """Rows that put torch's gate blocks in the cell's order, or None when the orders agree."""
    if list(order) == sorted(order):
        return None
    # cached: made in inference mode, an index that training's index_select saves for backward would fail there
    with torch.inference_mode(False):
        return torch.cat([torch.arange(k * hidden_size, (k + 1) * hidden_size, device=device) for k in order])


def _stacked(owner: nn.Module, name: str, directions: int, rows: Tensor | None) -> Tensor:
    """The parameter `name` of every direction as [D, G, ...], gate rows in the cell's order."""
    params = [getattr(owner, f"{name}_l0{suffix}") for suffix in ("", "_reverse")[:directions]]
    stacked = params[0].unsqueeze(0) if directions == 1 else torch.stack(params)
    return stacked if rows is None else stacked.index_select(1, rows)


State = Tensor | tuple[Tensor, Tensor]  # h [D, B, H]; LSTM (h, c), as nn.* takes and returns them


def _initial_states(cell: str, state: State | None, shape: tuple[int, int, int]) -> tuple[Tensor, ...]:
    """`state` as a tuple of [D, B, H] tensors (h0, then c0 for LSTM), empty for None (zeros)."""
    if state is None:
        return ()
    states = state if isinstance(state, tuple) else (state,)
    if len(states) != CELLS[cell].state_count or any(s.shape != shape for s in states):
        form = "(h0, c0), each" if cell == "lstm" else "h0"
        got = [tuple(s.shape) for s in states] if isinstance(state, tuple) else tuple(state.shape)
        raise ValueError(f"the {cell} state must be {form} of shape [D, B, H] = {list(shape)}, got {got}")
    return states


def fused_recurrence(owner: nn.Module, cell: str, x: Tensor, lengths: Tensor | None,
                     state: State | None = None) -> tuple[Tensor, State]:
    """Run the fused recurrence with the parameters of `owner`, which are named like a one-layer
    `nn.RNN`/`nn.GRU`/`nn.LSTM` (`weight_ih_l0`, ..., `*_reverse`): that module itself, or ours.
    `state` is the initial state as those modules take it (h0 [D, B, H]; LSTM (h0, c0)), None for zeros;
    returns (outputs [B, T, D * H], the final state in the same form).
    The time loops run compiled (compiled.py) where they can, else in Python (python_loops.py)."""
    batch, steps, _ = x.shape
    directions = 2 if hasattr(owner, "weight_ih_l0_reverse") else 1
    hidden_size = owner.weight_hh_l0.shape[1]
    initial = _initial_states(cell, state, (directions, batch, hidden_size))
    input_rows = _gate_rows(tuple(CELLS[cell].order), hidden_size, x.device)
    hidden_rows = _gate_rows(tuple(CELLS[cell].hidden_order), hidden_size, x.device)
    w_ih, w_hh, b_ih, b_hh = (
        _stacked(owner, name, directions, rows)
        for name, rows in (("weight_ih", input_rows), ("weight_hh", hidden_rows), ("bias_ih", input_rows),
                           ("bias_hh", hidden_rows))
    )
    if compiled.usable(x):
        outputs, *finals = compiled.NativeRecurrence.apply(x, w_ih, w_hh, b_ih, b_hh, lengths, cell, *initial)
    else:
        with torch.no_grad():
            if lengths is None:
                plan = _full_plan(batch, steps, directions, x.device)
            else:
                plan = _plan(batch, steps, directions, lengths, x.device)
        outputs, *finals = _FusedRecurrence.apply(x, w_ih, w_hh, b_ih, b_hh, plan, cell, *initial)
    return outputs, tuple(finals) if cell == "lstm" else finals[0]


class FusedRecurrentLayer(nn.Module):
    """One recurrent layer ("rnn" (tanh), "gru" or "lstm"), batch_first, optionally bidirectional.

    Parameters are named, shaped and initialised like `nn.RNN` / `nn.GRU` / `nn.LSTM` with one layer.
    `forward(x, lengths)` returns `(outputs [B, T, H * D], h_n [D, B, H])` exactly as the torch module on
    `pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)` (outputs padded back to T
    with zeros); for LSTM only h_n is returned, not c_n (the benchmarks' interface: `fused_recurrence` takes
    initial states and returns whole final states).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool = False) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.cell, self.input_size, self.hidden_size = cell, input_size, hidden_size
        self.bidirectional = bidirectional
        size = CELLS[cell].gates * hidden_size
        self._suffixes = ["", "_reverse"] if bidirectional else [""]
        for suffix in self._suffixes:
            self.register_parameter(f"weight_ih_l0{suffix}", nn.Parameter(torch.empty(size, input_size)))
            self.register_parameter(f"weight_hh_l0{suffix}", nn.Parameter(torch.empty(size, hidden_size)))
            self.register_parameter(f"bias_ih_l0{suffix}", nn.Parameter(torch.empty(size)))
            self.register_parameter(f"bias_hh_l0{suffix}", nn.Parameter(torch.empty(size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
        outputs, state = fused_recurrence(self, self.cell, x, lengths)
        return outputs, state[0] if isinstance(state, tuple) else state

    def extra_repr(self) -> str:
        return f"{self.cell}, {self.input_size}, {self.hidden_size}, bidirectional={self.bidirectional}"
