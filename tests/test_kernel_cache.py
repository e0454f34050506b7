"""The kernel cache loads only whole builds of its own, rebuilds what it cannot trust, and finds its compiler
and folder as a user writes them. Loads that could crash run in a subprocess, so that a crash fails the test
instead of ending pytest."""

from __future__ import annotations

import hashlib
import logging
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnlab.kernels import compiled
from rnnlab.kernels.fused import fused_recurrence

# In a fresh process: the kernels load, and a forward on them matches nn.GRU.
FORWARD = """
import torch
from torch import nn
from rnnlab.kernels import compiled
from rnnlab.kernels.fused import fused_recurrence
assert compiled.kernels() is not None and compiled.usable(torch.zeros(1))
module, x = nn.GRU(3, 4, batch_first=True), torch.randn(2, 5, 3)
torch.testing.assert_close(fused_recurrence(module, "gru", x, None)[0], module(x)[0])
print("ok")
"""


@pytest.fixture(scope="module")
def good_build() -> Path:
    """A sealed build for this machine's default compiler (the one the other tests loaded)."""
    compiler = compiled.compiler_command()
    if compiler is None or compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    return compiled._build(compiler)


@pytest.fixture
def kernel_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty kernel folder for this test, the kernels loaded afresh from it, and the usual ones after."""
    folder = tmp_path / "kernels"
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(folder))
    compiled.kernels.cache_clear()
    yield folder
    compiled.kernels.cache_clear()


def cached(good_build: Path, folder: Path, contents: bytes) -> Path:
    """`contents` where the cache looks for the default compiler's build."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / good_build.name
    target.write_bytes(contents)
    return target


def sealed_bytes(contents: bytes) -> bytes:
    """`contents` with a seal of its own, as a build of ours ends."""
    return contents + compiled.SEAL + hashlib.sha256(contents).digest()


def foreign_library(tmp_path: Path) -> bytes:
    """A valid shared library without the kernels."""
    source, built = tmp_path / "other.c", tmp_path / "other.so"
    source.write_text("int unrelated(void) { return 0; }\n")
    subprocess.run([*compiled.compiler_command(), "-shared", "-fPIC", "-o", str(built), str(source)], check=True)
    return built.read_bytes()


def test_a_truncated_library_is_rebuilt_not_loaded(good_build: Path, kernel_dir: Path) -> None:
    """dlopen of a truncated library (a full disk, a killed copy) died of SIGBUS."""
    target = cached(good_build, kernel_dir, good_build.read_bytes()[: good_build.stat().st_size // 2])
    done = subprocess.run([sys.executable, "-c", FORWARD], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert compiled.sealed(target)
    assert [p.name for p in kernel_dir.iterdir()] == [target.name]  # rebuilt in place, no leftovers


def test_a_library_without_the_kernels_is_rebuilt(good_build: Path, kernel_dir: Path, tmp_path: Path) -> None:
    """A valid ELF without the kernels' functions at the cache's key raised AttributeError from every forward."""
    target = cached(good_build, kernel_dir, foreign_library(tmp_path))
    assert compiled.kernels() is not None
    assert compiled.sealed(target) and hasattr(compiled.kernels(), "rnnlab_lstm_forward")


def test_a_sealed_library_without_the_kernels_falls_back_to_the_python_loops(
        good_build: Path, kernel_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cached(good_build, kernel_dir, sealed_bytes(foreign_library(tmp_path)))
    with caplog.at_level(logging.WARNING):
        assert compiled.kernels() is None
    assert "has no function rnnlab_" in caplog.text and "Python time loop" in caplog.text
    module, x = nn.LSTM(3, 4, batch_first=True), torch.randn(2, 5, 3)
    torch.testing.assert_close(fused_recurrence(module, "lstm", x, None)[0], module(x)[0])


def test_a_library_the_loader_refuses_is_rebuilt(good_build: Path, kernel_dir: Path) -> None:
    """Once loading failed, the cached file stayed, and every later process ran the slow Python loops."""
    target = cached(good_build, kernel_dir, sealed_bytes(b"not a shared library"))
    assert compiled.kernels() is not None
    assert compiled.sealed(target) and target.stat().st_size > 1000


def test_a_compiler_command_with_arguments_builds(kernel_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`CC="ccache gcc"` was run as one program name ("No such file"): split as a shell would."""
    compiler = compiled.compiler_command()
    if compiler is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    monkeypatch.setenv("CC", shlex.join([*compiler, "-pipe"]))
    assert compiled.kernels() is not None
    (built,) = kernel_dir.glob("recurrence-*.so")
    assert compiled.sealed(built)


def test_an_empty_kernel_dir_variable_means_the_default(good_build: Path, kernel_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`RNNLAB_KERNEL_DIR=""` built into the working folder, and then dlopen looked the bare name up elsewhere."""
    cache = tmp_path / "cache"
    cached(good_build, cache / "rnnlab" / "kernels", good_build.read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", "")
    assert compiled.kernels() is not None
    assert list(work.iterdir()) == []


def test_a_relative_kernel_dir_is_taken_from_the_working_folder(good_build: Path, kernel_dir: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cached(good_build, tmp_path / "relative", good_build.read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", "relative")
    assert compiled.kernels() is not None
    assert compiled.kernel_dir() == tmp_path / "relative"



def test_an_unparsable_compiler_command_falls_back_to_the_python_loops(
        kernel_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CC", 'gcc "-O2')
    with caplog.at_level(logging.WARNING):
        assert compiled.kernels() is None
    assert "$CC is not a command" in caplog.text and "Python time loop" in caplog.text
