"""Text classification: tokens -> embedding -> recurrent encoder -> class; IMDB (`data=imdb`) or the user's CSV,
TSV, JSONL or folder per class (`data=text`), two classes or more."""

from rnnlab.tasks.classify.schema import ClassifyDataConfig
from rnnlab.tasks.registry import Task, register_task

register_task(Task(
    name="classify",
    schema=ClassifyDataConfig,
    datamodule="rnnlab.tasks.classify.data:ClassifyData",
    module="rnnlab.tasks.classify.task:ClassifyTask",
    spec="rnnlab.tasks.classify.data:ClassifySpec",
    monitor="val/acc",
    headline="test/acc",
    higher_is_better=frozenset({"acc", "balanced_acc", "macro_f1", "weighted_f1", "f1", "precision", "recall",
                                "auroc", "majority_acc", "majority_balanced_acc", "majority_macro_f1",
                                "majority_weighted_f1"}),
    predictor="rnnlab.tasks.classify.predict:predict_lines",
))
