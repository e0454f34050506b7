"""Text classification (IMDB sentiment): tokens -> embedding -> recurrent encoder -> label."""

from rnnlab.tasks.classify.schema import ImdbDataConfig
from rnnlab.tasks.registry import Task, register_task

register_task(Task(
    name="classify",
    schema=ImdbDataConfig,
    datamodule="rnnlab.tasks.classify.data:ImdbData",
    module="rnnlab.tasks.classify.task:ClassifyTask",
    spec="rnnlab.tasks.classify.data:ClassifySpec",
    monitor="val/acc",
    headline="test/acc",
    higher_is_better=frozenset({"acc", "f1", "precision", "recall", "auroc"}),
    predictor="rnnlab.tasks.classify.predict:predict_lines",
))
