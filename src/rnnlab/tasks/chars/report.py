"""What a character model's run reports beside its losses: how it compares with the counting models, and samples."""

from __future__ import annotations

import math


def baseline_verdict(loss: float, baselines: dict[str, float]) -> str:
    """One line: the model's test loss against the best counting model's, in nats and bits per character."""
    name, best = min(baselines.items(), key=lambda item: item[1])
    if not math.isfinite(loss):
        return "the model has no test loss"
    outcome = "beats" if loss < best else "does NOT beat"
    return (f"the model ({loss:.4f} nats = {loss / math.log(2):.3f} bits per character) {outcome} the best "
            f"counting model, the {name} model ({best:.4f} nats = {best / math.log(2):.3f} bits)")


def sample_seed(epoch: int) -> int:
    """The seed of the sample written after validation epoch `epoch` (-1: the test's): the same run writes the
    same samples."""
    return 1_000_003 * (epoch + 2)
