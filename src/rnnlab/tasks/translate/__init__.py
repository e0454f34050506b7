"""Sequence to sequence (generated toy pairs or the user's pair file): an encoder-decoder with optional attention,
beam search at test time."""

from rnnlab.models.config import DecodeConfig
from rnnlab.tasks.registry import Task, register_task
from rnnlab.tasks.translate.schema import TranslationDataConfig

register_task(Task(
    name="translate",
    schema=TranslationDataConfig,
    datamodule="rnnlab.tasks.translate.data:TranslationData",
    module="rnnlab.tasks.translate.task:Seq2SeqTask",
    spec="rnnlab.tasks.translate.data:TranslateSpec",
    monitor="val/exact_match",
    headline="test/bleu",
    higher_is_better=frozenset({"token_acc", "exact_match", "exact_match_greedy", "bleu"}),
    sections={"decode": DecodeConfig},
    predictor="rnnlab.tasks.translate.predict:predict_lines",
))
