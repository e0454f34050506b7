"""`python -m rnnlab.predict ckpt=<run>/checkpoints/best.ckpt text="..."` (or file=<texts, one per line>).

The checkpoint names its task; the task's predictor (from the registry) prints a line per text: a text
classifier (data=imdb, data=text) the class and every class's probability, under a header saying what they
are, a translation model (data=translation) the translation. The checkpoint carries the vocabularies and
tokenizer settings, so nothing else is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rnnlab.errors import UserError
from rnnlab.models.config import ModelConfig
from rnnlab.run.arguments import key_values
from rnnlab.tasks.checkpoints import read_checkpoint
from rnnlab.tasks.optimizer import OptimizerConfig
from rnnlab.tasks.registry import get_task, load_tasks

USAGE = ('usage: python -m rnnlab.predict ckpt=<path/to/best.ckpt> text="a review, or a source to translate" '
         '| file=<one text per line>')
KEYS = ("ckpt", "text", "file", "batch_size")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    arguments = key_values(argv, KEYS, USAGE)
    if "ckpt" not in arguments or ("text" in arguments and "file" in arguments):
        raise UserError(f"give ckpt= and exactly one of text= or file=; {USAGE}")
    return arguments


def read_texts(arguments: dict[str, str]) -> list[str]:
    if "text" in arguments:
        texts = [arguments["text"]]
    else:
        path = Path(arguments["file"]).expanduser()
        if not path.is_file():
            raise UserError(f"file '{path}' does not exist; give a text file with one text per line")
        texts = [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not texts or not all(text.strip() for text in texts):
        raise UserError("the text to predict is empty; give at least one word")
    return texts


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint without unpickling arbitrary objects (weights_only), checked to be a model of ours."""
    checkpoint = read_checkpoint(path, "give the best.ckpt or last.ckpt of a finished run")
    if "spec" not in checkpoint.get("hyper_parameters", {}):
        raise UserError(f"checkpoint '{path}' was not written by rnnlab; give a run's checkpoints/best.ckpt")
    return checkpoint


def load_task(checkpoint: dict[str, Any]) -> Any:
    """The LightningModule the checkpoint holds, rebuilt from its hyperparameters through the registry."""
    hparams = checkpoint["hyper_parameters"]
    name = hparams["spec"].get("task")
    if name not in load_tasks():
        raise UserError(f"this checkpoint holds a '{name}' model, a task this rnnlab does not have; "
                        f"it knows {', '.join(sorted(load_tasks()))}")
    task = get_task(name)
    sections = {section: kind(**hparams[section]) for section, kind in task.sections.items() if section in hparams}
    module = task.module_class()(ModelConfig(**hparams["model"]), OptimizerConfig(**hparams["optimizer"]),
                                 task.spec_class()(**hparams["spec"]), **sections)
    module.load_state_dict(checkpoint["state_dict"])
    return module.eval()


def predictor(module: Any, checkpoint: str) -> Any:
    """The function that turns texts into printed lines for this module's task; a UserError if it has none (for
    a forecasting model: the command that forecasts with it)."""
    task = get_task(module.spec.task)
    function = task.predict_function()
    if function is None and task.forecaster:
        raise UserError(f"this checkpoint is a {task.name} model: forecast with python -m rnnlab.forecast "
                        f"ckpt={checkpoint} steps=<values to forecast>")
    if function is None:
        takes = sorted(name for name, task in load_tasks().items() if task.predictor)
        raise UserError(f"this checkpoint is a {module.spec.task} model, which rnnlab.predict does not take; "
                        f"it predicts with {', '.join(takes)} models")
    return function


def main(argv: list[str] | None = None) -> None:
    try:
        arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
        texts = read_texts(arguments) if "text" in arguments or "file" in arguments else None
        module = load_task(load_checkpoint(Path(arguments["ckpt"]).expanduser()))
        predict = predictor(module, arguments["ckpt"])  # before asking for texts: a forecaster takes none
        if texts is None:
            raise UserError(f"give ckpt= and exactly one of text= or file=; {USAGE}")
        lines = predict(module, texts, int(arguments.get("batch_size", 256)))
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    for line in lines:
        print(line)
