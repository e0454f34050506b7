"""Where the default treebank comes from when no files are named: UD English EWT in the cache folder, else its
three files downloaded from the treebank's public repository (checksums checked where the release is fixed)."""

from __future__ import annotations

from pathlib import Path

from rnnlab.data.archive import default_cache_dir, download
from rnnlab.errors import UserError
from rnnlab.tasks.tagging.schema import TaggingDataConfig

FOLDER_NAME = "ud_english_ewt"
FILES = {"train": "en_ewt-ud-train.conllu", "val": "en_ewt-ud-dev.conllu", "test": "en_ewt-ud-test.conllu"}


def default_treebank(cfg: TaggingDataConfig) -> dict[str, Path]:
    """The train/val/test files of `<cache>/ud_english_ewt/`, downloading the missing ones from `data.url`."""
    folder = (Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()) / FOLDER_NAME
    paths = {split: folder / name for split, name in FILES.items()}
    missing = [split for split, path in paths.items() if not path.is_file()]
    where = (f"copy UD_English-EWT's {', '.join(FILES.values())} into {folder}, or give data.path=<a treebank "
             "folder>")
    if missing and not cfg.download:
        raise UserError(f"no sentences to tag and downloading is off; {where}")
    for split in missing:
        try:
            download(cfg.url.rstrip("/") + "/" + FILES[split], paths[split], cfg.sha256.get(split))
        except UserError as error:
            raise UserError(f"no treebank found locally and {error}; {where}") from None
    return paths
