"""The Large Movie Review Dataset (Maas et al., 2011): finding it, reading it, and caching it encoded.

Official layout: `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`; labels are pos=1, neg=0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rnnlab.data.archive import download as download_file
from rnnlab.data.archive import extract_archive, sha256_file, source_sha256
from rnnlab.data.locks import exclusive_lock
from rnnlab.data.text import TextSettings, Vocabulary, encode
from rnnlab.errors import UserError

log = logging.getLogger(__name__)

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
FOLDER_NAME = "aclImdb"
SPLITS = ("train", "test")
LABELS = (("neg", 0), ("pos", 1))
LAYOUT = "aclImdb/{train,test}/{pos,neg}/*.txt"
# Bump when the cache file's contents change meaning, so old files are never misread.
_CACHE_FORMAT = 1


def locate_imdb(
    path: Path | None, cache_dir: Path, url: str = IMDB_URL, sha256: str | None = IMDB_SHA256, download: bool = True
) -> Path:
    """The extracted `aclImdb` folder, from `path` if given, else from `cache_dir`, else downloaded into it.

    `path` may be the `aclImdb` folder, a folder containing it, or the .tar.gz; archives are extracted
    into `cache_dir`. The checksum applies to downloads only (a user's own copy may legitimately differ).
    """
    if path is not None:
        return _from_user_path(Path(path).expanduser(), cache_dir)
    cached = _from_cache(cache_dir)
    if cached is not None:
        return cached
    if not download:
        raise UserError(f"IMDB data not found and downloading is off; {_where_to_put(cache_dir)}")
    try:
        archive = download_file(url, cache_dir / ARCHIVE_NAME, sha256)
    except UserError as e:
        raise UserError(f"IMDB data not found locally and {e}; {_where_to_put(cache_dir)}") from None
    return _extract(archive, cache_dir)


def _where_to_put(cache_dir: Path) -> str:
    return (
        f"put {ARCHIVE_NAME} (or its extracted {FOLDER_NAME}/ folder) into {cache_dir}, "
        "or set data.path to the folder or .tar.gz"
    )


def _from_user_path(path: Path, cache_dir: Path) -> Path:
    if not path.exists():
        raise UserError(f"data.path '{path}' does not exist; give the folder or .tar.gz of the IMDB archive")
    if path.is_dir():
        return _imdb_root(path, f"data.path '{path}'")
    return _extract(path, cache_dir)


def _from_cache(cache_dir: Path) -> Path | None:
    if (cache_dir / FOLDER_NAME).is_dir():
        return _imdb_root(cache_dir / FOLDER_NAME, f"cache folder '{cache_dir / FOLDER_NAME}'")
    if (cache_dir / ARCHIVE_NAME).is_file():
        return _extract(cache_dir / ARCHIVE_NAME, cache_dir)
    return None


def _extract(archive: Path, cache_dir: Path) -> Path:
    """Extract into a folder named by the archive's checksum, so a different archive never reuses it."""
    digest = sha256_file(archive)
    folder = extract_archive(archive, cache_dir / "extracted" / digest[:16], digest)
    return _imdb_root(folder, f"archive '{archive}'")


def _imdb_root(folder: Path, what: str) -> Path:
    """`folder` itself or its `aclImdb` child, whichever has the official layout."""
    for candidate in (folder, folder / FOLDER_NAME):
        if all((candidate / split / label).is_dir() for split in SPLITS for label, _ in LABELS):
            return candidate
    raise UserError(f"{what} does not have the IMDB layout {LAYOUT}; give the official archive or its extracted folder")


def read_split(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Raw review texts and labels of one split, negatives then positives, each in sorted file order."""
    texts: list[str] = []
    labels: list[int] = []
    for name, label in LABELS:
        files = _review_files(root / split / name)
        if not files:
            raise UserError(f"'{root / split / name}' has no .txt reviews; give the complete IMDB archive ({LAYOUT})")
        texts.extend(file.read_text(encoding="utf-8", errors="replace") for file in files)
        labels.extend([label] * len(files))
    return texts, labels


def _review_files(folder: Path) -> list[Path]:
    return [folder / name for name in sorted(entry.name for entry in os.scandir(folder) if entry.name.endswith(".txt"))]


def source_fingerprint(root: Path) -> str:
    """Identifies the data: the archive's sha256 if `root` came from `extract_archive`, else a hash of
    the review files' names, sizes and modification times."""
    archive_sha256 = source_sha256(root.parent)
    if archive_sha256 is not None:
        return f"archive-sha256:{archive_sha256}"
    digest = hashlib.sha256()
    for split in SPLITS:
        for name, _ in LABELS:
            for file in _review_files(root / split / name):
                stat = file.stat()
                digest.update(f"{split}/{name}/{file.name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return f"folder-sha256:{digest.hexdigest()}"


@dataclass(frozen=True)
class EncodedSplit:
    tokens: np.ndarray  # int64 [N, max_len], 0 = padding
    lengths: np.ndarray  # int64 [N], kept tokens per review (0 for an empty review)
    labels: np.ndarray  # int64 [N], 1 = positive


@dataclass(frozen=True)
class EncodedImdb:
    train: EncodedSplit
    test: EncodedSplit
    vocab: Vocabulary  # built from the training split only; the embedding needs len(vocab) rows


def load_encoded_imdb(root: Path, settings: TextSettings, cache_dir: Path) -> EncodedImdb:
    """Both splits encoded with `settings`, from the cache in `cache_dir/encoded` if it matches, else built and cached.

    The cache file is keyed by the source fingerprint and every setting; a damaged cache file is rebuilt.
    Builds hold the file's lock, so of several processes needing the same file one builds it and the
    others wait and load it.
    """
    path = cache_dir / "encoded" / f"imdb-{_cache_key(root, settings)}.npz"
    seen = _identity(path)
    cached = _load_cache(path)
    if cached is not None:
        return cached
    with exclusive_lock(path):
        if _identity(path) != seen:  # written by the process we waited for
            cached = _load_cache(path)
            if cached is not None:
                return cached
        log.info("encoding IMDB reviews from %s (cached as %s)", root, path)
        data = _build(root, settings)
        _save_cache(path, data)
    return data


def _identity(path: Path) -> tuple[int, int, int] | None:
    """Tells whether a file was replaced: every write renames a new file into place."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _cache_key(root: Path, settings: TextSettings) -> str:
    key = {"format": _CACHE_FORMAT, "source": source_fingerprint(root), "settings": asdict(settings)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _build(root: Path, settings: TextSettings) -> EncodedImdb:
    train_texts, train_labels = read_split(root, "train")
    test_texts, test_labels = read_split(root, "test")
    vocab = Vocabulary.build(train_texts, settings.vocab_size, settings.tokenizer())

    def encoded(texts: list[str], labels: list[int]) -> EncodedSplit:
        tokens, lengths = encode(texts, vocab, settings.max_len, settings.truncate, settings.pad)
        return EncodedSplit(tokens, lengths, np.asarray(labels, dtype=np.int64))

    return EncodedImdb(encoded(train_texts, train_labels), encoded(test_texts, test_labels), vocab)


def _save_cache(path: Path, data: EncodedImdb) -> None:
    """Write via a temporary file and rename, so a reader never sees a half-written cache."""
    # Ids are stored narrow (uint16 up to 65,536 words: a 4x smaller file); loading widens them to int64.
    store_dtype = np.uint16 if len(data.vocab) <= np.iinfo(np.uint16).max + 1 else np.int32
    arrays = {"vocab": np.frombuffer(json.dumps(data.vocab.to_dict()).encode(), dtype=np.uint8)}
    for split in SPLITS:
        encoded: EncodedSplit = getattr(data, split)
        arrays[f"{split}_tokens"] = encoded.tokens.astype(store_dtype)
        arrays[f"{split}_lengths"] = encoded.lengths
        arrays[f"{split}_labels"] = encoded.labels
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _load_cache(path: Path) -> EncodedImdb | None:
    """The cached arrays, or None if there is no cache file or it cannot be read completely."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            vocab = Vocabulary.from_dict(json.loads(npz["vocab"].tobytes()))
            train, test = (_cached_split(npz, split) for split in SPLITS)
    except Exception as e:  # noqa: BLE001 -- whatever the damage, the remedy is the same: rebuild
        log.warning("encoded cache %s is unreadable (%s: %s); rebuilding it", path, type(e).__name__, e)
        return None
    return EncodedImdb(train, test, vocab)


def _cached_split(npz: np.lib.npyio.NpzFile, split: str) -> EncodedSplit:
    tokens = npz[f"{split}_tokens"].astype(np.int64)
    lengths, labels = npz[f"{split}_lengths"], npz[f"{split}_labels"]
    if tokens.ndim != 2 or not lengths.shape == labels.shape == (len(tokens),):
        raise ValueError(f"inconsistent shapes for {split}: {tokens.shape}, {lengths.shape}, {labels.shape}")
    return EncodedSplit(tokens, lengths, labels)
