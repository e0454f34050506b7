"""Tasks declare themselves once, in the registry, and every place that needs a task reads it from there."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from conftest import run_in_process
from imdb_fixture import write_imdb_folder
from rnnlab.run.config import register_schemas
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.sweeps.comparison import headline_metric, write_comparison
from rnnlab.sweeps.summary import job_rows
from rnnlab.sweeps.variants import aggregate
from rnnlab.tasks.registry import load_tasks, task_of_schema

ROOT = Path(__file__).parents[1]
TASKS = sorted(load_tasks())


def data_choices() -> dict[str, list[str]]:
    """Task name -> the conf/data/*.yaml choices whose schema is that task's."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "conf" / "data").glob("*.yaml")):
        schema = next(item for item in yaml.safe_load(path.read_text())["defaults"] if "/schema/data/" in str(item))
        found.setdefault(schema.split("/")[-1].partition("@")[0], []).append(path.stem)
    return found


def test_every_task_folder_is_registered():
    tasks = ROOT / "src" / "rnnlab" / "tasks"
    folders = sorted(path.name for path in tasks.iterdir() if (path / "__init__.py").is_file())
    assert TASKS == folders == ["chars", "classify", "forecast", "tagging", "translate"]


@pytest.mark.parametrize("name", TASKS)
def test_every_task_is_complete_in_each_place(name):
    task = load_tasks()[name]
    # its schema is where its conf/data files extend it, and a data= choice composes to it
    assert ConfigStore.instance().load(f"schema/data/{name}.yaml").node is not None
    choices = data_choices().get(name)
    assert choices, f"no conf/data/*.yaml extends /schema/data/{name}"
    register_schemas()
    with initialize_config_module(version_base="1.3", config_module="rnnlab.conf"):  # composed, not yet checked
        data = OmegaConf.to_object(compose("config", overrides=[f"data={choices[0]}"]).data)
    assert task_of_schema(data) is task
    # its classes import, its spec names it, its module takes the config sections it declares
    assert inspect.signature(task.spec_class()).parameters["task"].default == name
    module = task.module_class()
    assert set(task.sections) <= set(inspect.signature(module).parameters)
    assert task.datamodule_class().__init__ is not object.__init__
    # its metrics have the split prefixes the loggers use, and the monitored one has a direction
    assert task.monitor.startswith("val/") and task.headline.startswith("test/")
    assert task.mode(task.monitor) in ("min", "max")
    # it stays independent of the other tasks (pyproject's import-linter contract lists it)
    independence = (ROOT / "pyproject.toml").read_text().partition('type = "independence"')[2].partition("[[")[0]
    assert f'"rnnlab.tasks.{name}"' in independence


def fake_sweep(folder: Path, task: str, metrics: dict[str, float]) -> Path:
    for job, offset in (("0", 0.0), ("1", 0.1)):
        (folder / job / ".hydra").mkdir(parents=True)
        (folder / job / ".hydra" / "overrides.yaml").write_text(f"- seed={job}\n")
        result = {"status": "ok", "task": task, "monitor": load_tasks()[task].monitor,
                  "metrics": {k: v + offset for k, v in metrics.items()},
                  "history": [{"epoch": 0, load_tasks()[task].monitor: 0.5}]}
        (folder / job / "metrics.json").write_text(json.dumps(result))
    return folder


@pytest.mark.parametrize("name", TASKS)
def test_the_sweep_comparison_shows_each_tasks_headline(name, tmp_path):
    task = load_tasks()[name]
    # the monitored metric's test twin is there too: the headline must win over it
    twin = "test/" + task.monitor.partition("/")[2]
    sweep = fake_sweep(tmp_path, name, {task.monitor: 0.5, twin: 0.4, task.headline: 0.3})
    rows = job_rows(sweep)
    variants = aggregate(rows)
    assert headline_metric(json.loads((sweep / "0" / "metrics.json").read_text()), variants) == task.headline
    assert write_comparison(sweep, rows, variants) == sweep / "comparison.png"


# The hyperparameter keys checkpoints carried before the registry (issue 16): later fields must have defaults that
# keep what such a checkpoint meant.
BEFORE_KEYS = {
    "model": {"attention", "bidirectional", "cell", "dropout", "hidden_size", "impl", "init", "layer_norm",
              "luong_score", "num_layers", "pooling"},
    "optimizer": {"fused", "lr", "name", "plateau_factor", "plateau_patience", "scheduler", "warmup_fraction",
                  "weight_decay"},
    "decode": {"beam_size", "length_penalty", "max_steps", "teacher_forcing"},
    "forecast": {"horizon", "input_size", "mase_scale", "relative", "scale", "seq_len", "shift", "task"},
    "classify": {"embedding_dim", "embedding_dropout", "head_dropout", "labels", "task", "text", "vocab"},
    "translate": {"embedding_dim", "max_target_len", "pairs", "source_vocab", "target_vocab", "task"},
}
TINY = ("trainer.max_epochs=1", "model.hidden_size=8", "trainer.num_threads=1", "logger=none")


@pytest.fixture(scope="module")
def before_registry(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """Per task, a checkpoint trained now and the same rewritten to the layout of checkpoints before the registry."""
    root = tmp_path_factory.mktemp("before_registry")
    reviews = write_imdb_folder(root / "imdb")
    overrides = {"forecast": ("data.length=300",),
                 "classify": ("data=imdb", f"data.path={reviews}", f"data.cache_dir={root / 'cache'}",
                              "data.download=false", "data.embedding_dim=8", "data.val_fraction=0.34"),
                 "translate": ("data=translation", "data.train_size=200", "data.val_size=20", "data.test_size=20")}
    checkpoints = {}
    for name, extra in overrides.items():
        _, run_dir = run_in_process(root / name, *TINY, *extra)
        current = run_dir / "checkpoints" / "best.ckpt"
        checkpoint = torch.load(current, weights_only=True)
        hparams = checkpoint["hyper_parameters"]
        if name == "forecast":
            hparams["spec"].setdefault("relative", False)
        checkpoint["hyper_parameters"] = {section: {key: value for key, value in values.items()
                                                    if key in BEFORE_KEYS[name if section == "spec" else section]}
                                          for section, values in hparams.items()}
        old = root / f"{name}-before.ckpt"
        torch.save(checkpoint, old)
        checkpoints[name] = (current, old)
    return checkpoints


TEXTS = {"classify": ["A great movie, loved it.", "Boring and terrible."], "translate": ["sat 9 mar 1991", "3/4/05"]}


def test_checkpoints_written_before_the_registry_still_predict(before_registry, capsys):
    for name, (current, old) in before_registry.items():
        module = load_task(load_checkpoint(old))
        assert module.spec.task == name
        torch.testing.assert_close(module.state_dict(), load_task(load_checkpoint(current)).state_dict())
        if name not in TEXTS:
            continue
        printed = {}
        for path in (current, old):
            for text in TEXTS[name]:
                predict_main([f"ckpt={path}", f"text={text}"])
            printed[path] = capsys.readouterr().out
        assert printed[old] == printed[current] and printed[old].count(TEXTS[name][0]) >= 1


def test_predict_points_a_forecasting_checkpoint_to_rnnlab_forecast(before_registry, capsys):
    checkpoint = before_registry["forecast"][1]
    with pytest.raises(SystemExit) as exit_code:
        predict_main([f"ckpt={checkpoint}", "text=1 2 3"])
    assert exit_code.value.code == 2
    assert capsys.readouterr().err.strip() == (f"rnnlab: error: this checkpoint is a forecast model: forecast with "
                                               f"python -m rnnlab.forecast ckpt={checkpoint} steps=<values to "
                                               "forecast>")
