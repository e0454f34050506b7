"""Parallel jobs sharing one data cache: each piece is built once, and leftovers of killed builds are redone."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imdb_fixture import write_imdb_archive
from rnnlab.data import archive, locks
from rnnlab.data.archive import sha256_file, source_sha256
from rnnlab.data.locks import exclusive_lock
from rnnlab.data.text import TextSettings
from rnnlab.errors import UserError
from rnnlab.tasks.classify import imdb as imdb_source
from rnnlab.tasks.classify.imdb import ARCHIVE_NAME, EncodedImdb, load_encoded_imdb, locate_imdb

fcntl = pytest.importorskip("fcntl", reason="inter-process file locks need fcntl (Linux, macOS)")

SETTINGS = TextSettings(vocab_size=30, max_len=8)
WAITING = "waiting for another rnnlab process building"
# stage of the cache -> the function doing its work
STAGES = {
    "download": (archive, "_transfer"),
    "extraction": (archive, "_extract_safely"),
    "encoding": (imdb_source, "_build"),
}


def arrays(data: EncodedImdb) -> dict[str, Any]:
    return {
        f"{split}_{field}": getattr(getattr(data, split), field)
        for split in ("train", "test")
        for field in ("tokens", "lengths", "labels")
    } | {"vocab": data.vocab.words}


def assert_same(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key


def leftovers(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.name.endswith((".lock", ".part"))]


class OnMessage(logging.Handler):
    """Sets `event` when a log message starts with `prefix`."""

    def __init__(self, prefix: str, event: Any) -> None:
        super().__init__()
        self.prefix, self.event = prefix, event

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.event.set()


def counted(work: Callable, stage: str, calls: Counter, hold: Any | None) -> Callable:
    def run(*args: Any, **kwargs: Any) -> Any:
        calls[stage] += 1
        if hold is not None:  # keep the lock until the other job is waiting for it
            hold.wait(timeout=60)
        return work(*args, **kwargs)

    return run


def sweep_job(
    cache: Path, url: str, sha256: str, held_stage: str, held_target: str, other_waits: Any, out: Any
) -> None:
    """One job of a sweep: find IMDB (download, extract) and load it encoded. Reports its work calls and arrays.

    Whoever does the work of `held_stage` first holds on until the other job announces it is waiting.
    """
    try:
        calls: Counter = Counter()
        for stage, (module, name) in STAGES.items():
            hold = other_waits if stage == held_stage else None
            setattr(module, name, counted(getattr(module, name), stage, calls, hold))
        logger = logging.getLogger("rnnlab")
        logger.setLevel(logging.INFO)
        logger.addHandler(OnMessage(f"{WAITING} {held_target}", other_waits))
        data = load_encoded_imdb(locate_imdb(None, cache, url=url, sha256=sha256), SETTINGS, cache)
        out.put((dict(calls), arrays(data)))
    except BaseException:
        out.put(traceback.format_exc())


@pytest.mark.parametrize("held_stage", STAGES)
def test_two_jobs_building_the_same_cache_do_each_step_once(tmp_path: Path, held_stage: str) -> None:
    source = write_imdb_archive(tmp_path / "mirror" / ARCHIVE_NAME)
    cache = tmp_path / "cache"
    held_target = {"download": cache / ARCHIVE_NAME, "extraction": cache / "extracted", "encoding": cache / "encoded"}
    context = multiprocessing.get_context("spawn")
    other_waits, out = context.Event(), context.Queue()
    args = (cache, source.as_uri(), sha256_file(source), held_stage, str(held_target[held_stage]), other_waits, out)
    jobs = [context.Process(target=sweep_job, args=args) for _ in range(2)]
    for job in jobs:
        job.start()
    reports = [out.get(timeout=120) for _ in jobs]
    for job in jobs:
        job.join(timeout=30)
    assert not [report for report in reports if isinstance(report, str)], "a job failed"

    assert other_waits.is_set()  # the jobs did overlap in this step
    (first_calls, first), (second_calls, second) = reports
    assert Counter(first_calls) + Counter(second_calls) == dict.fromkeys(STAGES, 1)  # but every step was done once
    assert_same(first, second)
    assert leftovers(cache) == []
    assert len(list((cache / "encoded").iterdir())) == 1
    fresh = load_encoded_imdb(locate_imdb(None, cache, download=False), SETTINGS, cache)
    assert_same(arrays(fresh), first)  # a valid cache file


def test_waiting_for_the_lock_is_announced_and_ends_on_release(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "cache.npz"
    waiting, inside, leave = threading.Event(), threading.Event(), threading.Event()
    logging.getLogger("rnnlab").addHandler(handler := OnMessage(f"{WAITING} {target}…", waiting))

    def second_holder() -> None:
        with exclusive_lock(target):
            inside.set()
            leave.wait(timeout=60)

    thread = threading.Thread(target=second_holder)
    try:
        with caplog.at_level(logging.INFO, logger="rnnlab"), exclusive_lock(target):
            thread.start()
            assert waiting.wait(timeout=60)
            assert not inside.is_set()
        assert inside.wait(timeout=60)
        # The first holder deleted the lock file on release; the second must hold the current one.
        fd = os.open(target.with_name("cache.npz.lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        leave.set()
        if thread.is_alive():
            thread.join(timeout=60)
        logging.getLogger("rnnlab").removeHandler(handler)
    assert list(tmp_path.iterdir()) == []


def test_partial_extraction_is_redone(tmp_path: Path) -> None:
    archive_path = write_imdb_archive(tmp_path / "imdb.tgz")
    cache = tmp_path / "cache"
    dest = cache / "extracted" / sha256_file(archive_path)[:16]
    (dest / "aclImdb" / "train" / "pos").mkdir(parents=True)  # no completion marker: a build that stopped
    (dest / "aclImdb" / "train" / "pos" / "half-written.txt").write_text("gre")
    killed = cache / "extracted" / f".{dest.name}.x1y2.part"  # the temporary folder of a killed extraction
    (killed / "aclImdb").mkdir(parents=True)

    root = locate_imdb(archive_path, cache)

    assert root == dest / "aclImdb"
    assert source_sha256(dest) == sha256_file(archive_path)
    assert sorted(p.name for p in (root / "train" / "pos").iterdir()) == ["10_8.txt", "2_9.txt", "7_10.txt"]
    assert sorted(p.name for p in (cache / "extracted").iterdir()) == [dest.name]


def test_truncated_cache_and_a_killed_write_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    root = locate_imdb(write_imdb_archive(tmp_path / "imdb.tgz"), cache)
    good = arrays(load_encoded_imdb(root, SETTINGS, cache))
    [cache_file] = (cache / "encoded").iterdir()
    cache_file.write_bytes(cache_file.read_bytes()[:-100])
    (cache / "encoded" / f".{cache_file.name}.k1ll.part").write_bytes(b"PK\x03\x04")

    assert_same(arrays(load_encoded_imdb(root, SETTINGS, cache)), good)

    assert list((cache / "encoded").iterdir()) == [cache_file]
    monkeypatch.setattr(imdb_source, "_build", lambda *a: pytest.fail("the rebuilt cache was not used"))
    assert_same(arrays(load_encoded_imdb(root, SETTINGS, cache)), good)


@pytest.mark.parametrize("why", ["no fcntl", "flock unsupported"])
def test_without_working_file_locks_caches_are_still_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, why: str
) -> None:
    if why == "no fcntl":
        monkeypatch.setattr(locks, "fcntl", None)
    else:
        def refuse(fd: int, operation: int) -> None:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")

        monkeypatch.setattr(fcntl, "flock", refuse)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.WARNING, logger="rnnlab"):
        root = locate_imdb(write_imdb_archive(tmp_path / "imdb.tgz"), cache)
        data = load_encoded_imdb(root, SETTINGS, cache)
    assert data.train.tokens.shape == (6, 8)
    assert leftovers(cache) == []
    assert ("file locks do not work" in caplog.text) == (why == "flock unsupported")


def test_unwritable_cache_folder_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").touch()
    with pytest.raises(UserError, match=r"cannot write to the data cache folder .*a-file.*data\.cache_dir"):
        locate_imdb(write_imdb_archive(tmp_path / "imdb.tgz"), tmp_path / "a-file" / "cache")
