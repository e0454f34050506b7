"""Shared by the benchmark scripts: the machine's description and one section of results.md each.

Each script owns a section between `<!-- name -->` and `<!-- /name -->` and rewrites only that one, so the
throughput and accuracy measurements (separate commands, minutes apart) live in one page.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
HEADER = "# rnnlab speed on the IMDB tutorial recipe\n\nWritten by the commands shown in each section.\n"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    flags = Path("/proc/cpuinfo").read_text()
    extras = [name for name, flag in (("AVX-512", "avx512f"), ("AMX-bf16", "amx_bf16")) if f" {flag}" in flags]
    versions = ", ".join(f"{name} {version(name)}" for name in ("torch", "pytorch-lightning", "hydra-core"))
    return (f"{cpu} ({', '.join(extras) or 'no AVX-512'}), {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, {versions}")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a == a and b == b and b else "—"


def number(value: float) -> str:
    return f"{value:,.0f}" if value == value else "—"


def write_section(name: str, text: str) -> None:
    """Replace (or append) the section `name` of results.md with `text`."""
    page = RESULTS.read_text() if RESULTS.exists() else HEADER
    block = f"<!-- {name} -->\n{text.strip()}\n<!-- /{name} -->"
    pattern = re.compile(rf"<!-- {name} -->.*?<!-- /{name} -->", re.DOTALL)
    page = pattern.sub(lambda _: block, page) if pattern.search(page) else f"{page.rstrip()}\n\n{block}\n"
    RESULTS.write_text(page)
