"""The length study's extra section: exact match and BLEU per source length for each arm of the sweep.

Used by experiments/generate.py for experiments/translation_length.md; also runs alone on any sweep
folder whose jobs are translation runs:

    python experiments/length_study.py logs/experiments/translation_length experiments/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from rnnlab.figures import line_figure, save_figure


def arms(sweep: Path) -> dict[str, dict[str, Any]]:
    """Finished jobs of the sweep by a label naming their decoder: 'attention (bahdanau, h=64)'."""
    found = {}
    for metrics_file in sorted(sweep.glob("*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        if metrics.get("status") != "ok":
            continue
        config = yaml.safe_load((metrics_file.parent / ".hydra" / "config.yaml").read_text())
        model = config["model"]
        kind = "no attention" if model["attention"] == "none" else f"attention ({model['attention']})"
        metrics["report"]["by_length"] = [clamp(b, config["data"]["max_len"]) for b in metrics["report"]["by_length"]]
        found[f"{kind}, {model['cell']} {model['hidden_size']}, {metrics['params']:,} params"] = metrics
    return found


def clamp(bucket: dict[str, Any], longest: int | None) -> dict[str, Any]:
    """A length group named by the lengths the data can have: '50-54' is '50' when sources stop at 50
    (groups written by rnnlab before it clamped them itself)."""
    start, _, end = bucket["lengths"].partition("-")
    if longest is None or not end or int(end) <= longest:
        return bucket
    end = str(longest)
    return {**bucket, "lengths": start if start == end else f"{start}-{end}", "mid": (int(start) + longest) / 2}


def length_study(sweep: Path, folder: Path, plot: str = "translation_length_by_length.png") -> str:
    """A Markdown table (a row per length group, exact match and BLEU per arm) and its plot in `folder`."""
    results = arms(sweep)
    if not results:
        return "No finished jobs in the sweep."
    groups = [b["lengths"] for b in next(iter(results.values()))["report"]["by_length"]]
    header = "| source length | " + " | ".join(f"{label}: exact / BLEU" for label in results) + " |"
    lines = [header, "|" + " --- |" * (len(results) + 1)]
    for i, group in enumerate(groups):
        cells = []
        for metrics in results.values():
            bucket = metrics["report"]["by_length"][i]
            cells.append(f"{bucket['exact_match'] * 100:.1f}% / {bucket['bleu']:.3f}")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    overall = [f"{m['metrics']['test/exact_match'] * 100:.1f}% / {m['metrics']['test/bleu']:.3f}"
               for m in results.values()]
    lines.append("| **all** | " + " | ".join(overall) + " |")
    curves = {}
    for label, metrics in results.items():
        buckets = metrics["report"]["by_length"]
        mids = [b["mid"] for b in buckets]
        curves[f"exact match, {label.split(',')[0]}"] = (mids, [b["exact_match"] for b in buckets])
        curves[f"BLEU, {label.split(',')[0]}"] = (mids, [b["bleu"] for b in buckets])
    save_figure(line_figure("Reversal: test scores by source length", "source length (tokens)", "score", curves),
                folder / plot)
    return "\n".join(lines) + f"\n\n![exact match and BLEU by source length]({plot})"


if __name__ == "__main__":
    print(length_study(Path(sys.argv[1]), Path(sys.argv[2])))
