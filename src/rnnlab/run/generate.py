"""`python -m rnnlab.generate ckpt=<run>/checkpoints/best.ckpt prompt="ROMEO:" length=500 temperature=0.8`.

Continues the prompt with a generative model's checkpoint (data=chars runs), through the task's generator in
the registry. `top_k=<n>` samples from the n likeliest characters only, `greedy=true` takes the likeliest
each time, `seed=<n>` picks another sample (the same command prints the same text).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rnnlab.errors import UserError
from rnnlab.run.arguments import key_values
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.tasks.registry import get_task, load_tasks

USAGE = ('usage: python -m rnnlab.generate ckpt=<path/to/best.ckpt> prompt="ROMEO:" [length=500] '
         '[temperature=0.8] [top_k=<n>] [greedy=true] [seed=0]')
DEFAULTS = {"length": "500", "temperature": "1.0", "top_k": "", "greedy": "false", "seed": "0"}


def parse_arguments(argv: list[str]) -> dict[str, str]:
    arguments = DEFAULTS | key_values(argv, ["ckpt", "prompt", *DEFAULTS], USAGE)
    if "ckpt" not in arguments or "prompt" not in arguments:
        raise UserError(f"give ckpt= and prompt=; {USAGE}")
    return arguments


def number(arguments: dict[str, str], key: str, kind: type) -> float | int | None:
    if arguments[key] == "" and key == "top_k":
        return None
    try:
        return kind(arguments[key])
    except ValueError:
        raise UserError(f"{key}={arguments[key]!r} is not a {kind.__name__}; {USAGE}") from None


def main(argv: list[str] | None = None) -> None:
    try:
        arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
        if arguments["greedy"].lower() not in ("true", "false"):
            raise UserError(f"greedy={arguments['greedy']!r} is not valid; use true or false")
        module = load_task(load_checkpoint(Path(arguments["ckpt"]).expanduser()))
        generate = get_task(module.spec.task).generate_function()
        if generate is None:
            takes = sorted(name for name, task in load_tasks().items() if task.generator)
            raise UserError(f"this checkpoint is a {module.spec.task} model, which does not generate text; "
                            f"rnnlab.generate takes {', '.join(takes)} models (data=chars runs)")
        text = generate(module, arguments["prompt"], number(arguments, "length", int),
                        number(arguments, "temperature", float), number(arguments, "top_k", int),
                        arguments["greedy"].lower() == "true", number(arguments, "seed", int))
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(text)
