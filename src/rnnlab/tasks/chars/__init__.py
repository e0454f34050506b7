"""Character-level language modelling and text generation: any UTF-8 text, truncated back-propagation."""

from rnnlab.tasks.chars.schema import CharsDataConfig, check_causal
from rnnlab.tasks.registry import Task, register_task

register_task(Task(
    name="chars",
    schema=CharsDataConfig,
    datamodule="rnnlab.tasks.chars.data:CharsData",
    module="rnnlab.tasks.chars.task:CharLanguageModel",
    spec="rnnlab.tasks.chars.data:CharsSpec",
    monitor="val/loss",
    headline="test/loss",
    higher_is_better=frozenset(),
    generator="rnnlab.tasks.chars.generate:continue_text",
    check_model=check_causal,
))
