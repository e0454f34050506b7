"""Decoding a trained encoder–decoder: greedy (one best token per step) and beam search, both batched."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.models.seq2seq import Seq2Seq


def until_eos(tokens: Tensor, eos: int) -> list[list[int]]:
    """Rows of decoded ids [B, L] as lists, each cut before its first end-of-sequence token."""
    rows = []
    for row in tokens.tolist():
        rows.append(row[: row.index(eos)] if eos in row else row)
    return rows


@torch.no_grad()
def greedy_decode(model: Seq2Seq, source: Tensor, lengths: Tensor, max_steps: int, sos: int, eos: int,
                  pad: int = 0) -> tuple[Tensor, Tensor | None]:
    """Ids [B, L] (pad after each row's EOS) and attention weights [B, L, S] (None without attention)."""
    memory, state = model.encode(source, lengths)
    previous = torch.full((source.shape[0],), sos, dtype=torch.long, device=source.device)
    done = torch.zeros_like(previous, dtype=torch.bool)
    tokens, weights = [], []
    for _ in range(max_steps):
        logits, state, step_weights = model.decoder.step(previous, state, memory)
        previous = logits.argmax(-1).masked_fill(done, pad)
        tokens.append(previous)
        if step_weights is not None:
            weights.append(step_weights)
        done |= previous == eos
        if bool(done.all()):
            break
    return torch.stack(tokens, dim=1), torch.stack(weights, dim=1) if weights else None


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    """GNMT's length normalisation ((5 + length) / 6) ** alpha; alpha 0 compares raw log-probabilities."""
    return ((5.0 + lengths.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(model: Seq2Seq, source: Tensor, lengths: Tensor, beam_size: int, max_steps: int, sos: int,
                eos: int, alpha: float = 1.0, pad: int = 0) -> Tensor:
    """The best of `beam_size` hypotheses per row, ids [B, L] (pad after EOS).

    Every row keeps `beam_size` partial translations ranked by summed log-probability; a hypothesis that
    emitted EOS stays in the beam with its score frozen. At the end the beams are ranked by score over
    `length_penalty`, so longer translations are not punished merely for having more terms.
    """
    batch, beams = source.shape[0], beam_size
    memory, state = model.encode(source, lengths)
    repeat = torch.arange(batch, device=source.device).repeat_interleave(beams)
    memory, state = memory.select(repeat), [s.index_select(0, repeat) for s in state]
    scores = torch.full((batch, beams), float("-inf"), device=source.device)
    scores[:, 0] = 0.0  # all beams start identical: expand only the first
    finished = torch.zeros(batch, beams, dtype=torch.bool, device=source.device)
    previous = torch.full((batch * beams,), sos, dtype=torch.long, device=source.device)
    history, parents = [], []
    for _ in range(max_steps):
        logits, state, _ = model.decoder.step(previous, state, memory)
        log_probs = torch.log_softmax(logits.float(), dim=-1).view(batch, beams, -1)
        vocab = log_probs.shape[-1]
        frozen = torch.full_like(log_probs, float("-inf"))
        frozen[..., pad] = 0.0  # a finished hypothesis continues with pads at no cost
        log_probs = torch.where(finished.unsqueeze(-1), frozen, log_probs)
        scores, flat = (scores.unsqueeze(-1) + log_probs).view(batch, -1).topk(beams, dim=-1)
        parent, token = flat // vocab, flat % vocab
        finished = finished.gather(1, parent) | (token == eos)
        history.append(token)
        parents.append(parent)
        rows = (torch.arange(batch, device=source.device).unsqueeze(1) * beams + parent).view(-1)
        state = [s.index_select(0, rows) for s in state]
        previous = token.view(-1)
        if bool(finished.all()):
            break
    beam = torch.arange(beams, device=source.device).expand(batch, beams)
    steps = []
    for token, parent in zip(reversed(history), reversed(parents)):
        steps.append(token.gather(1, beam))
        beam = parent.gather(1, beam)
    tokens = torch.stack(steps[::-1], dim=-1)  # [B, beams, L]
    is_eos = tokens == eos
    length = torch.where(is_eos.any(-1), is_eos.float().argmax(-1) + 1, torch.full_like(scores, tokens.shape[-1]))
    best = (scores / length_penalty(length, alpha)).argmax(-1)
    return tokens[torch.arange(batch, device=source.device), best]
