"""Settings of the plain models: the recurrent encoder (the `model:` section) and decoding (`decode:`)."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.checks import at_least, choice, fraction
from rnnlab.errors import UserError

CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max", "mean_max")
ATTENTIONS = ("none", "bahdanau", "luong")
IMPLS = ("auto", "torch", "fused")
LUONG_SCORES = ("dot", "general")
CHAR_ENCODERS = ("none", "lstm", "cnn")  # tagging: a vector per word from its characters


@dataclass
class ModelConfig:
    """The recurrent encoder; the dataset decides which head and task wrap it."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    layer_norm: bool = False
    pooling: str = "last"
    attention: str = "none"
    impl: str = "auto"
    init: str = "torch"
    luong_score: str = "general"
    char_encoder: str = "none"

    def check(self) -> None:
        choice("model.cell", self.cell, CELLS)
        at_least("model.hidden_size", self.hidden_size, 1)
        at_least("model.num_layers", self.num_layers, 1)
        fraction("model.dropout", self.dropout)
        choice("model.pooling", self.pooling, POOLINGS)
        choice("model.attention", self.attention, ATTENTIONS)
        choice("model.impl", self.impl, IMPLS)
        choice("model.init", self.init, ("torch", "keras"))
        choice("model.luong_score", self.luong_score, LUONG_SCORES)
        choice("model.char_encoder", self.char_encoder, CHAR_ENCODERS)


@dataclass
class DecodeConfig:
    """How the decoder of a translation model is fed while training and searched at test time."""

    teacher_forcing: float = 1.0
    beam_size: int = 5
    length_penalty: float = 1.0
    max_steps: int | None = None

    def check(self) -> None:
        fraction("decode.teacher_forcing", self.teacher_forcing, inclusive_high=True)
        if self.beam_size < 1:
            raise UserError(f"decode.beam_size={self.beam_size} is not valid; use 1 (greedy) or more beams")
        at_least("decode.length_penalty", self.length_penalty, 0.0)
        if self.max_steps is not None:
            at_least("decode.max_steps", self.max_steps, 1)
