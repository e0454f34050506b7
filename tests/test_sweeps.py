"""Sweeps compare variants: summaries over seeds, comparison plot, re-running failed jobs, parallel
launcher, Optuna search that resumes, and TensorBoard serving a sweep."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from conftest import QUIET, compose_config, run_cli
from rnnlab.run.callbacks import threads_per_job
from rnnlab.sweeps.rerun import jobs_to_rerun
from rnnlab.sweeps.summary import main as report_main
from rnnlab.sweeps.variants import BASE, aggregate, short_labels, variant_of
from rnnlab.tasks.registry import task_of_schema

TINY = ["debug=limit", "trainer.max_epochs=2"]  # 2 epochs of 5 batches: curves with two points, seconds per job


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


@pytest.fixture(scope="module")
def seed_sweep(tmp_path_factory) -> Path:
    """`python -m rnnlab -m seed=0,1,2` on the stock data: 3 jobs of one variant, TensorBoard on."""
    root = tmp_path_factory.mktemp("seed_sweep")
    result = run_cli("-m", "model=rnn", "seed=0,1,2", *TINY, *QUIET, f"paths.log_dir={root / 'logs'}",
                     f"hydra.sweep.dir={root / 'sweep'}", cwd=root)
    assert result.returncode == 0, result.stderr
    (root / "sweep" / "console.txt").write_text(result.stdout)
    return root / "sweep"


def test_sweep_writes_a_row_per_job_and_one_per_variant_with_mean_and_std(seed_sweep):
    jobs = read_csv(seed_sweep / "summary.csv")
    assert [(row["seed"], row["status"]) for row in jobs] == [("0", "ok"), ("1", "ok"), ("2", "ok")]
    assert len({row["variant"] for row in jobs}) == 1 and "seed=" not in jobs[0]["variant"]
    (variant,) = read_csv(seed_sweep / "summary_variants.csv")
    assert (variant["ok"], variant["jobs"], variant["seeds"]) == ("3", "3", "0 1 2")
    rmse = [float(row["test/rmse"]) for row in jobs]
    assert float(variant["test/rmse_mean"]) == pytest.approx(statistics.fmean(rmse))
    assert float(variant["test/rmse_std"]) == pytest.approx(statistics.stdev(rmse))
    markdown = (seed_sweep / "summary.md").read_text()
    assert "## Variants (mean ± std over seeds)" in markdown
    assert "| 3 / 3 | 0 1 2 |" in markdown
    assert f"{statistics.fmean(rmse):.4g} ± {statistics.stdev(rmse):.4g}" in markdown  # 4 significant digits
    assert (seed_sweep / "comparison.png").stat().st_size > 10_000


def test_a_sweep_says_where_its_summary_is_one_path_a_line(seed_sweep):
    printed = (seed_sweep / "console.txt").read_text().splitlines()
    for name in ("summary.md", "summary.csv", "comparison.png"):
        assert f"  {seed_sweep / name}" in printed
    assert f"  tensorboard --logdir {seed_sweep / 'tensorboard'}" in printed


def test_report_has_help_and_says_where_it_wrote(seed_sweep, capsys):
    report_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m rnnlab.report")
    report_main([str(seed_sweep)])
    assert f"  {seed_sweep / 'summary.md'}" in capsys.readouterr().out.splitlines()


def test_variants_count_failed_jobs_but_average_only_finished_ones():
    rows = [
        {"variant": "model=gru", "seed": "0", "status": "ok", "test/acc": 0.8, "wall_time_s": 10.0},
        {"variant": "model=gru", "seed": "1", "status": "failed", "error": "loss became NaN"},
        {"variant": "model=gru", "seed": "2", "status": "ok", "test/acc": 0.9, "wall_time_s": 14.0},
        {"variant": "model=rnn", "seed": "0", "status": "ok", "test/acc": 0.7, "wall_time_s": 5.0},
    ]
    gru, rnn = aggregate(rows)
    assert (gru["variant"], gru["ok"], gru["jobs"]) == ("model=gru", 2, 3)
    assert gru["test/acc_mean"] == pytest.approx(0.85) and gru["test/acc_std"] == pytest.approx(0.0707107)
    assert gru["wall_time_s_mean"] == pytest.approx(12.0)
    assert (rnn["ok"], rnn["jobs"], rnn["test/acc_mean"], rnn["test/acc_std"]) == (1, 1, 0.7, None)


def test_a_variant_is_the_overrides_without_the_seed():
    assert variant_of(["model=gru", "seed=2", "data.seq_len=40"]) == "model=gru data.seq_len=40"
    assert variant_of(["seed=1"]) == BASE
    assert short_labels(["model=gru debug=limit", "model=rnn debug=limit"]) == {
        "model=gru debug=limit": "model=gru", "model=rnn debug=limit": "model=rnn"}
    assert short_labels(["model=gru debug=limit"]) == {"model=gru debug=limit": "all jobs"}


def test_sweep_summary_lists_jobs_in_numeric_order(tmp_path, capsys):
    """Hydra names job folders 0, 1, ..., 11: sorted as text, 10 and 11 would come before 2."""
    for job in (7, 11, 0, 2, 10, 1, 5, 3, 9, 4, 8, 6):  # written out of order, as parallel jobs finish
        folder = tmp_path / str(job)
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(f"- model=rnn\n- seed={job}\n")
        result = {"status": "ok", "task": "forecast", "monitor": "val/loss",
                  "metrics": {"val/loss": 0.1 * job, "test/rmse": 1.0 + job},
                  "history": [{"epoch": 0, "val/loss": 0.1 * job}]}
        (folder / "metrics.json").write_text(json.dumps(result))
    report_main([str(tmp_path)])
    in_order = [str(job) for job in range(12)]
    assert [row["job"] for row in read_csv(tmp_path / "summary.csv")] == in_order
    assert [row["seed"] for row in read_csv(tmp_path / "summary.csv")] == in_order
    (variant,) = read_csv(tmp_path / "summary_variants.csv")
    assert variant["seeds"] == " ".join(in_order)
    jobs_table = capsys.readouterr().out.partition("## Variants")[0]
    assert [line.split("|")[1].strip() for line in jobs_table.splitlines() if line.startswith("| ")][2:] == in_order


def test_rerun_finds_the_failed_and_the_never_started_jobs(seed_sweep, tmp_path):
    sweep = tmp_path / "sweep"
    shutil.copytree(seed_sweep, sweep)
    (sweep / "1" / "metrics.json").write_text(json.dumps({"status": "failed", "error": "loss became NaN"}))
    shutil.rmtree(sweep / "2")  # a job that never started (the sweep was stopped)
    assert [(name, overrides[:2]) for name, overrides in jobs_to_rerun(sweep)] == [
        ("1", ["model=rnn", "seed=1"]), ("2", ["model=rnn", "seed=2"])]


def test_rerun_failed_runs_only_the_failed_job_into_its_folder_and_rewrites_the_summary(seed_sweep, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    shutil.copytree(seed_sweep, sweep)
    (sweep / "1" / "metrics.json").write_text(json.dumps({"status": "failed", "error": "killed"}))
    (sweep / "summary.csv").unlink()
    untouched = {job: (sweep / job / "metrics.json").stat().st_mtime_ns for job in ("0", "2")}
    multirun = (sweep / "multirun.yaml").read_text()

    report_main(["--rerun-failed", str(sweep)])

    assert "re-running job 1: model=rnn seed=1" in capsys.readouterr().out
    assert [(row["job"], row["status"]) for row in read_csv(sweep / "summary.csv")] == [
        ("0", "ok"), ("1", "ok"), ("2", "ok")]
    assert {job: (sweep / job / "metrics.json").stat().st_mtime_ns for job in ("0", "2")} == untouched
    assert (sweep / "multirun.yaml").read_text() == multirun  # still the record of the whole sweep
    rerun = json.loads((sweep / "1" / "metrics.json").read_text())
    assert rerun["status"] == "ok" and len(rerun["history"]) == 2


def test_rerun_failed_needs_a_sweep_folder(tmp_path, capsys):
    (tmp_path / "0" / ".hydra").mkdir(parents=True)
    (tmp_path / "0" / ".hydra" / "overrides.yaml").write_text("- model=gru\n")
    with pytest.raises(SystemExit) as stop:
        report_main(["--rerun-failed", str(tmp_path)])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        f"rnnlab: error: '{tmp_path}' has no multirun.yaml; give the folder of a sweep started with -m\n")
    (tmp_path / "optuna.db").touch()
    with pytest.raises(SystemExit):
        report_main(["--rerun-failed", str(tmp_path)])
    assert "an Optuna search resumes from its storage: run its command again" in capsys.readouterr().err


def test_parallel_jobs_share_the_cores():
    assert threads_per_job(2, cores=2) == 1
    assert threads_per_job(-1, cores=8) == 1  # joblib's -1: one job per core
    assert threads_per_job(3, cores=8) == 2
    assert threads_per_job(1, cores=8) == 8
    assert threads_per_job(16, cores=2) == 1


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes_with_their_share_of_threads(tmp_path):
    result = run_cli("-m", "model=rnn,gru", "debug=fast_dev_run", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                     "callbacks.progress_bar=none", f"paths.log_dir={tmp_path}", f"hydra.sweep.dir={tmp_path / 's'}",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [row["status"] for row in read_csv(tmp_path / "s" / "summary.csv")] == ["ok", "ok"]
    cores = threads_per_job(2)
    for job in ("0", "1"):
        assert f"num_threads: {cores}" in (tmp_path / "s" / job / "train.log").read_text()


def optuna_trials(storage: Path) -> list[tuple[str, str]]:
    query = "SELECT studies.study_name, trials.state FROM trials JOIN studies USING (study_id)"
    with sqlite3.connect(storage) as db:
        return db.execute(query).fetchall()


SEARCHES = sorted(path.stem for path in (Path(__file__).parents[1] / "conf" / "hparams_search").glob("*.yaml"))


@pytest.mark.parametrize("preset", SEARCHES)
def test_search_direction_follows_the_monitored_metric(tmp_path, preset):
    config, _ = compose_config(tmp_path, f"hparams_search={preset}")
    sweeper = OmegaConf.to_container(HydraConfig.get().sweeper)  # unresolved: the storage names the sweep folder
    task = task_of_schema(config.data)
    monitor = config.callbacks.monitor or task.monitor
    assert sweeper["direction"] == ("maximize" if task.mode(monitor) == "max" else "minimize")
    assert (sweeper["study_name"], sweeper["storage"]) == (preset, "sqlite:///${hydra.sweep.dir}/optuna.db")


@pytest.mark.slow  # two invocations: ~30 s
def test_optuna_search_runs_its_trials_and_resumes_from_its_storage(tmp_path):
    search = ["hparams_search=stock", "debug=fast_dev_run", *QUIET, f"paths.log_dir={tmp_path / 'logs'}"]
    first = run_cli(*search, "hydra.sweeper.n_trials=2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "logs" / "stock" / "hparams_search" / "stock"
    assert optuna_trials(folder / "optuna.db") == [("stock", "COMPLETE")] * 2

    again = run_cli(*search, "hydra.sweeper.n_trials=1", cwd=tmp_path)  # the same command: the study resumes
    assert again.returncode == 0, again.stderr
    assert optuna_trials(folder / "optuna.db") == [("stock", "COMPLETE")] * 3
    rows = read_csv(folder / "summary.csv")
    assert len(rows) == 3 and {row["status"] for row in rows} == {"ok"}
    assert all("model.cell=" in row["overrides"] and "optimizer.lr=" in row["overrides"] for row in rows)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, body: dict | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def tensorboard_server(seed_sweep):
    """The venv's `tensorboard` serving the sweep folder on a free local port; stopped afterwards."""
    port = free_port()
    binary = Path(sys.executable).with_name("tensorboard")
    server = subprocess.Popen([str(binary), "--logdir", str(seed_sweep), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if len(fetch(f"{url}/data/runs")) == 3:  # every run's event files read
                    break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "tensorboard did not start serving"
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tensorboard_serves_the_sweeps_runs_scalars_and_hparams(tensorboard_server):
    url = tensorboard_server
    runs = ["tensorboard/seed=0", "tensorboard/seed=1", "tensorboard/seed=2"]  # named by what varies
    assert sorted(fetch(f"{url}/data/runs")) == runs
    tags = fetch(f"{url}/data/plugin/scalars/tags")
    for run in runs:
        assert {"train/loss", "val/loss", "test/rmse", "hparams/test/rmse"} <= set(tags[run])
        assert "epoch" not in tags[run]  # Lightning's counter is not the first card
    experiment = fetch(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
    shown = [info["name"] for info in experiment["hparamInfos"]]
    assert {"seed", "data", "model.cell", "model.hidden_size"} <= set(shown) and len(shown) <= 8
    assert "callbacks.early_stopping" not in shown  # the ~95 keys that define nothing stay out of the table
    assert {"hparams/test/rmse", "hparams/val/loss"} <= {m["name"]["tag"] for m in experiment["metricInfos"]}
    groups = fetch(f"{url}/data/plugin/hparams/session_groups",
                   {"experimentName": "", "startIndex": 0, "sliceSize": 10,
                    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]})
    assert sorted(group["hparams"]["seed"] for group in groups["sessionGroups"]) == [0, 1, 2]
    final = {value["name"]["tag"] for value in groups["sessionGroups"][0]["metricValues"]}
    assert {"hparams/test/rmse", "hparams/val/loss"} <= final
