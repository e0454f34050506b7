"""`python -m rnnlab.predict ckpt=<run>/checkpoints/best.ckpt text="..."` (or file=<texts, one per line>).

A text classifier (data=imdb) prints the label and the probability of the positive class for each text;
a translation model (data=translation) prints each source's translation. The checkpoint carries the
vocabularies and tokenizer settings, so nothing else is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

from rnnlab.checkpoints import read_checkpoint
from rnnlab.config import ModelConfig, OptimizerConfig
from rnnlab.errors import UserError

USAGE = ('usage: python -m rnnlab.predict ckpt=<path/to/best.ckpt> text="a review, or a source to translate" '
         '| file=<one text per line>')
KEYS = ("ckpt", "text", "file", "batch_size")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in KEYS:
            raise UserError(f"'{arg}' is not understood; {USAGE}")
        arguments[key] = value
    if "ckpt" not in arguments or ("text" in arguments) == ("file" in arguments):
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
    """The text classifier or translation model the checkpoint holds, ready to predict."""
    from rnnlab.config import DecodeConfig
    from rnnlab.data.imdb import ClassifySpec
    from rnnlab.data.translation import TranslateSpec
    from rnnlab.tasks.classify import ClassifyTask
    from rnnlab.tasks.seq2seq import Seq2SeqTask

    hparams = checkpoint["hyper_parameters"]
    model, optimizer = ModelConfig(**hparams["model"]), OptimizerConfig(**hparams["optimizer"])
    kind = hparams["spec"].get("task")
    if kind == "classify":
        task = ClassifyTask(model, optimizer, ClassifySpec(**hparams["spec"]))
    elif kind == "translate":
        task = Seq2SeqTask(model, optimizer, TranslateSpec(**hparams["spec"]), decode=DecodeConfig(**hparams["decode"]))
    else:
        raise UserError(f"this checkpoint is a {kind} model; rnnlab.predict takes text classifiers (data=imdb runs) "
                        "and translation models (data=translation runs)")
    task.load_state_dict(checkpoint["state_dict"])
    return task.eval()


@torch.no_grad()
def translate(task: Any, texts: list[str], batch_size: int = 256) -> list[str]:
    """Each source text translated with the checkpoint's vocabulary and decoding settings."""
    from rnnlab.data.translation import encode_sources
    from rnnlab.data.translation_pairs import source_tokens, target_text

    spec = task.spec
    sources = encode_sources([source_tokens(spec.pairs, text) for text in texts], spec.source_vocab)
    translations: list[str] = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start : start + batch_size]
        padded = torch.nn.utils.rnn.pad_sequence(chunk, batch_first=True)
        for ids in task(padded, torch.tensor([len(s) for s in chunk])):
            translations.append(target_text(spec.pairs, [spec.target_vocab[i] for i in ids]))
    return translations


@torch.no_grad()
def predict(task: Any, texts: list[str], batch_size: int = 256) -> list[float]:
    """Probability of the positive class for each text, encoded exactly as in training."""
    from rnnlab.data.text import Vocabulary, encode

    vocab, text = Vocabulary.from_dict(task.spec.vocab), task.spec.text
    probabilities: list[float] = []
    for start in range(0, len(texts), batch_size):
        tokens, lengths = encode(texts[start : start + batch_size], vocab, text["max_len"], text["truncate"],
                                 text["pad"])
        if (lengths == 0).any():
            raise UserError("a text has no words the tokenizer keeps (letters, digits, apostrophes); give real text")
        logits = task(torch.as_tensor(tokens), torch.as_tensor(lengths))
        probabilities += torch.sigmoid(logits).tolist()
    return probabilities


def main(argv: list[str] | None = None) -> None:
    try:
        arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
        texts = read_texts(arguments)
        task = load_task(load_checkpoint(Path(arguments["ckpt"]).expanduser()))
        batch_size = int(arguments.get("batch_size", 256))
        if task.spec.task == "translate":
            for text, translation in zip(texts, translate(task, texts, batch_size)):
                print(f"{translation}\t{text}")
            return
        probabilities = predict(task, texts, batch_size)
    except UserError as error:
        print(f"rnnlab: error: {error}", file=sys.stderr)
        sys.exit(2)
    labels = task.spec.labels
    for text, probability in zip(texts, probabilities):
        excerpt = text if len(text) <= 70 else text[:67] + "..."
        print(f"{labels[int(probability >= 0.5)]}\t{probability:.4f}\t{excerpt}")


if __name__ == "__main__":
    main()
