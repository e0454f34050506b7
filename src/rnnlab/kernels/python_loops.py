"""Time loops of the fused cells: forward, and the hand-written backward through time.

Every buffer is time-major, `[T(+1), D, B, X]`: step t is one `[D, B, X]` block, so the D directions advance
together through one batched matmul per step. Rows are sorted longest first, so at step t only the first
`counts[t]` rows are active and each per-step tensor is a leading slice (padded steps cost nothing and keep
zero gradients). `states[t + 1]` is the hidden state after step t; `states[0]` is the initial state, h0 in
the buffers' row order or zeros (LSTM: the same for the cell states, from c0).

A step is one small matmul and a few in-place element-wise ops. The backward loop only propagates dh (and
dc); the factors it needs are computed for all steps at once beforehand, and the weight gradients are
batched over all steps by the caller. `forward(gi, w_hh, b_hh, counts, initial)` returns the state buffers
(`(states,)`, LSTM `(states, cells)`) and what backward reads. `backward(g, ...)` takes one gradient buffer
per state buffer, `dL/d(states)` (LSTM: and `dL/d(cells)`) from the outputs and the final states (read only
at active positions, updated in place; `[0]` receives the initial states' gradients) and returns the
gradients of the input-side and hidden-side pre-activations `(dgi, dgh)`, each `[T, D, B, G]` in the cell's
gate order.
"""

from __future__ import annotations

from itertools import groupby

import torch
from torch import Tensor


def step_views(buf: Tensor, counts: list[int]) -> list[Tensor]:
    """`buf[t, :, :counts[t]]` for every step, sliced once per run of equal counts rather than per step."""
    views: list[Tensor] = []
    start = 0
    for active, run in groupby(counts):
        stop = start + len(list(run))
        views.extend(buf[start:stop, :, :active].unbind(0))
        start = stop
    return views


def _new_buffer(like: Tensor, counts: list[int], *shape: int) -> Tensor:
    """A buffer to be filled per step; zeroed unless every step fills all of it."""
    full = len(counts) == like.shape[0] and counts[-1] == like.shape[2]
    return like.new_empty(*shape) if full else like.new_zeros(*shape)


def _new_states(like: Tensor, counts: list[int], hidden: int, initial: tuple[Tensor, ...], kind: int) -> Tensor:
    """A state buffer `[T + 1, D, B, hidden]` starting from initial state `kind` (0: h, 1: c), else from zeros."""
    states = _new_buffer(like, counts, like.shape[0] + 1, *like.shape[1:3], hidden)
    states[0] = initial[kind] if len(initial) > kind else 0
    return states


class RNNCell:
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh); both biases are folded into the input projection."""

    gates = 1
    state_count = 1  # kinds of state per step: h (LSTM: and c)
    order = (0,)  # cell gate order, as indices of torch's gate chunks, for W_ih and for W_hh
    hidden_order = (0,)

    def input_bias(self, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        """The biases added once to the input projection of all steps."""
        return b_ih + b_hh

    def forward(self, gi: Tensor, w_hh: Tensor, b_hh: Tensor, counts: list[int],
                initial: tuple[Tensor, ...] = ()) -> tuple[tuple[Tensor, ...], tuple]:
        states = _new_states(gi, counts, w_hh.shape[-1], initial, 0)
        w_t = w_hh.transpose(1, 2).contiguous()
        for pre, h_prev, h in zip(*(step_views(t, counts) for t in (gi, states, states[1:]))):
            torch.tanh(pre.baddbmm_(h_prev, w_t), out=h)
        return (states,), (states,)

    def backward(self, grads: tuple[Tensor, ...], w_hh: Tensor, saved: tuple,
                 counts: list[int]) -> tuple[Tensor, Tensor]:
        (g,), (states,) = grads, saved
        slope = torch.addcmul(states.new_ones(()), states[1:], states[1:], value=-1)  # 1 - h^2
        dpre = _new_buffer(slope, counts, *slope.shape)
        steps = zip(*(step_views(t, counts) for t in (slope, g[1:], g, dpre)))
        for s, dh, dh_prev, dp in reversed(list(steps)):
            dh_prev.baddbmm_(torch.mul(dh, s, out=dp), w_hh)
        return dpre, dpre


class GRUCell:
    """nn.GRU maths. W_ih keeps torch's gate order r, z, n; W_hh is used in the order n, r, z, so that the
    backward step writes [dn_h, dr, dz, dn_i] in one op and both dgh = [dn_h, dr, dz] and dgi = [dr, dz, dn_i]
    are contiguous slices of it. `gi` is overwritten by the activations r, z, n.
    """

    gates = 3
    state_count = 1
    order = (0, 1, 2)
    hidden_order = (2, 0, 1)

    def input_bias(self, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        """b_ih + (b_hr, b_hz, 0): only b_hn stays inside the step, under r."""
        hid = b_hh.shape[-1] // 3
        return b_ih + torch.cat([b_hh[:, hid:], torch.zeros_like(b_hh[:, :hid])], dim=-1)

    def forward(self, gi: Tensor, w_hh: Tensor, b_hh: Tensor, counts: list[int],
                initial: tuple[Tensor, ...] = ()) -> tuple[tuple[Tensor, ...], tuple]:
        hid = w_hh.shape[-1]
        states = _new_states(gi, counts, hid, initial, 0)
        gh = _new_buffer(gi, counts, *gi.shape)  # W_hh h (+ b_hn in the n block), order n, r, z
        b_hn = b_hh[:, None, :hid]
        w_t = w_hh.transpose(1, 2).contiguous()
        tensors = (gh, gi[..., : 2 * hid], gh[..., hid:], gi[..., 2 * hid :], gi[..., :hid], gh[..., :hid])
        tensors += (gi[..., hid : 2 * hid], states, states[1:])
        for gh_t, rz, gh_rz, n, r, gh_n, z, h_prev, h in zip(*(step_views(t, counts) for t in tensors)):
            torch.bmm(h_prev, w_t, out=gh_t)
            gh_n.add_(b_hn)
            rz.add_(gh_rz).sigmoid_()
            n.addcmul_(r, gh_n).tanh_()
            torch.lerp(n, h_prev, z, out=h)  # (1 - z) n + z h
        return (states,), (gi, gh, states)

    def backward(self, grads: tuple[Tensor, ...], w_hh: Tensor, saved: tuple,
                 counts: list[int]) -> tuple[Tensor, Tensor]:
        (g,), (gates, gh, states) = grads, saved
        r, z, n = gates.chunk(3, dim=-1)
        hid = r.shape[-1]
        # per unit dh: coef = d(pre-activations) [n hidden side, r, z, n input side]
        coef = gates.new_empty(*gates.shape[:3], 4, hid)
        c_nh, c_r, c_z, c_ni = coef.unbind(3)
        one_minus_z = 1 - z
        torch.addcmul(gates.new_ones(()), n, n, value=-1, out=c_ni).mul_(one_minus_z)  # (1 - z)(1 - n^2)
        torch.mul(c_ni, r, out=c_nh)
        torch.mul(c_nh, gh[..., :hid], out=c_r)
        c_r.addcmul_(c_r, r, value=-1)  # * (1 - r)
        torch.sub(states[1:], n, out=c_z).mul_(one_minus_z)  # (h_prev - n) z (1 - z) = (h - n)(1 - z)
        grads = _new_buffer(gates, counts, *coef.shape)
        tensors = (coef, g[1:].unsqueeze(3), grads, grads.flatten(-2)[..., : 3 * hid], g[1:], z, g)
        for c, dh4, d4, dgh, dh, z_t, dh_prev in reversed(list(zip(*(step_views(t, counts) for t in tensors)))):
            torch.mul(c, dh4, out=d4)
            dh_prev.addcmul_(dh, z_t).baddbmm_(dgh, w_hh)
        flat = grads.flatten(-2)
        return flat[..., hid:], flat[..., : 3 * hid]


class LSTMCell:
    """nn.LSTM maths with the gates used in the order o, i, f, g (the three sigmoids in one block)."""

    gates = 4
    state_count = 2
    order = (3, 0, 1, 2)
    hidden_order = order
    input_bias = RNNCell.input_bias

    def forward(self, gi: Tensor, w_hh: Tensor, b_hh: Tensor, counts: list[int],
                initial: tuple[Tensor, ...] = ()) -> tuple[tuple[Tensor, ...], tuple]:
        hid = w_hh.shape[-1]
        states = _new_states(gi, counts, hid, initial, 0)
        cells = _new_states(gi, counts, hid, initial, 1)
        tanh_c = _new_buffer(gi, counts, *states[1:].shape)
        o, i, f, g = gi.chunk(4, dim=-1)
        w_t = w_hh.transpose(1, 2).contiguous()
        tensors = (gi, gi[..., : 3 * hid], g, f, cells, cells[1:], i, tanh_c, o, states, states[1:])
        for pre, sig, g_t, f_t, c_prev, c, i_t, tc, o_t, h_prev, h in zip(*(step_views(t, counts) for t in tensors)):
            pre.baddbmm_(h_prev, w_t)
            sig.sigmoid_()
            g_t.tanh_()
            torch.mul(f_t, c_prev, out=c).addcmul_(i_t, g_t)
            torch.mul(o_t, torch.tanh(c, out=tc), out=h)
        return (states, cells), (gi, cells, tanh_c)

    def backward(self, grads: tuple[Tensor, ...], w_hh: Tensor, saved: tuple,
                 counts: list[int]) -> tuple[Tensor, Tensor]:
        (g, dc), (gates, cells, tanh_c) = grads, saved
        o, i, f, gg = gates.chunk(4, dim=-1)
        hid = o.shape[-1]
        one = gates.new_ones(())
        # per unit dh: d(o pre-activation), and dc; per unit dc: d(i, f, g pre-activations)
        do_coef = torch.mul(tanh_c, o).addcmul_(tanh_c, o.square(), value=-1)  # tanh(c) o (1 - o)
        dc_coef = torch.addcmul(one, tanh_c, tanh_c, value=-1).mul_(o)  # o (1 - tanh(c)^2)
        ifg_coef = gates.new_empty(*gates.shape[:3], 3, hid)
        c_i, c_f, c_g = ifg_coef.unbind(3)
        torch.mul(gg, i, out=c_i).addcmul_(c_i, i, value=-1)  # g i (1 - i)
        torch.mul(cells[:-1], f, out=c_f).addcmul_(c_f, f, value=-1)  # c_prev f (1 - f)
        torch.addcmul(one, gg, gg, value=-1, out=c_g).mul_(i)  # i (1 - g^2)
        dgates = _new_buffer(gates, counts, *gates.shape)
        # dc[t + 1] = dL/dc_t: c_n's gradient from the caller, plus the carry from step t + 1
        dgates_ifg = dgates[..., hid:].unflatten(-1, (3, hid))
        tensors = (dc[1:], g[1:], dc_coef, dgates[..., :hid], do_coef, ifg_coef, dc[1:].unsqueeze(3), dgates_ifg)
        tensors += (dc, f, g, dgates)
        steps = zip(*(step_views(t, counts) for t in tensors))
        for dc_t, dh, dcc, do, doc, ifgc, dc4, difg, dc_prev, f_t, dh_prev, dg in reversed(list(steps)):
            dc_t.addcmul_(dh, dcc)
            torch.mul(ifgc, dc4, out=difg)
            torch.mul(dh, doc, out=do)
            torch.mul(dc_t, f_t, out=dc_prev)
            dh_prev.baddbmm_(dg, w_hh)
        return dgates, dgates


CELLS = {"rnn": RNNCell(), "gru": GRUCell(), "lstm": LSTMCell()}
