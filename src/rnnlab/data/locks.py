"""An exclusive lock between processes, so the jobs of a parallel sweep build a shared cache once.

Each build of a cache entry `<target>` holds `<target>.lock` (an advisory `flock`), and every builder
writes `<target>` through hidden temporary files `.<target name>.*.part` renamed into place. The lock
holder is then the only process that may write those temporary files, so any it finds on entry were
left by a killed process and are removed.

The lock file is deleted on release, so a finished cache holds no lock files; an acquirer that finds
the file it locked deleted or replaced in the meantime opens the current one and locks again.

Fallback: without `fcntl` (Windows) or on a file system that refuses `flock`, there is no lock.
Writes stay atomic, so parallel jobs may then both build the same entry, but never corrupt it.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rnnlab.errors import UserError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)


@contextmanager
def exclusive_lock(target: Path) -> Iterator[None]:
    """Hold the lock of `target` for the block, waiting (with a log message) while another process has it.

    Check again inside the block whether `target` is still missing: the previous holder may have built it.
    """
    lock_path = target.with_name(f"{target.name}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(lock_path, target)
    except OSError as e:  # the first write of every build: an unwritable cache fails here
        raise UserError(
            f"cannot write to the data cache folder {lock_path.parent} ({e.strerror or e}); make it writable "
            "or set data.cache_dir (or $RNNLAB_DATA_DIR) to another folder"
        ) from None
    if fd is None:
        yield
        return
    try:
        _remove_leftovers(target)
        yield
    finally:
        lock_path.unlink(missing_ok=True)  # before closing, i.e. while still holding the lock
        os.close(fd)


def _acquire(lock_path: Path, target: Path) -> int | None:
    """A descriptor holding an exclusive lock on the file now at `lock_path`, or None if locks are unavailable."""
    if fcntl is None:
        return None
    announced = False
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd):
                if not announced:
                    log.info("waiting for another rnnlab process building %s…", target)
                    announced = True
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as e:  # the file system does not support flock
            os.close(fd)
            lock_path.unlink(missing_ok=True)
            log.warning(
                "file locks do not work in %s (%s); parallel jobs may build %s twice (never corrupt it)",
                lock_path.parent, e, target.name,
            )
            return None
        except BaseException:  # e.g. Ctrl-C while waiting
            os.close(fd)
            raise
        if _is_current(fd, lock_path):
            return fd
        os.close(fd)  # the previous holder deleted that file on release: lock the current one


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_current(fd: int, lock_path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), lock_path.stat())
    except FileNotFoundError:
        return False


def _remove_leftovers(target: Path) -> None:
    for leftover in target.parent.glob(f".{target.name}.*.part"):
        log.info("removing %s, left by an interrupted build", leftover)
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
