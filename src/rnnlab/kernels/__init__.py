"""The compiled CPU recurrence and the CPU settings of a training process, behind one interface.

Nothing here imports the rest of rnnlab. Callers use these names only (checked by import-linter):

- `fused_recurrence(rnn, cell, x, lengths, state)`: one RNN/GRU/LSTM layer with the parameters of an
  `nn.RNNBase`, from an initial `State` to a final one as `nn.*` takes and returns them, time loops compiled
  from recurrence_kernels.c where a C compiler is found (else in Python); `FusedRecurrentLayer` wraps it as
  an nn.Module.
- `kernel_dir()`: where builds (and other per-machine measurements) are kept; `machine_key()`: a short name of
  this CPU type for such caches.
- `usable(x)`: whether the compiled loops run for x; `amx_tiles()`: whether they multiply on AMX tiles.
- `EmbeddingLookup`: an embedding lookup whose weight gradient comes from the compiled code.
- `set_flush_denormal_everywhere`, `bf16_matrix_units`, `reuse_freed_memory`: settings of the process.
"""

from rnnlab.kernels.compiled import amx_tiles, kernel_dir, machine_key, usable
from rnnlab.kernels.cpu_flags import bf16_matrix_units, set_flush_denormal_everywhere
from rnnlab.kernels.embedding import EmbeddingLookup
from rnnlab.kernels.fused import FusedRecurrentLayer, State, fused_recurrence
from rnnlab.kernels.memory import reuse_freed_memory

__all__ = ["EmbeddingLookup", "FusedRecurrentLayer", "State", "amx_tiles", "bf16_matrix_units", "fused_recurrence",
           "kernel_dir", "machine_key", "reuse_freed_memory", "set_flush_denormal_everywhere", "usable"]
