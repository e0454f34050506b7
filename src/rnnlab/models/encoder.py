"""The recurrent encoder: cell × layers × direction × dropout (× layer norm) → states and a summary."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnlab.models.attention import AttentionPooling
from rnnlab.models.config import ModelConfig
from rnnlab.models.recurrent import RecurrentLayer, State, last_hidden


def step_mask(lengths: Tensor | None, steps: int) -> Tensor | None:
    """[B, T] True at real (non-pad) steps of right-padded rows; None when every step is real."""
    if lengths is None:
        return None
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def pool_states(states: Tensor, last: Tensor, mask: Tensor | None, pooling: str) -> Tensor:
    """Summarise states [B, T, F] as the last real state, or the mean / max / both over real steps."""
    if pooling == "last":
        return last
    if mask is None:
        mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
    weights = mask.unsqueeze(-1).to(states.dtype)
    mean = (states * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    maximum = states.masked_fill(~mask.unsqueeze(-1), torch.finfo(states.dtype).min).amax(1)
    return {"mean": mean, "max": maximum, "mean_max": torch.cat([mean, maximum], dim=-1)}[pooling]


def detach_states(states: Sequence[State]) -> list[State]:
    """Per-layer states cut from the graph that made them: truncated back-propagation carries these into the
    next window."""
    return [tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach() for state in states]


class RecurrentEncoder(nn.Module):
    """Stacked recurrent layers over batch_first inputs [B, T, input_size].

    `forward` returns the per-step states of the top layer [B, T, output_size] and a summary
    [B, summary_size]: the last real state (both directions concatenated), a pooling over the states,
    or attention pooling when `attention` is not `none`. `lengths` (right-padded rows) makes every
    layer stop at each row's end; `mask` alone ([B, T], True at real steps) only keeps pads out of the
    pooling and attention, as Keras does with pre-padded input. `run` starts every layer from a given state
    and returns every layer's final state, for models that carry state across calls.
    """

    def __init__(self, cfg: ModelConfig, input_size: int) -> None:
        super().__init__()
        directions = 2 if cfg.bidirectional else 1
        self.bidirectional = cfg.bidirectional
        self.output_size = cfg.hidden_size * directions
        self.layers = nn.ModuleList(
            RecurrentLayer(
                cfg.cell, input_size if i == 0 else self.output_size, cfg.hidden_size, cfg.bidirectional, cfg.impl
            )
            for i in range(cfg.num_layers)
        )
        self.norms = nn.ModuleList(
            nn.LayerNorm(self.output_size) if cfg.layer_norm else nn.Identity() for _ in range(cfg.num_layers)
        )
        self.between_layers = nn.Dropout(cfg.dropout)
        self.pooling = cfg.pooling
        self.attention = None if cfg.attention == "none" else AttentionPooling(self.output_size, cfg.attention)
        pooled = 2 if cfg.pooling == "mean_max" and self.attention is None else 1
        self.summary_size = self.output_size * pooled

    def run(self, x: Tensor, lengths: Tensor | None = None,
            state: Sequence[State | None] | None = None) -> tuple[Tensor, list[State]]:
        """The top layer's states [B, T, output_size] and each layer's final state (h [D, B, H]; LSTM (h, c)),
        from initial states `state`, one per layer (None: zeros). A stateful language model feeds each
        window the previous one's final states (`detach_states`); generation runs T=1 steps carrying them."""
        if state is not None and len(state) != len(self.layers):
            raise ValueError(f"state must hold one state per layer ({len(self.layers)}), got {len(state)}")
        states, finals = x, []
        for depth, (layer, norm) in enumerate(zip(self.layers, self.norms)):
            if depth > 0:
                states = self.between_layers(states)
            states, final = layer(states, lengths, None if state is None else state[depth])
            states = norm(states)
            finals.append(final)
        return states, finals

    def forward(self, x: Tensor, lengths: Tensor | None = None, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        states, finals = self.run(x, lengths)
        if mask is None:
            mask = step_mask(lengths, states.shape[1])
        if self.attention is not None:
            return states, self.attention(states, mask)
        last = self.norms[-1](torch.cat(list(last_hidden(finals[-1])), dim=-1))
        return states, pool_states(states, last, mask, self.pooling)
