"""A tiny fake IMDB dataset in the official layout, as a folder or a .tar.gz, for tests."""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

# (split, label folder) -> {file name `<id>_<rating>.txt`: review}. Names are chosen so that sorted order
# ("10_..." before "2_...") differs from numeric order.
REVIEWS: dict[tuple[str, str], dict[str, str]] = {
    ("train", "pos"): {
        "2_9.txt": "A great movie.<br /><br />I loved the acting and the story!",
        "10_8.txt": "Great fun, great cast. Loved it.",
        "7_10.txt": "The best film I've seen this year.<br />Wonderful.",
    },
    ("train", "neg"): {
        "3_1.txt": "A terrible movie.<br /><br />The story was boring and the acting bad.",
        "11_2.txt": "Boring, boring, boring. I hated it.",
        "5_4.txt": "Not great. The plot didn't work.",
    },
    ("test", "pos"): {
        "4_7.txt": "Splendid movie, a great story!",
        "12_10.txt": "Marvellous acting.<br />Loved it.",
    },
    ("test", "neg"): {
        "6_3.txt": "Dreadful and boring.<br /><br />Awful acting.",
        "1_1.txt": "The worst movie; I hated the story.",
    },
}
TEST_ONLY_WORDS = ("splendid", "marvellous", "dreadful", "awful", "worst")


def write_imdb_folder(parent: Path, reviews: dict[tuple[str, str], dict[str, str]] = REVIEWS) -> Path:
    """Write `parent/aclImdb/{train,test}/{pos,neg}/*.txt`; return the `aclImdb` folder."""
    root = parent / "aclImdb"
    for (split, label), files in reviews.items():
        folder = root / split / label
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    return root


def write_imdb_archive(path: Path, reviews: dict[tuple[str, str], dict[str, str]] = REVIEWS) -> Path:
    """Write a .tar.gz holding `aclImdb/...` like the official archive; return `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = write_imdb_folder(Path(scratch), reviews)
        with tarfile.open(path, "w:gz") as tar:
            tar.add(root, arcname="aclImdb")
    return path
