"""Subnormal flushing reaches every thread that computes, also when torch's thread pool already runs."""

from __future__ import annotations

import subprocess
import sys

# In a fresh process: start the 2-thread pool with the flag off, then turn it on the way the runner does,
# and halve a large tensor of the smallest normal floats: every half must become 0, none a subnormal.
SCRIPT = """
import torch
from rnnlab.run.callbacks import configure_torch
torch.set_num_threads(2)
tiny = torch.full((4_000_000,), torch.finfo(torch.float32).tiny)
(tiny * 0.5).sum()                      # the OpenMP pool starts here, without the flag
configure_torch(flush_denormal=True, num_threads=2)
print(int(((tiny * 0.5) != 0).sum()))   # values the CPU did not flush
"""


def test_flushing_subnormals_reaches_every_openmp_thread():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
