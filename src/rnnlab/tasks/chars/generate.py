"""Text from a character model: the prompt read in one pass, then one character at a time, each fed back in."""

from __future__ import annotations

import torch

from rnnlab.errors import UserError


@torch.no_grad()
def continue_text(module: torch.nn.Module, prompt: str, length: int, temperature: float = 1.0,
                  top_k: int | None = None, greedy: bool = False, seed: int = 0) -> str:
    """`prompt` followed by `length` characters: sampled with `temperature` from the `top_k` likeliest (all when
    None), or the likeliest each time (`greedy`). Seeded with a generator of its own: the same arguments give
    the same text, and training's random numbers are left as they were."""
    chars = module.spec.chars
    index = {char: i for i, char in enumerate(chars)}
    if not prompt:
        raise UserError("the prompt is empty; give at least one character to start from, e.g. prompt='ROMEO:'")
    missing = sorted(set(prompt) - set(index))
    if missing:
        raise UserError(f"the prompt has characters the model never saw: {', '.join(repr(c) for c in missing)}; "
                        f"use only these: {''.join(chars)!r}")
    if length <= 0:
        raise UserError(f"length={length} is not valid; give the number of characters to generate (> 0)")
    if not temperature > 0:
        raise UserError(f"temperature={temperature} is not valid; use a value > 0 (1: the model's own "
                        "probabilities, lower: more conservative), or greedy=true")
    if top_k is not None and top_k < 1:
        raise UserError(f"top_k={top_k} is not valid; use a number of characters >= 1, or leave it out")
    was_training = module.training
    module.eval()
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([[index[char] for char in prompt]], device=module.device)
    logits, state = module(tokens)
    drawn = []
    for _ in range(length):
        scores = logits[0, -1].float().cpu() / temperature
        if top_k is not None and top_k < len(scores):
            scores[scores < torch.topk(scores, top_k).values[-1]] = float("-inf")
        choice = int(scores.argmax()) if greedy else int(torch.multinomial(scores.softmax(-1), 1, generator=generator))
        drawn.append(choice)
        logits, state = module(torch.tensor([[choice]], device=module.device), state)
    module.train(was_training)
    return prompt + "".join(chars[i] for i in drawn)

