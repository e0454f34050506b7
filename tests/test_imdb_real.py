"""The tutorial recipe on the real Large Movie Review Dataset (slow; skipped without the archive)."""

from __future__ import annotations

import pytest

from conftest import run_in_process
from test_imdb_source import REAL_ARCHIVE


@pytest.mark.slow
@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"real IMDB archive not at {REAL_ARCHIVE}")
def test_one_epoch_of_the_tutorial_recipe_learns_real_sentiment(tmp_path):
    results, run_dir = run_in_process(tmp_path, "experiment=imdb_tutorial", f"data.path={REAL_ARCHIVE}",
                                      f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_epochs=1", "logger=none")
    assert sum(map(sum, results["report"]["confusion_matrix"])) == 25_000
    assert results["metrics"]["test/acc"] > 0.7
    assert (run_dir / "most_confidently_wrong.md").read_text().count("**true") == 10
