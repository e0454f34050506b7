import contextlib
import functools
import hashlib
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from imdb_fixture import write_imdb_archive
from rnnlab.data.archive import (
    SOURCE_SHA256_FILE,
    default_cache_dir,
    download,
    extract_archive,
    sha256_file,
    source_sha256,
)
from rnnlab.errors import UserError


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class CutOff(BaseHTTPRequestHandler):
    """Promises more bytes than it sends, then closes the connection: an interrupted transfer."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"x" * 1000)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler] | functools.partial) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def served_archive(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """URL and sha256 of the fixture archive, served over HTTP."""
    archive = write_imdb_archive(tmp_path / "served" / "aclImdb_v1.tar.gz")
    with serving(functools.partial(QuietFiles, directory=str(archive.parent))) as base:
        yield f"{base}/{archive.name}", sha256_file(archive)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            data = b"payload" if member.isfile() else b""
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RNNLAB_DATA_DIR", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data"
    monkeypatch.delenv("RNNLAB_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "rnnlab"


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == hashlib.sha256(b"abc").hexdigest()


def test_download_over_http_with_checksum(served_archive: tuple[str, str], tmp_path: Path) -> None:
    url, digest = served_archive
    dest = download(url, tmp_path / "cache" / "a.tar.gz", sha256=digest.upper())
    assert sha256_file(dest) == digest
    assert [p.name for p in dest.parent.iterdir()] == ["a.tar.gz"]


def test_checksum_mismatch_leaves_no_file(served_archive: tuple[str, str], tmp_path: Path) -> None:
    url, _ = served_archive
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="sha256"):
        download(url, cache / "a.tar.gz", sha256="0" * 64)
    assert list(cache.iterdir()) == []


def test_http_error_is_a_user_error(served_archive: tuple[str, str], tmp_path: Path) -> None:
    url, _ = served_archive
    with pytest.raises(UserError, match="404"):
        download(url + ".missing", tmp_path / "a.tar.gz")
    assert list(tmp_path.iterdir()) == [tmp_path / "served"]


def test_interrupted_transfer_leaves_no_file(tmp_path: Path) -> None:
    with serving(CutOff) as base, pytest.raises(UserError, match=f"{base}/a.tar.gz"):
        download(f"{base}/a.tar.gz", tmp_path / "a.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="could not download"):
        download(f"http://127.0.0.1:{free_port()}/a.tar.gz", tmp_path / "a.tar.gz", timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_file_url_works(tmp_path: Path) -> None:
    source = write_imdb_archive(tmp_path / "src" / "x.tar.gz")
    dest = download(source.as_uri(), tmp_path / "cache" / "x.tar.gz", sha256=sha256_file(source))
    assert dest.read_bytes() == source.read_bytes()


def test_extract_archive_is_complete_and_records_the_checksum(tmp_path: Path) -> None:
    archive = write_imdb_archive(tmp_path / "a.tar.gz")
    dest = extract_archive(archive, tmp_path / "out" / "a")
    assert (dest / "aclImdb" / "train" / "pos" / "2_9.txt").is_file()
    assert source_sha256(dest) == sha256_file(archive)
    assert [p.name for p in dest.parent.iterdir()] == ["a"]
    assert source_sha256(tmp_path) is None


def test_complete_destination_is_reused(tmp_path: Path) -> None:
    dest = tmp_path / "done"
    dest.mkdir()
    (dest / SOURCE_SHA256_FILE).write_text("ab" * 32)
    assert extract_archive(tmp_path / "does-not-matter.tar.gz", dest) == dest
    assert extract_archive(tmp_path / "does-not-matter.tar.gz", dest, archive_sha256="AB" * 32) == dest


def test_destination_of_another_archive_is_extracted_again(tmp_path: Path) -> None:
    archive = write_imdb_archive(tmp_path / "a.tar.gz")
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / SOURCE_SHA256_FILE).write_text("ab" * 32)
    extract_archive(archive, dest, archive_sha256=sha256_file(archive))
    assert source_sha256(dest) == sha256_file(archive)
    assert (dest / "aclImdb" / "test" / "neg" / "1_1.txt").is_file()


def test_verified_download_is_not_fetched_again(tmp_path: Path) -> None:
    dest = tmp_path / "a.tar.gz"
    dest.write_bytes(b"abc")
    unreachable = f"http://127.0.0.1:{free_port()}/a.tar.gz"
    assert download(unreachable, dest, sha256=hashlib.sha256(b"abc").hexdigest()) == dest
    with pytest.raises(UserError, match="could not download"):  # a file that fails the check is fetched again
        download(unreachable, dest, sha256="0" * 64, timeout=5)


@pytest.mark.parametrize(
    "bad",
    [
        member("../evil"),
        member("ok/../../evil"),
        member("/tmp/evil-absolute"),
        member("ok/link", tarfile.SYMTYPE, "../../evil"),
        member("ok/link", tarfile.SYMTYPE, "/etc/passwd"),
        member("ok/hard", tarfile.LNKTYPE, "../evil"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_members_escaping_the_target_are_refused(tmp_path: Path, bad: tarfile.TarInfo) -> None:
    archive = make_tar(tmp_path / "evil.tar.gz", [member("ok/a.txt"), bad])
    out = tmp_path / "out"
    with pytest.raises(UserError, match="unsafe member"):
        extract_archive(archive, out / "x")
    assert list(out.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_truncated_archive_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    good = write_imdb_archive(tmp_path / "good.tar.gz").read_bytes()
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(good[: len(good) // 2])
    out = tmp_path / "out"
    with pytest.raises(UserError, match="corrupt or truncated"):
        extract_archive(archive, out / "x")
    assert list(out.iterdir()) == []


def test_not_an_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.tar.gz").write_bytes(b"this is not a tar file" * 100)
    with pytest.raises(UserError, match="corrupt or truncated"):
        extract_archive(tmp_path / "junk.tar.gz", tmp_path / "out")
    assert not (tmp_path / "out").exists()
