"""Sequence tagging (part of speech, named entities, chunks): a tag per word from a bidirectional encoder."""

from rnnlab.tasks.registry import Task, register_task
from rnnlab.tasks.tagging.schema import TaggingDataConfig, check_tagger_model

register_task(Task(
    name="tagging",
    schema=TaggingDataConfig,
    datamodule="rnnlab.tasks.tagging.data:TaggingData",
    module="rnnlab.tasks.tagging.task:TaggingTask",
    spec="rnnlab.tasks.tagging.data:TaggingSpec",
    monitor="val/acc",
    headline="test/acc",
    higher_is_better=frozenset({"acc", "unseen_acc", "macro_f1", "exact_match", "span_f1", "span_precision",
                                "span_recall", "baseline_acc", "baseline_unseen_acc", "baseline_macro_f1"}),
    predictor="rnnlab.tasks.tagging.predict:predict_lines",
    check_model=check_tagger_model,
))
