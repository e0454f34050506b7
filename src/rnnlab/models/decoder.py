"""The recurrent decoder of a sequence-to-sequence model, one target step at a time.

`model.attention` picks how each step looks at the encoder's states:
- `none`: the classic encoder–decoder; the source reaches the decoder only through its initial state.
- `bahdanau` (additive, Bahdanau et al. 2014): the previous decoder state attends over the source; the
  context joins the word embedding as the cell's input and the new state in the output layer.
- `luong` (Luong et al. 2015): the new decoder state attends (`model.luong_score` dot or general); the
  context and state make the attentional vector h~ = tanh(W [c; h]) that predicts the word and is fed
  into the next step's input ("input feeding").

The decoder's state is a flat list of tensors [B, H] (h, or h and c, per layer; then h~ for luong), so
beam search can reorder it with one `index_select` per tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.models.attention import AdditiveAttention, MultiplicativeAttention
from rnnlab.models.config import ModelConfig

CELLS: dict[str, type[nn.Module]] = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}
State = list[Tensor]


@dataclass
class Memory:
    """The encoder's states [B, S, F], their attention keys (projected once) and the source mask [B, S]."""

    states: Tensor
    keys: Tensor | None
    mask: Tensor

    def select(self, index: Tensor) -> Memory:
        """The memory of rows `index` (beam search repeats each source once per beam)."""
        keys = None if self.keys is None else self.keys.index_select(0, index)
        return Memory(self.states.index_select(0, index), keys, self.mask.index_select(0, index))


class RecurrentDecoder(nn.Module):
    """Stacked `model.cell` cells of the encoder's output size, started from a bridge of its summary."""

    def __init__(self, cfg: ModelConfig, vocab_size: int, embedding_dim: int, memory_size: int,
                 padding_idx: int = 0) -> None:
        super().__init__()
        hidden = memory_size  # equal sizes: the bridge stays square and Luong's dot score is defined
        self.kind, self.lstm, self.num_layers = cfg.attention, cfg.cell == "lstm", cfg.num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        first_input = embedding_dim + (hidden if self.kind != "none" else 0)
        self.cells = nn.ModuleList(
            CELLS[cfg.cell](first_input if i == 0 else hidden, hidden) for i in range(cfg.num_layers)
        )
        self.between_layers = nn.Dropout(cfg.dropout)
        self.bridge = nn.Linear(memory_size, hidden * cfg.num_layers * (2 if self.lstm else 1))
        self.attention: nn.Module | None = None
        if self.kind == "bahdanau":
            self.attention = AdditiveAttention(hidden, memory_size, hidden)
            self.output = nn.Linear(hidden + memory_size, vocab_size)
        elif self.kind == "luong":
            self.attention = MultiplicativeAttention(hidden, memory_size, cfg.luong_score)
            self.combine = nn.Linear(hidden + memory_size, hidden)
            self.output = nn.Linear(hidden, vocab_size)
        else:
            self.output = nn.Linear(hidden, vocab_size)

    def memory(self, states: Tensor, mask: Tensor) -> Memory:
        return Memory(states, None if self.attention is None else self.attention.keys(states), mask)

    def initial_state(self, summary: Tensor) -> State:
        """Every layer's first state from the encoder summary (the last real state of both directions)."""
        state = list(torch.tanh(self.bridge(summary)).chunk(self.num_layers * (2 if self.lstm else 1), dim=-1))
        if self.kind == "luong":
            state.append(torch.zeros_like(state[0]))
        return state

    def _top(self, state: State) -> Tensor:
        return state[2 * (self.num_layers - 1)] if self.lstm else state[self.num_layers - 1]

    def step(self, previous: Tensor, state: State, memory: Memory) -> tuple[Tensor, State, Tensor | None]:
        """Previous tokens [B] -> logits [B, V], the new state, attention weights [B, S] (None without)."""
        x = self.embedding(previous)
        weights = context = None
        if self.kind == "bahdanau":
            context, weights = self.attention(self._top(state), memory.keys, memory.states, memory.mask)
            x = torch.cat([x, context], dim=-1)
        elif self.kind == "luong":
            x = torch.cat([x, state[-1]], dim=-1)
        new_state: State = []
        for depth, cell in enumerate(self.cells):
            if depth > 0:
                x = self.between_layers(x)
            if self.lstm:
                h, c = cell(x, (state[2 * depth], state[2 * depth + 1]))
                new_state += [h, c]
            else:
                h = cell(x, state[depth])
                new_state.append(h)
            x = h
        if self.kind == "bahdanau":
            out = torch.cat([x, context], dim=-1)
        elif self.kind == "luong":
            context, weights = self.attention(x, memory.keys, memory.states, memory.mask)
            out = torch.tanh(self.combine(torch.cat([context, x], dim=-1)))
            new_state.append(out)
        else:
            out = x
        return self.output(out), new_state, weights
