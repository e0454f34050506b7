"""Encoder–decoder: the recurrent encoder reads the source, the decoder writes the target token by token."""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from rnnlab.models.config import ModelConfig
from rnnlab.models.decoder import Memory, RecurrentDecoder, State
from rnnlab.models.encoder import RecurrentEncoder, step_mask


class Seq2Seq(nn.Module):
    """Source ids [B, S] with lengths [B] -> logits over the target vocabulary, one row per target step.

    The encoder is the one every task uses (cell, layers, direction, dropout from `model`); its summary
    (the last real state of each direction) starts the decoder, and `model.attention` lets the decoder
    attend over the encoder's states at every step.
    """

    def __init__(self, cfg: ModelConfig, source_vocab: int, target_vocab: int, embedding_dim: int,
                 padding_idx: int = 0) -> None:
        super().__init__()
        self.source_embedding = nn.Embedding(source_vocab, embedding_dim, padding_idx=padding_idx)
        self.encoder = RecurrentEncoder(replace(cfg, attention="none", pooling="last"), embedding_dim)
        self.decoder = RecurrentDecoder(cfg, target_vocab, embedding_dim, self.encoder.output_size, padding_idx)

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, State]:
        states, summary = self.encoder(self.source_embedding(source), lengths=lengths)
        mask = step_mask(lengths, source.shape[1])
        return self.decoder.memory(states, mask), self.decoder.initial_state(summary)

    def forward(self, source: Tensor, lengths: Tensor, target_in: Tensor, teacher_forcing: float = 1.0) -> Tensor:
        """Logits [B, T, V]. Each step reads the true previous token with probability `teacher_forcing`
        (per row and step), else the model's own previous prediction."""
        memory, state = self.encode(source, lengths)
        previous = target_in[:, 0]
        logits = []
        for t in range(target_in.shape[1]):
            step_logits, state, _ = self.decoder.step(previous, state, memory)
            logits.append(step_logits)
            if t + 1 < target_in.shape[1]:
                previous = target_in[:, t + 1]
                if teacher_forcing < 1.0:
                    truth = torch.rand(previous.shape, device=previous.device) < teacher_forcing
                    previous = torch.where(truth, previous, step_logits.argmax(-1))
        return torch.stack(logits, dim=1)
