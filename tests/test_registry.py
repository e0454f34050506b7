"""Tasks declare themselves once, in the registry, and every place that needs a task reads it from there."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from rnnlab.run.config import register_schemas
from rnnlab.run.predict import load_checkpoint, load_task
from rnnlab.run.predict import main as predict_main
from rnnlab.sweeps.comparison import headline_metric, write_comparison
from rnnlab.sweeps.summary import job_rows
from rnnlab.sweeps.variants import aggregate
from rnnlab.tasks.registry import load_tasks, task_of_schema

ROOT = Path(__file__).parents[1]
TASKS = sorted(load_tasks())
BEFORE = Path(__file__).parent / "fixtures" / "before_registry"  # written by the code before the registry


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


def test_checkpoints_written_before_the_registry_still_predict(capsys):
    expected = json.loads((BEFORE / "expected.json").read_text())
    for name, case in expected.items():
        module = load_task(load_checkpoint(BEFORE / f"{name}.ckpt"))
        assert module.spec.task == name
        for text in case["texts"]:
            predict_main([f"ckpt={BEFORE / f'{name}.ckpt'}", f"text={text}"])
        lines = capsys.readouterr().out.splitlines()
        if name == "classify":  # each prediction: a header, the column names, the classes' probabilities
            positive = lines[1].split("\t").index("P(pos)")
            found = [float(line.split("\t")[positive]) for line in lines[2::3]]
            assert found == pytest.approx(case["probabilities"], abs=1e-4)
        else:
            assert [line.split("\t")[0] for line in lines] == case["translations"]


def test_a_task_without_a_predictor_says_which_tasks_predict(capsys):
    with pytest.raises(SystemExit) as exit_code:
        predict_main([f"ckpt={BEFORE / 'forecast.ckpt'}", "text=1 2 3"])
    assert exit_code.value.code == 2
    assert capsys.readouterr().err.strip() == ("rnnlab: error: this checkpoint is a forecast model, which "
                                               "rnnlab.predict does not take; it predicts with classify, "
                                               "tagging, translate models")
