"""A linear-chain conditional random field over tag sequences: scores of tag-to-tag transitions learned beside
the per-word scores, trained by the sequence's log-likelihood, decoded by Viterbi."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LinearChainCRF(nn.Module):
    """Emissions [B, T, K] of right-padded sentences (mask [B, T], True at real words) -> sequence scores."""

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def _score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Score of the given tag sequences [B]."""
        rows = torch.arange(len(tags), device=tags.device)
        score = self.start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for t in range(1, tags.shape[1]):
            step = self.transitions[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            score = score + step * mask[:, t]
        last = tags[rows, mask.sum(1) - 1]
        return score + self.end[last]

    def _partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """log of the sum over all tag sequences of exp(score) [B] (the forward algorithm)."""
        alpha = self.start + emissions[:, 0]  # [B, K]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t : t + 1], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Negative log-likelihood of the gold sequences, summed over the batch (tags at pads are ignored)."""
        emissions = emissions.float()
        tags = tags.masked_fill(~mask, 0)
        return (self._partition(emissions, mask) - self._score(emissions, tags, mask)).sum()

    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """The highest-scoring tag sequence of each sentence [B, T] (0 at pads)."""
        emissions = emissions.float()
        score = self.start + emissions[:, 0]
        back = []
        for t in range(1, emissions.shape[1]):
            candidates = score.unsqueeze(2) + self.transitions  # [B, from, to]
            best, index = candidates.max(dim=1)
            score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
            back.append(torch.where(mask[:, t : t + 1], index, torch.arange(score.shape[1], device=score.device)))
        tag = (score + self.end).argmax(-1)
        path = [tag]
        for index in reversed(back):
            tag = index.gather(1, tag.unsqueeze(1)).squeeze(1)
            path.append(tag)
        return torch.stack(path[::-1], dim=1).masked_fill(~mask, 0)
