"""Threads that run the compiled loops and exit leave none of their scratch memory behind.

The loops keep per-thread buffers between passes (the AMX operands of bf16 per-step products, the bf16
backward's step gradients). Freed only with the process, they made a server that starts a thread per
request grow with every thread: by 120-155 MB over the 150 threads of CHURN's backward below (each with an
OpenMP worker of its own), against -3 to 25 MB (the allocator's own noise, run to run) once a thread's exit
frees them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnlab.kernels import compiled
from rnnlab.kernels.cpu_flags import bf16_matrix_units

# In a fresh process: RSS growth (MB) over 150 short-lived threads, each one step of an LSTM under bf16 autocast.
CHURN = """
import sys, threading, torch
from rnnlab.kernels.fused import FusedRecurrentLayer
torch.set_num_threads(2)
backward = sys.argv[1] == "backward"
layer = FusedRecurrentLayer("lstm", 96, 96)
x = torch.randn(512, 5, 96)

def step():
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.set_grad_enabled(backward):
        outputs, _ = layer(x)
    if backward:
        outputs.float().sum().backward()

def churn(threads):
    for _ in range(threads):
        thread = threading.Thread(target=step)
        thread.start()
        thread.join()

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20

churn(30)  # the allocator's arenas and torch's own per-thread state settle
start = rss_mb()
churn(150)
print(rss_mb() - start)
"""


@pytest.mark.parametrize("pass_", ["forward", "backward"])
def test_short_lived_threads_leave_no_kernel_buffers_behind(pass_: str) -> None:
    """forward (no_grad): the per-step products on AMX tiles; backward: the bf16 step gradients."""
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    if pass_ == "forward" and not compiled.amx_tiles():
        pytest.skip("this CPU (or OS) has no AMX tiles: forward keeps no per-thread buffers")
    if pass_ == "backward" and not bf16_matrix_units():
        pytest.skip("this CPU has no bf16 matrix units: backward writes its gradients in place, no buffers")
    done = subprocess.run([sys.executable, "-c", CHURN, pass_], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) < 60, f"RSS grew by {float(done.stdout):.0f} MB over 150 threads"
