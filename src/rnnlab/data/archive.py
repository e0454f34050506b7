"""Fetching and unpacking dataset archives without ever leaving a half-done file that looks complete.

Downloads go to a hidden temporary file next to the target and are renamed into place only after the
size and checksum pass; extraction goes to a hidden temporary folder that gets a completion marker
after every member was written and is then renamed into place. Each is done under the target's lock
(`rnnlab.data.locks`), so parallel jobs needing the same archive download and extract it once.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from email.message import Message
from pathlib import Path
from typing import BinaryIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from rnnlab.data.locks import exclusive_lock
from rnnlab.errors import UserError

log = logging.getLogger(__name__)

CACHE_ENV_VAR = "RNNLAB_DATA_DIR"
# Written last into an extracted folder, so it also marks the extraction complete: the sha256 of the
# archive it came from (a cheap, exact fingerprint).
SOURCE_SHA256_FILE = ".rnnlab-source-sha256"
_CHUNK = 1 << 20
# Network and transfer failures: refused/reset connections, timeouts, HTTP errors, bad URLs.
_TRANSFER_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)
# What a damaged .tar.gz raises while being read.
_CORRUPT_ERRORS = (tarfile.ReadError, tarfile.CompressionError, EOFError, zlib.error, gzip.BadGzipFile)


def default_cache_dir() -> Path:
    """The data cache folder: `$RNNLAB_DATA_DIR` if set, else `~/.cache/rnnlab`."""
    configured = os.environ.get(CACHE_ENV_VAR)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "rnnlab"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's contents."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def download(url: str, dest: Path, sha256: str | None = None, timeout: float = 60.0) -> Path:
    """Download `url` (http(s) or file) to `dest`, checking completeness and, if given, the SHA-256.

    An existing `dest` with that SHA-256 is kept, not downloaded again: this is how a process that waited
    for another one downloading the same file uses its result. Any failure raises UserError and leaves
    nothing new at `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(dest):
        if sha256 is not None and dest.is_file() and sha256_file(dest) == sha256.lower():
            log.info("%s is already downloaded and verified", dest)
            return dest
        log.info("downloading %s to %s", url, dest)
        _download_verified(url, dest, sha256, timeout)
    return dest


def _download_verified(url: str, dest: Path, sha256: str | None, timeout: float) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _transfer(url, out, timeout)
        if sha256 is not None and digest != sha256.lower():
            raise UserError(
                f"download of {url} has sha256 {digest} but {sha256} was expected; "
                "the file is damaged or not the expected one, so retry or fix the checksum"
            )
        os.replace(tmp_name, dest)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _transfer(url: str, out: BinaryIO, timeout: float) -> str:
    """Copy `url` into `out` with a progress bar; return the hex SHA-256 of what was received."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            expected = _content_length(response.headers)
            digest, received = _copy_with_progress(response, out, expected, Path(url).name)
    except _TRANSFER_ERRORS as e:
        raise UserError(f"could not download {url} ({e})") from None
    if expected is not None and received != expected:
        raise UserError(
            f"download of {url} stopped after {received} of {expected} bytes; retry when the connection is stable"
        )
    return digest


def _content_length(headers: Message) -> int | None:
    value = headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _copy_with_progress(source: BinaryIO, out: BinaryIO, total: int | None, label: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    received = 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"downloading {label}", total=total)
        while chunk := source.read(_CHUNK):
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            progress.update(task, advance=len(chunk))
    return digest.hexdigest(), received


def extract_archive(archive: Path, dest: Path, archive_sha256: str | None = None) -> Path:
    """Extract the tar archive `archive` into the folder `dest`, all or nothing.

    A complete `dest` (it has the completion marker, matching `archive_sha256` if given) is returned as
    is; an incomplete one is extracted again. Members that would land outside `dest` (absolute paths,
    `..`, links pointing outside, device files) are refused. The archive's SHA-256 is stored in `dest`
    (see `source_sha256`).
    """
    if _is_extracted(dest, archive_sha256):
        return dest
    with exclusive_lock(dest):
        if not _is_extracted(dest, archive_sha256):  # else the process we waited for has just done it
            _extract_into_place(archive, dest, archive_sha256)
    return dest


def _is_extracted(dest: Path, archive_sha256: str | None) -> bool:
    marker = source_sha256(dest)
    return marker is not None and (archive_sha256 is None or marker == archive_sha256.lower())


def _extract_into_place(archive: Path, dest: Path, archive_sha256: str | None) -> None:
    if dest.exists() or dest.is_symlink():
        log.warning("%s is an incomplete or outdated extraction; extracting %s again", dest, archive)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        else:
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"))
    try:
        log.info("extracting %s to %s", archive, dest)
        _extract_safely(archive, tmp)
        (tmp / SOURCE_SHA256_FILE).write_text((archive_sha256 or sha256_file(archive)).lower())
        _publish(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _extract_safely(archive: Path, target: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(target, filter=_strict_data_filter)
    except tarfile.FilterError as e:
        raise UserError(
            f"archive {archive} has an unsafe member ({e}); refusing to extract it, use a trusted copy"
        ) from None
    except _CORRUPT_ERRORS as e:
        raise UserError(
            f"archive {archive} is corrupt or truncated ({e}); delete it and download again, or give a good copy"
        ) from None


def _strict_data_filter(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo | None:
    """tarfile's "data" filter, except that absolute names are refused rather than made relative."""
    if member.name.startswith(("/", os.sep)):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest_path)


def _publish(tmp: Path, dest: Path) -> None:
    """Rename the finished folder into place; if a concurrent, unlocked process got there first, keep its copy."""
    try:
        os.rename(tmp, dest)
    except OSError:
        if source_sha256(dest) is None:
            raise


def source_sha256(folder: Path) -> str | None:
    """SHA-256 of the archive `folder` was extracted from by `extract_archive`, or None if unknown."""
    marker = folder / SOURCE_SHA256_FILE
    return marker.read_text().strip() if marker.is_file() else None
