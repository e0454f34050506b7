"""Where a task declares itself, once: everything outside its folder reads it from here.

A task is one folder under `tasks/` whose `__init__.py` calls `register_task`, naming its config
dataclass (the `data:` section; stored in Hydra's ConfigStore as `schema/data/<name>`, which its
`conf/data/*.yaml` files extend), its LightningDataModule, its LightningModule, the spec dataclass the
data hands the model, its monitored and headline metrics, which metrics are better higher, and how it
predicts, generates or forecasts from a checkpoint. The classes are named by import path and imported when
first used, so that composing a config (and failing on a typo) does not import torch and Lightning.

The LightningModule is built as `module(model, optimizer, spec, monitor, mode, **sections)`, `sections`
being the top-level config sections the task reads besides `data:` (translation: `decode`); its test
pass fills `test_report`, `test_figures` and `test_files` (the task's `report.py`), which the run writes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

from rnnlab.errors import UserError


def _load(path: str) -> Any:
    """`package.module:Name` -> the object."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Task:
    name: str  # spec.task, saved in checkpoints and metrics.json
    schema: type  # the `data:` dataclass
    datamodule: str  # "module:Class" of the LightningDataModule, built as Class(data_cfg, seed)
    module: str  # "module:Class" of the LightningModule
    spec: str  # "module:Class" of the spec dataclass (rebuilt from a checkpoint's hyperparameters)
    monitor: str  # validation metric that picks the best checkpoint and stops early
    headline: str  # the test metric a reader compares first (sweep bar chart, experiment pages)
    higher_is_better: frozenset[str]  # metric names (no split prefix) where higher is better; others are errors
    sections: dict[str, type] = field(default_factory=dict)  # other config sections the module takes, by name
    predictor: str | None = None  # "module:function" (task, texts, batch_size) -> printed lines; None: no predict
    generator: str | None = None  # "module:function" (task, prompt, length, temperature, top_k, seed) -> text
    forecaster: str | None = None  # "module:function" (task, steps, csv, run folder, out, history) -> printed lines
    check_model: Callable[[Any], None] | None = None  # refuses a `model:` section the task cannot use (UserError)

    def mode(self, metric: str) -> str:
        """`max` when higher `metric` (e.g. `val/acc`) is better, else `min`."""
        return "max" if metric.partition("/")[2] in self.higher_is_better else "min"

    def datamodule_class(self) -> type:
        return _load(self.datamodule)

    def module_class(self) -> type:
        return _load(self.module)

    def spec_class(self) -> type:
        return _load(self.spec)

    def predict_function(self) -> Any:
        return _load(self.predictor) if self.predictor else None

    def generate_function(self) -> Any:
        return _load(self.generator) if self.generator else None

    def forecast_function(self) -> Any:
        return _load(self.forecaster) if self.forecaster else None


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Declare a task (called by its folder's `__init__.py`) and store its schema for Hydra."""
    TASKS[task.name] = task
    ConfigStore.instance().store(group="schema/data", name=task.name, node=task.schema)
    return task


def load_tasks() -> dict[str, Task]:
    """Every task folder under `tasks/`, imported (which registers it); name -> Task."""
    import rnnlab.tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.ispkg:
            importlib.import_module(f"{package.__name__}.{info.name}")
    return TASKS


def get_task(name: str) -> Task:
    tasks = load_tasks()
    if name not in tasks:
        raise UserError(f"no task named '{name}'; this rnnlab has {', '.join(sorted(tasks))}")
    return tasks[name]


def task_of_schema(schema: Any) -> Task:
    """The task whose `data:` dataclass `schema` is an instance of."""
    for task in load_tasks().values():
        if isinstance(schema, task.schema):
            return task
    raise TypeError(f"no task registers the data schema {type(schema).__name__}")
