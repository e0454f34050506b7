"""The real IMDB training batches of the tutorial recipe, as the runner sees them, saved for every benchmark leg.

The config is composed by Hydra from `experiment=imdb_tutorial` (vocabulary 10k, last 200 tokens padded in
front, batch 64), the arrays come from rnnlab's own loader (its encoded cache), and the batches are the first
ones of the runner's shuffled training loader (seed 0). The raw PyTorch loop and Keras train on exactly these.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.run.build import build_data
from rnnlab.run.config import Config, register_schemas, to_config

DEFAULT_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"


def tutorial_config(overrides: list[str]) -> Config:
    """The runner's typed config for the tutorial recipe plus `overrides`, composed exactly as the CLI does."""
    from hydra import compose, initialize_config_module

    register_schemas()
    with initialize_config_module(config_module="rnnlab.conf", version_base="1.3"):
        return to_config(compose("config", overrides=["experiment=imdb_tutorial", *overrides]))


def save_batches(archive: Path, count: int, folder: Path) -> tuple[Path, Path]:
    """The first `count` training batches as `tokens.npy` [count, 64, 200] and `labels.npy` [count, 64]."""
    data = build_data(tutorial_config([f"data.path={archive}"]))
    tokens, labels = [], []
    for batch_tokens, _, batch_labels, _ in data.train_dataloader():
        tokens.append(batch_tokens.numpy())
        labels.append(batch_labels.numpy())
        if len(tokens) == count:
            break
    if len(tokens) < count or len({t.shape for t in tokens}) != 1:
        raise SystemExit(f"expected {count} full training batches of one shape, got {[t.shape for t in tokens]}")
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "tokens.npy", folder / "labels.npy"
    np.save(paths[0], np.stack(tokens))
    np.save(paths[1], np.stack(labels))
    return paths
