import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from imdb_fixture import REVIEWS, TEST_ONLY_WORDS, write_imdb_archive, write_imdb_folder
from rnnlab.data.text import OOV_ID, TextSettings
from rnnlab.errors import UserError
from rnnlab.tasks.classify import imdb as imdb_source
from rnnlab.tasks.classify.imdb import load_encoded_imdb, locate_imdb, read_split, source_fingerprint

# ../shared/data beside the repository, as on the developers' machines and in CI
REAL_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_v1.tar.gz"
SETTINGS = TextSettings(vocab_size=30, max_len=8)


def unreachable_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/aclImdb_v1.tar.gz"


def no_download(*args: object) -> None:
    raise AssertionError("must not download")


def test_read_split_orders_files_and_labels(tmp_path: Path) -> None:
    root = write_imdb_folder(tmp_path)
    texts, labels = read_split(root, "train")
    neg, pos = REVIEWS[("train", "neg")], REVIEWS[("train", "pos")]
    assert texts == [neg[name] for name in sorted(neg)] + [pos[name] for name in sorted(pos)]
    assert labels == [0] * len(neg) + [1] * len(pos)


def test_read_split_replaces_invalid_utf8(tmp_path: Path) -> None:
    root = write_imdb_folder(tmp_path)
    (root / "test" / "pos" / "0_9.txt").write_bytes("caf\u00e9 ".encode() + b"\xff ok")
    texts, _ = read_split(root, "test")
    assert "caf\u00e9 \ufffd ok" in texts


def test_empty_label_folder_is_a_user_error(tmp_path: Path) -> None:
    root = write_imdb_folder(tmp_path)
    for file in (root / "test" / "neg").iterdir():
        file.unlink()
    with pytest.raises(UserError, match="no .txt reviews"):
        read_split(root, "test")


@pytest.mark.parametrize("given", ["parent", "aclImdb"])
def test_locate_from_folder(tmp_path: Path, given: str) -> None:
    root = write_imdb_folder(tmp_path / "data")
    path = root if given == "aclImdb" else root.parent
    assert locate_imdb(path, tmp_path / "cache", download=False) == root
    assert not (tmp_path / "cache").exists()


def test_locate_from_archive_extracts_into_cache_once(tmp_path: Path) -> None:
    archive = write_imdb_archive(tmp_path / "dl" / "imdb.tgz")
    root = locate_imdb(archive, tmp_path / "cache")
    assert root.name == "aclImdb" and root.is_relative_to(tmp_path / "cache")
    assert read_split(root, "test")[1] == [0, 0, 1, 1]
    (root / "sentinel").touch()  # gone if the second call extracted again
    assert locate_imdb(archive, tmp_path / "cache") == root
    assert (root / "sentinel").exists()
    assert len(list((tmp_path / "cache" / "extracted").iterdir())) == 1


def test_locate_from_cache_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imdb_source, "download_file", no_download)
    write_imdb_archive(tmp_path / "cache" / "aclImdb_v1.tar.gz")
    root = locate_imdb(None, tmp_path / "cache")
    assert (root / "train" / "pos" / "2_9.txt").is_file()


def test_locate_from_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imdb_source, "download_file", no_download)
    root = write_imdb_folder(tmp_path / "cache")
    assert locate_imdb(None, tmp_path / "cache") == root


def test_locate_downloads_into_cache(tmp_path: Path) -> None:
    source = write_imdb_archive(tmp_path / "mirror" / "aclImdb_v1.tar.gz")
    cache = tmp_path / "cache"
    root = locate_imdb(None, cache, url=source.as_uri(), sha256=imdb_source.sha256_file(source))
    assert (cache / "aclImdb_v1.tar.gz").is_file()
    assert read_split(root, "train")[1] == [0, 0, 0, 1, 1, 1]


def test_missing_path_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="data.path .* does not exist"):
        locate_imdb(tmp_path / "nope.tar.gz", tmp_path / "cache")


def test_wrong_layout_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "data" / "train" / "pos").mkdir(parents=True)
    with pytest.raises(UserError, match=r"layout aclImdb/\{train,test\}/\{pos,neg\}"):
        locate_imdb(tmp_path / "data", tmp_path / "cache")


def test_archive_with_wrong_layout_is_a_user_error(tmp_path: Path) -> None:
    archive = write_imdb_archive(tmp_path / "a.tar.gz", {("train", "pos"): {"1_9.txt": "good"}})
    with pytest.raises(UserError, match="does not have the IMDB layout"):
        locate_imdb(archive, tmp_path / "cache")


def test_truncated_archive_leaves_nothing_that_looks_extracted(tmp_path: Path) -> None:
    good = write_imdb_archive(tmp_path / "good.tar.gz").read_bytes()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "aclImdb_v1.tar.gz").write_bytes(good[:-200])
    for _ in range(2):  # the failed attempt must not turn into a "complete" folder for the next one
        with pytest.raises(UserError, match="corrupt or truncated.*; delete it"):
            locate_imdb(None, cache, download=False)
    assert list((cache / "extracted").iterdir()) == []


def test_nothing_found_and_no_network_says_where_to_put_the_archive(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(UserError) as error:
        locate_imdb(None, cache, url=unreachable_url())
    message = str(error.value)
    assert "could not download" in message and str(cache) in message and "data.path" in message
    assert "\n" not in message
    assert not any(cache.iterdir())


def test_nothing_found_and_download_off(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=f"downloading is off.*{re.escape(str(tmp_path / 'cache'))}.*data.path"):
        locate_imdb(None, tmp_path / "cache", download=False)


def test_load_encoded_builds_vocab_from_train_only(tmp_path: Path) -> None:
    data = load_encoded_imdb(write_imdb_folder(tmp_path), SETTINGS, tmp_path / "cache")
    assert data.train.tokens.shape == (6, 8) and data.test.tokens.shape == (4, 8)
    assert data.train.tokens.dtype == data.test.lengths.dtype == data.test.labels.dtype == np.int64
    assert data.train.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert not set(TEST_ONLY_WORDS) & set(data.vocab.words)
    assert data.vocab.words[:3] == ["<pad>", "<oov>", "the"]
    assert len(data.vocab) == 30
    assert (data.test.tokens == OOV_ID).any()
    assert data.train.lengths.max() == 8 and data.test.lengths.min() > 0


def test_encoded_cache_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_imdb_folder(tmp_path)
    first = load_encoded_imdb(root, SETTINGS, tmp_path / "cache")
    monkeypatch.setattr(imdb_source, "read_split", lambda *a: pytest.fail("cache not used"))
    second = load_encoded_imdb(root, SETTINGS, tmp_path / "cache")
    assert np.array_equal(first.train.tokens, second.train.tokens)
    assert np.array_equal(first.test.lengths, second.test.lengths)
    assert second.vocab.words == first.vocab.words
    assert second.train.tokens.dtype == np.int64
    assert len(list((tmp_path / "cache" / "encoded").iterdir())) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"vocab_size": 31},
        {"max_len": 9},
        {"truncate": "post"},
        {"pad": "pre"},
        {"lowercase": False},
        {"token_pattern": r"[a-z]+"},
    ],
)
def test_changed_setting_rebuilds(tmp_path: Path, change: dict) -> None:
    root = write_imdb_folder(tmp_path)
    load_encoded_imdb(root, SETTINGS, tmp_path / "cache")
    changed = TextSettings(**(SETTINGS.__dict__ | change))
    load_encoded_imdb(root, changed, tmp_path / "cache")
    assert len(list((tmp_path / "cache" / "encoded").iterdir())) == 2


def test_changed_source_changes_the_fingerprint(tmp_path: Path) -> None:
    root = write_imdb_folder(tmp_path / "folder")
    before = source_fingerprint(root)
    (root / "train" / "pos" / "99_9.txt").write_text("new review")
    assert source_fingerprint(root) != before
    from_archive = locate_imdb(write_imdb_archive(tmp_path / "a.tar.gz"), tmp_path / "cache")
    assert source_fingerprint(from_archive) == f"archive-sha256:{imdb_source.sha256_file(tmp_path / 'a.tar.gz')}"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_cache_is_rebuilt(tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_imdb_folder(tmp_path)
    good = load_encoded_imdb(root, SETTINGS, tmp_path / "cache")
    [cache_file] = (tmp_path / "cache" / "encoded").iterdir()
    content = cache_file.read_bytes()
    cache_file.write_bytes(
        {"truncate": content[: len(content) // 2], "garbage": b"\x00junk" * 50, "empty": b""}[damage]
    )
    rebuilt = load_encoded_imdb(root, SETTINGS, tmp_path / "cache")
    assert np.array_equal(rebuilt.train.tokens, good.train.tokens)
    monkeypatch.setattr(imdb_source, "read_split", lambda *a: pytest.fail("cache not rewritten"))
    assert load_encoded_imdb(root, SETTINGS, tmp_path / "cache").vocab.words == good.vocab.words


@pytest.mark.slow
@pytest.mark.skipif(not REAL_ARCHIVE.is_file(), reason=f"real IMDB archive not at {REAL_ARCHIVE}")
def test_real_archive(tmp_path: Path) -> None:
    settings = TextSettings(vocab_size=20_000, max_len=400)
    root = locate_imdb(REAL_ARCHIVE, tmp_path)
    started = time.perf_counter()
    first = load_encoded_imdb(root, settings, tmp_path)
    built = time.perf_counter() - started
    started = time.perf_counter()
    second = load_encoded_imdb(locate_imdb(REAL_ARCHIVE, tmp_path), settings, tmp_path)
    loaded = time.perf_counter() - started
    print(f"first build {built:.1f} s, cached load {loaded:.2f} s")
    assert loaded < 5
    for split in (first.train, first.test):
        assert split.tokens.shape == (25_000, 400)
        assert split.labels.sum() == 12_500
    assert np.array_equal(first.test.tokens, second.test.tokens)
    assert len(first.vocab) == 20_000
    # Untruncated review lengths: median ~174, 90th percentile ~458 tokens.
    lengths = [len(settings.tokenizer()(text)) for text in read_split(root, "train")[0]]
    assert 165 <= np.median(lengths) <= 185 and 440 <= np.percentile(lengths, 90) <= 475
