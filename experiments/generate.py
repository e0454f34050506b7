"""Run the sweeps behind the pages in experiments/ and write their results into the pages.

    python experiments/generate.py                 # every page, full settings (make experiments; IMDB takes hours)
    python experiments/generate.py stock           # one page
    python experiments/generate.py --quick         # fewer epochs, seeds and batches, pages in experiments/quick/
    python experiments/generate.py translation --reuse   # rewrite a page from sweeps already in logs/experiments/

A page is a Markdown file written by people; each section's generated part sits between
`<!-- generated: NAME -->` and `<!-- end generated: NAME -->` and is replaced on every run: the exact
command, the results table (mean ± std over seeds, from the sweep's summary_variants.csv), the sweep's
comparison.png copied next to the page, the machine and the wall time. Everything outside the markers is
kept. A section without markers in its page is appended to it. A new page (e.g. translation_length for
the length study) is one more `Page` in PAGES.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from length_study import length_study  # beside this script

from rnnlab.sweeps.variants import short_labels

ROOT = Path(__file__).resolve().parents[1]
IMDB = "data.path=../shared/data/aclImdb_v1.tar.gz"  # relative to the repository, as in the pages' commands
SHAKESPEARE = "data.path=../shared/data/tinyshakespeare.txt"
EWT = "data.path=../shared/data/ud_english_ewt"


@dataclass
class Section:
    name: str                 # marker name, sweep folder logs/experiments/<name>, plot <name>.png
    title: str                # heading when the section is appended to a page
    overrides: list[str]      # what follows `python -m rnnlab -m`
    quick: list[str]          # replaces same-key overrides in the quick variant (minutes, not hours)
    columns: dict[str, str]   # table header -> summary column (a metric, best_epoch, wall_time_s, ...)
    per_job: bool = False     # also list each job (seed) of the sweep
    extra: Callable[[Path, Path], str] | None = None  # more Markdown from (sweep folder, page folder)


@dataclass
class Page:
    file: str
    title: str
    sections: list[Section] = field(default_factory=list)


STOCK_COLUMNS = {"test RMSE": "test/rmse", "naive": "test/naive_rmse", "drift": "test/drift_rmse",
                 "linear AR": "test/linear_rmse", "noise floor": "test/noise_floor_rmse",
                 "RMSE / floor": "test/rmse_over_noise_floor", "best epoch": "best_epoch",
                 "wall time (s)": "wall_time_s"}
IMDB_COLUMNS = {"test acc": "test/acc", "test F1": "test/f1", "test AUROC": "test/auroc", "best epoch": "best_epoch",
                "params": "params", "wall time (s)": "wall_time_s", "train samples/s": "train_samples_per_s"}
TRANSLATION_COLUMNS = {"test exact match": "test/exact_match", "greedy exact match": "test/exact_match_greedy",
                       "test BLEU": "test/bleu", "token acc": "test/token_acc", "best epoch": "best_epoch",
                       "params": "params", "wall time (s)": "wall_time_s"}
CHARS_COLUMNS = {"test loss (nats/char)": "test/loss", "test bits/char": "test/bpc",
                 "5-gram Kneser-Ney": "test/5gram_loss", "unigram": "test/unigram_loss", "epochs": "best_epoch",
                 "params": "params", "wall time (s)": "wall_time_s", "train windows/s": "train_samples_per_s"}
TAGGING_COLUMNS = {"test acc": "test/acc", "unseen words": "test/unseen_acc", "macro F1": "test/macro_f1",
                   "sentences exact": "test/exact_match", "most-frequent-tag baseline": "test/baseline_acc",
                   "baseline, unseen words": "test/baseline_unseen_acc", "best epoch": "best_epoch",
                   "params": "params", "wall time (s)": "wall_time_s", "train sentences/s": "train_samples_per_s"}
FORECAST_COLUMNS = {"test RMSE": "test/rmse", "naive": "test/naive_rmse", "seasonal naive": "test/seasonal_naive_rmse",
                    "drift": "test/drift_rmse", "linear AR": "test/linear_rmse", "ETS": "test/ets_rmse",
                    "best epoch": "best_epoch", "wall time (s)": "wall_time_s"}
SERIES = "data.csv_path=../shared/data/series/"
IMDB_QUICK = ["trainer.max_epochs=1", "trainer.limit_train_batches=30", "trainer.limit_val_batches=10",
              "trainer.limit_test_batches=20", "seed=0"]

PAGES = {
    "stock": Page("stock.md", "Forecasting the stock series", [
        Section("stock_seeds", "The tutorial series: sin(0.1 t) + N(0, 0.1), windows of 20, LSTM(64)",
                ["seed=0,1,2"], ["trainer.max_epochs=5", "seed=0,1"], STOCK_COLUMNS, per_job=True),
        Section("stock_random_walk", "Sanity check: a random walk",
                ["experiment=stock_random_walk", "seed=0,1,2"], ["trainer.max_epochs=5", "seed=0,1"],
                STOCK_COLUMNS, per_job=True),
    ]),
    "forecasting": Page("forecasting.md", "Forecasting real series", [
        *[Section(name.replace("-", "_"), title, ["model=lstm,gru,rnn", "seed=0,1,2", f"{SERIES}{name}.csv"],
                  ["trainer.max_epochs=3", "seed=0"], FORECAST_COLUMNS)
          for name, title in (("monthly-car-sales", "Monthly car sales: 108 months, a yearly season"),
                              ("daily-min-temperatures", "Daily minimum temperatures: 3,650 days"),
                              ("monthly-sunspots", "Monthly sunspots: 2,820 months, an 11-year cycle"))],
        Section("pollution", "Beijing PM2.5, one hour ahead from every variable (the Keras tutorial's split)",
                ["experiment=pollution", "model=lstm,gru,rnn", "seed=0,1,2", f"{SERIES}pollution.csv"],
                ["trainer.max_epochs=2", "seed=0"],
                {**FORECAST_COLUMNS, "linear, all columns": "test/linear_all_rmse"}),
    ]),
    "imdb": Page("imdb.md", "IMDB sentiment, from scratch", [
        Section("imdb_compare", "The Keras tutorial recipe, and the architectures compared on it",
                ["experiment=imdb_tutorial", "model=rnn,lstm,gru,bilstm,stacked_lstm,attention", IMDB],
                IMDB_QUICK, IMDB_COLUMNS),
        Section("imdb_lstm_seeds", "The LSTM recipe over three seeds, and what the initialisation is worth",
                ["experiment=imdb_tutorial", "model.init=keras,torch", "seed=0,1,2", IMDB], IMDB_QUICK, IMDB_COLUMNS,
                per_job=True),
        Section("imdb_best", "Best from-scratch model", ["experiment=imdb_best", IMDB], IMDB_QUICK, IMDB_COLUMNS),
    ]),
    "translation": Page("translation_length.md", "Toy translation: dates, and attention against sequence length", [
        Section("translation_dates", "Human dates -> ISO 8601 with attention, three seeds",
                ["experiment=translation_dates", "seed=0,1,2"],
                ["data.train_size=2000", "trainer.max_epochs=2", "seed=0"], TRANSLATION_COLUMNS, per_job=True),
        Section("translation_length", "Reversal, source lengths 5-50: attention against none at equal parameters",
                ["experiment=translation_length,translation_length_plain", "hydra/launcher=joblib",
                 "hydra.launcher.n_jobs=2"],
                ["data.train_size=2000", "data.max_len=20", "trainer.max_epochs=3"], TRANSLATION_COLUMNS,
                extra=length_study),
    ]),
    "chars": Page("chars.md", "Character-level language modelling: tiny Shakespeare", [
        Section("shakespeare_char_quick", "About a minute on 2 cores, start-up included",
                ["experiment=shakespeare_char_quick", SHAKESPEARE], ["trainer.max_epochs=1"], CHARS_COLUMNS,
                extra=lambda sweep, folder: run_extras(sweep, folder, "shakespeare_char_quick")),
        Section("shakespeare_char", "The best in about 30 minutes on 2 cores",
                ["experiment=shakespeare_char", SHAKESPEARE],
                ["trainer.max_epochs=1", "trainer.limit_train_batches=20"], CHARS_COLUMNS,
                extra=lambda sweep, folder: run_extras(sweep, folder, "shakespeare_char")),
    ]),
    "tagging": Page("tagging.md", "Part-of-speech tagging: UD English EWT", [
        Section("pos_ewt_quick", "About a minute and a half", ["experiment=pos_ewt_quick", EWT],
                ["trainer.max_epochs=1"], TAGGING_COLUMNS,
                extra=lambda sweep, folder: run_extras(sweep, folder, "pos_ewt_quick")),
        Section("pos_ewt", "The best in about 15 minutes on 2 cores", ["experiment=pos_ewt", EWT, "seed=0,1,2"],
                ["trainer.max_epochs=1", "trainer.limit_train_batches=50"], TAGGING_COLUMNS,
                per_job=True, extra=lambda sweep, folder: run_extras(sweep, folder, "pos_ewt")),
    ]),
}


def run_extras(sweep: Path, folder: Path, name: str) -> str:
    """What a single run's page section shows beyond the table: its learning curves, its task's own report
    (the verdict against the baselines), the generated sample or per-tag table, the tag confusion matrix."""
    job = sweep / "0"
    parts = []
    for figure in ("learning_curves", "tag_confusion"):
        if (job / "figures" / f"{figure}.png").is_file():
            shutil.copyfile(job / "figures" / f"{figure}.png", folder / f"{name}_{figure}.png")
            parts.append(f"![{name}: {figure.replace('_', ' ')}]({name}_{figure}.png)")
    report = json.loads((job / "metrics.json").read_text()).get("report", {})
    if report.get("verdict"):
        parts.insert(0, f"In words: {report['verdict']}.")
    if (job / "sample.txt").is_file():
        parts.append("A sample from the best checkpoint (temperature 0.8, seeded):\n\n" +
                     "\n".join("    " + line for line in (job / "sample.txt").read_text().splitlines()))
    if (job / "per_tag.md").is_file():
        parts.append("Per tag, on test:\n\n" + (job / "per_tag.md").read_text())
    return "\n\n".join(parts)


def with_quick(overrides: list[str], quick: list[str]) -> list[str]:
    """`overrides` with the quick settings in place of the same keys (Hydra refuses a key given twice)."""
    keys = {item.partition("=")[0] for item in quick}
    return [item for item in overrides if item.partition("=")[0] not in keys] + quick


def machine() -> str:
    import torch

    cpuinfo = Path("/proc/cpuinfo")
    models = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text()) if cpuinfo.exists() else []
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{models[0] if models else platform.processor()}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def run_sweep(overrides: list[str], sweep: Path) -> float:
    """Run the sweep into a fresh folder; returns its wall time in seconds."""
    shutil.rmtree(sweep, ignore_errors=True)
    command = [sys.executable, "-m", "rnnlab", "-m", *overrides, "print_config=false", "callbacks.progress_bar=none",
               f"hydra.sweep.dir={sweep.relative_to(ROOT)}"]
    print("$", shlex.join(command[1:]), flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    return time.perf_counter() - started


PERCENT = ("/acc", "/exact_match", "/unseen_acc", "/baseline_acc", "/baseline_unseen_acc", "/macro_f1")  # 85.75%
WHOLE = ("params", "train_samples_per_s", "wall_time_s")  # shown as 1,209


def number(value: str, column: str) -> str:
    if column.endswith(PERCENT):
        return f"{float(value) * 100:.2f}"
    if column in WHOLE:
        return f"{float(value):,.0f}"
    if column == "best_epoch":
        return f"{float(value):.0f}" if float(value).is_integer() else f"{float(value):.1f}"
    return f"{float(value):.4f}"


def cell(row: dict[str, str], column: str) -> str:
    """`mean ± std` of a summary column (a job's own value in the per-job table)."""
    mean, std = row.get(f"{column}_mean") or row.get(column), row.get(f"{column}_std")
    if not mean:
        return ""
    unit = "%" if column.endswith(PERCENT) else ""
    return number(mean, column) + (f" ± {number(std, column)}" if std else "") + unit


def table(rows: list[dict[str, str]], first: str, label: str, columns: dict[str, str]) -> str:
    lines = [f"| {label} | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 1)]
    lines += [f"| {row[first]} | " + " | ".join(cell(row, c) for c in columns.values()) + " |" for row in rows]
    return "\n".join(lines)


def sweep_seconds(sweep: Path) -> float:
    """Wall time of a finished sweep: from its start (multirun.yaml written) to its summary."""
    return (sweep / "summary.csv").stat().st_mtime - (sweep / "multirun.yaml").stat().st_mtime


def section_block(section: Section, overrides: list[str], sweep: Path, plot: str, seconds: float) -> str:
    variants = list(csv.DictReader((sweep / "summary_variants.csv").open()))
    labels = short_labels([row["variant"] for row in variants])
    for row in variants:
        row["label"] = f"{labels[row['variant']]} ({row['ok']}/{row['jobs']} ok)"
    parts = [f"    python -m rnnlab -m {shlex.join(overrides)} hydra.sweep.dir={sweep.relative_to(ROOT)}",
             table(variants, "label", "variant (mean ± std over seeds)", section.columns)]
    if section.per_job:
        jobs = list(csv.DictReader((sweep / "summary.csv").open()))
        for row in jobs:
            variant = labels[row["variant"]] if len(variants) > 1 else ""
            row["label"] = ", ".join(filter(None, [variant, f"seed {row['seed']}" if row["seed"] else ""])) + (
                "" if row["status"] == "ok" else f" ({row['status']}: {row.get('error', '')})")
        parts.append(table(jobs, "label", "job", section.columns))
    parts += [f"![{section.name}: validation curves and test metric per variant]({plot})",
              f"Machine: {machine()}. Sweep wall time {seconds / 60:.1f} min; generated "
              f"{datetime.date.today().isoformat()} by `python experiments/generate.py` (summary: "
              f"`python -m rnnlab.report {sweep.relative_to(ROOT)}`)."]
    return "\n\n".join(parts)


def replace_block(page: str, name: str, block: str, title: str) -> str:
    """Put `block` between the section's markers, or append the section when the page has none."""
    start, end = f"<!-- generated: {name} -->", f"<!-- end generated: {name} -->"
    wrapped = f"{start}\n{block}\n{end}"
    if start in page and end in page:
        return page[:page.index(start)] + wrapped + page[page.index(end) + len(end):]
    return page.rstrip("\n") + f"\n\n## {title}\n\n{wrapped}\n"


def generate(page: Page, quick: bool, reuse: bool = False) -> Path:
    folder = ROOT / "experiments" / ("quick" if quick else "")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / page.file
    heading = f"# {page.title}" + (" (quick check: few epochs and batches, not the published numbers)" if quick else "")
    text = path.read_text() if path.exists() else heading + "\n"
    for section in page.sections:
        overrides = with_quick(section.overrides, section.quick) if quick else section.overrides
        sweep = ROOT / "logs" / "experiments" / ("quick" if quick else "") / section.name
        seconds = sweep_seconds(sweep) if reuse and (sweep / "summary.csv").is_file() else run_sweep(overrides, sweep)
        shutil.copyfile(sweep / "comparison.png", folder / f"{section.name}.png")
        block = section_block(section, overrides, sweep, f"{section.name}.png", seconds)
        if section.extra is not None:
            block += "\n\n" + section.extra(sweep, folder)
        text = replace_block(text, section.name, block, section.title)
        path.write_text(text)  # after every section: a long run that stops keeps what it finished
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the experiment pages from their sweeps.")
    parser.add_argument("pages", nargs="*", help=f"pages to regenerate: {', '.join(PAGES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="minutes instead of hours, into experiments/quick/")
    parser.add_argument("--reuse", action="store_true", help="use sweeps that already finished instead of rerunning")
    args = parser.parse_args()
    unknown = sorted(set(args.pages) - set(PAGES))
    if unknown:
        parser.error(f"no page '{unknown[0]}'; choose from {', '.join(PAGES)}")
    for name in args.pages or PAGES:
        print(f"wrote {generate(PAGES[name], args.quick, args.reuse).relative_to(ROOT)}", flush=True)


if __name__ == "__main__":
    main()
