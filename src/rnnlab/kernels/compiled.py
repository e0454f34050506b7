"""The fused recurrence with its time loops compiled from recurrence_kernels.c, built once per machine.

The Python loops in python_loops.py make a handful of torch calls per time step; at the tutorial shapes
(64 rows, 64 units) each call costs more in dispatch than in arithmetic. The C file runs each pass's
loop in one call, split over torch's OpenMP threads, reading and writing time-major tensors in place
(the rows of one step side by side in memory). The layer's outputs are handed back as a batch-first view
of them, so a stacked layer reads its input without a copy.

It is compiled with the system's C compiler (`$CC`, split as a shell would: `ccache gcc` works; else `cc`)
on first use, for this CPU (`-march=native`), into `$RNNLAB_KERNEL_DIR` (unset or empty: `~/.cache/rnnlab/kernels`),
keyed by source, compiler command, flags and CPU, so a home folder shared by different machines holds one
build per CPU type. Built on first use rather than at install time because `-march=native` must describe
the CPU that runs it (an install on a shared home or a wheel would carry another machine's instructions),
and an editable install would not rebuild after the C file changes; the key here does.

The cache trusts no file it did not seal: each build ends with a SHA-256 of the library (dlopen ignores
bytes past the ELF's contents), checked before dlopen, since dlopen of a truncated library dies of SIGBUS.
A file that fails the check is rebuilt (into a temporary file, then renamed over it: concurrent builders
each publish a whole file), and so is one the loader refuses. Without a compiler, or if the build fails,
the Python loops run instead (same results, slower), said once in the log.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnlab.kernels.cpu_flags import bf16_matrix_units, openmp_runtime
from rnnlab.kernels.python_loops import CELLS

SOURCE = Path(__file__).with_name("recurrence_kernels.c")
log = logging.getLogger(__name__)


def kernel_dir() -> Path:
    """Where builds are kept, absolute (dlopen looks a bare file name up on the library path, not here)."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnnlab" / "kernels"
    return Path(os.environ.get("RNNLAB_KERNEL_DIR") or default).absolute()


def compiler_command() -> list[str] | None:
    """`$CC` as a shell splits it (a compiler may come with arguments), else `cc` or `gcc` found on PATH."""
    try:
        command = shlex.split(os.environ.get("CC", ""))
    except ValueError as e:  # an unclosed quote
        raise OSError(f"$CC is not a command ({e})") from e
    if command:
        return command
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


def _cpu_description() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    text = cpuinfo.read_text() if cpuinfo.is_file() else ""
    lines = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features"))]
    return platform.machine() + "\n" + "\n".join(sorted(set(lines)))


@lru_cache(maxsize=1)
def machine_key() -> str:
    """A short name for this CPU type (model and flags), for caches of what was measured or built on it."""
    return hashlib.sha256(_cpu_description().encode()).hexdigest()[:12]


def _flag_sets() -> list[list[str]]:
    """Compiler flags to try, fastest first: tuned for this CPU, then portable."""
    native = ["-march=native"] + (["-mprefer-vector-width=512"] if platform.machine() in ("x86_64", "AMD64") else [])
    return [["-O3", *native], ["-O3"]]


SEAL = b"rnnlab-kernels-sha256:"  # then the SHA-256 of everything before it, at the end of every build


def sealed(path: Path) -> bool:
    """Whether `path` ends with the seal of its own contents: a whole build of ours, safe to dlopen."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    body, seal = data[: -len(SEAL) - 32], data[-len(SEAL) - 32 :]
    return seal[: len(SEAL)] == SEAL and hashlib.sha256(body).digest() == seal[len(SEAL) :]


def library_path(compiler: list[str], flags: list[str]) -> Path:
    """Where the build of this source with `compiler` and `flags` for this CPU is kept."""
    key = hashlib.sha256(b"\0".join([SOURCE.read_bytes(), shlex.join(compiler).encode(), " ".join(flags).encode(),
                                     _cpu_description().encode()])).hexdigest()[:16]
    return kernel_dir() / f"recurrence-{key}.so"


def _build(compiler: list[str], again: bool = False) -> Path:
    """The compiled library for this CPU, built now unless a sealed build with the same key exists (`again`:
    built anyway)."""
    errors = []
    for flags in _flag_sets():
        target = library_path(compiler, flags)
        if not again and sealed(target):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as folder:
            built = Path(folder) / target.name
            done = subprocess.run([*compiler, *flags, "-pthread", "-shared", "-fPIC", "-o", str(built), str(SOURCE)],
                                  capture_output=True, text=True)
            if done.returncode == 0:
                digest = hashlib.sha256(built.read_bytes()).digest()
                with built.open("ab") as library:
                    library.write(SEAL + digest)
                os.replace(built, target)  # atomic: concurrent builders each publish a whole file
                return target
            errors.append(f"{shlex.join(compiler)} {' '.join(flags)}: {done.stderr.strip()[-300:]}")
    raise OSError("; ".join(errors))


def _declare(library: ctypes.CDLL, path: Path) -> ctypes.CDLL:
    """`library` (loaded from `path`) with every function of SIGNATURES typed; OSError if it lacks one."""
    for name, (restype, argtypes) in SIGNATURES.items():
        if not hasattr(library, name):
            raise OSError(f"{path} has no function {name}")
        function = getattr(library, name)
        function.restype, function.argtypes = restype, argtypes
    return library


_int, _ptr = ctypes.c_int, ctypes.c_void_p
_DIMS = [_int] * 5 + [_ptr] * 2  # B, T, D, H, bf16 per-step products, lengths, order


def _pass(tensors: int, flag: bool = False) -> tuple[type, list]:
    """A time-loop pass: its dims, `tensors` buffers, the `fresh` flag of a backward pass, the thread count."""
    return _int, [*_DIMS, *[_ptr] * tensors, *([_int] if flag else []), _int]


# Every C function's (restype, argtypes), as recurrence_kernels.c declares it: set on the library when it loads.
SIGNATURES: dict[str, tuple[type | None, list]] = {
    "rnnlab_set_openmp": (None, [_ptr] * 3),
    "rnnlab_amx_init": (_int, []),
    "rnnlab_rnn_forward": _pass(7),
    "rnnlab_rnn_backward": _pass(7, flag=True),
    "rnnlab_gru_forward": _pass(9),
    "rnnlab_gru_backward": _pass(9, flag=True),
    "rnnlab_lstm_forward": _pass(10),
    "rnnlab_lstm_backward": _pass(11, flag=True),
    "rnnlab_embedding_backward": (None, [_int, _int, _ptr, ctypes.c_int64, _ptr, _int, _ptr, _int]),
}


@lru_cache(maxsize=1)
def kernels() -> ctypes.CDLL | None:
    """The loaded library with torch's OpenMP runtime handed over, or None (reason logged once)."""
    try:
        compiler = compiler_command()
        if compiler is None:
            raise OSError("no C compiler found (set $CC or install gcc/clang)")
        path = _build(compiler)
        try:
            library = ctypes.CDLL(str(path))
        except OSError:  # a sealed build the loader refuses (another machine's C library, say): built again
            library = ctypes.CDLL(str(_build(compiler, again=True)))
        _declare(library, path)
    except OSError as e:
        log.warning("compiled recurrence kernels unavailable (%s); the fused recurrence runs its Python time "
                    "loop instead (same results, slower)", e)
        return None
    runtime = openmp_runtime()
    names = ("GOMP_parallel", "omp_get_thread_num", "omp_get_num_threads")
    addresses = [ctypes.cast(getattr(runtime, name), ctypes.c_void_p) for name in names] if runtime else [None] * 3
    library.rnnlab_set_openmp(*addresses)
    return library


@lru_cache(maxsize=1)
def amx_tiles() -> bool:
    """Whether the compiled loops can multiply on AMX tiles here: the CPU has AMX-BF16 and Linux lets this
    process use them (asked once, as oneDNN asks)."""
    library = kernels()
    return library is not None and library.rnnlab_amx_init() == 1


def usable(x: Tensor) -> bool:
    """Whether the compiled loops can run on x: fp32 on the CPU, and the library built."""
    return x.device.type == "cpu" and x.dtype == torch.float32 and kernels() is not None


@lru_cache(maxsize=16)
def _full_rows(batch: int, steps: int) -> tuple[Tensor, Tensor]:
    return torch.full((batch,), steps, dtype=torch.int32), torch.arange(batch, dtype=torch.int32)


def check_lengths(lengths: Tensor, batch: int, steps: int) -> Tensor:
    """`lengths`, if it holds one value in [1, steps] per row (both recurrences read them unchecked)."""
    if lengths.shape != (batch,) or bool((lengths < 1).any()) or bool((lengths > steps).any()):
        raise ValueError(f"lengths must be {batch} values in [1, {steps}], got {lengths.tolist()}")
    return lengths


def _rows(lengths: Tensor | None, batch: int, steps: int) -> tuple[Tensor, Tensor, bool]:
    """(real steps per row, rows longest first, whether every row is full) as the kernels read them."""
    if lengths is None:
        return (*_full_rows(batch, steps), True)
    lens = check_lengths(lengths.to(device="cpu", dtype=torch.int32).contiguous(), batch, steps)
    order = torch.argsort(lens, descending=True, stable=True).to(torch.int32)
    return lens, order, bool((lens == steps).all())


class Loop(NamedTuple):
    """What the kernels read besides the tensors."""

    lengths: Tensor  # real steps per row, int32
    order: Tensor  # the rows by length, longest first, int32
    products: torch.dtype  # of the big products: bf16 ones have the kernels read and write bf16 buffers

    @property
    def bf16_steps(self) -> bool:
        """Whether the per-step products run in bf16 too, on AMX tiles."""
        return self.products == torch.bfloat16 and amx_tiles()


def _pointer(tensor: Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if tensor is None else tensor.data_ptr())


def _call(function: str, loop: Loop, hidden: int, *tensors: Tensor | None, flag: int | None = None) -> None:
    """`function(B, T, D, H, bf16_steps, lengths, order, *tensors[, flag], threads)`; the first tensor is
    [T, B, D, *], None passes NULL."""
    given = [t for t in tensors if t is not None]
    if any(t.dtype not in (torch.float32, torch.bfloat16) or not t.is_contiguous() for t in given):
        raise TypeError(f"{function} takes contiguous float32/bf16 tensors (it reads raw memory), got "
                        f"{[(t.dtype, t.stride()) for t in given]}")
    steps, batch, directions = given[0].shape[:3]
    status = getattr(kernels(), function)(batch, steps, directions, hidden, int(loop.bf16_steps),
                                          *map(_pointer, (loop.lengths, loop.order, *tensors)),
                                          *(() if flag is None else (flag,)), torch.get_num_threads())
    if status != 0:
        raise MemoryError(f"{function}: out of memory")


Allocate = Callable[..., Tensor]


def _gradient_buffers(shape: tuple[int, ...], loop: Loop, new: Allocate) -> tuple[Tensor | None, Tensor | None, Tensor]:
    """Where backward writes the gate gradients [T, B, D, width]: fp32 `grads`, or `grads_low` in bf16 when
    the big products read them in bf16 (no cast pass); and `sums` [D, B, width], their sums over steps."""
    steps, batch, directions, width = shape
    sums = torch.zeros(directions, batch, width)
    if loop.products == torch.bfloat16:
        return None, new(*shape, dtype=torch.bfloat16), sums
    return new(*shape), None, sums


def _written(grads: Tensor | None, grads_low: Tensor | None, sums: Tensor) -> tuple[Tensor, Tensor]:
    """After backward: the gate gradients, in whichever buffer it wrote, and the bias gradients [D, width]."""
    return grads if grads is not None else grads_low, sums.sum(1)


def _state(initial: tuple[Tensor, ...], kind: int) -> Tensor | None:
    """Initial state `kind` (0: h0, 1: c0) [D, B, H], None when not given (zeros)."""
    return initial[kind] if len(initial) > kind else None


def _rnn_forward(gates: Tensor, proj_low: Tensor | None, out: Tensor, out_low: Tensor | None, w_hh: Tensor,
                 bias: Tensor, b_hh: Tensor, loop: Loop, new: Allocate, initial: tuple[Tensor, ...]) -> tuple:
    _call("rnnlab_rnn_forward", loop, w_hh.shape[-1], gates, proj_low, out, out_low, w_hh, bias, _state(initial, 0))
    return ()


def _rnn_backward(g: Tensor, fresh: bool, out: Tensor, w_hh: Tensor, saved: tuple, loop: Loop, new: Allocate,
                  dh0: Tensor | None, carry: Tensor | None):
    dpre, dpre_low, sums = _gradient_buffers(out.shape, loop, new)
    _call("rnnlab_rnn_backward", loop, w_hh.shape[-1], out, g, dpre, dpre_low, sums, w_hh, dh0, flag=fresh)
    d, db = _written(dpre, dpre_low, sums)
    return d, d, db, db


def _gru_forward(gates: Tensor, proj_low: Tensor | None, out: Tensor, out_low: Tensor | None, w_hh: Tensor,
                 bias: Tensor, b_hh: Tensor, loop: Loop, new: Allocate, initial: tuple[Tensor, ...]) -> tuple:
    hid = w_hh.shape[-1]
    gh = torch.empty_like(gates)  # read back only at real steps
    _call("rnnlab_gru_forward", loop, hid, gates, proj_low, gh, out, out_low, w_hh, bias, b_hh[:, :hid].contiguous(),
          _state(initial, 0))
    return (gh,)


def _gru_backward(g: Tensor, fresh: bool, out: Tensor, w_hh: Tensor, saved: tuple, loop: Loop, new: Allocate,
                  dh0: Tensor | None, carry: Tensor | None):
    (gates, gh) = saved
    hid = w_hh.shape[-1]
    grads, grads_low, sums = _gradient_buffers((*gates.shape[:3], 4 * hid), loop, new)  # [dn_h, dr, dz, dn_i]
    _call("rnnlab_gru_backward", loop, hid, gates, gh, out, g, grads, grads_low, sums, w_hh, dh0, flag=fresh)
    d, db = _written(grads, grads_low, sums)
    return d[..., hid:], d[..., : 3 * hid], db[:, hid:], db[:, : 3 * hid]


def _lstm_forward(gates: Tensor, proj_low: Tensor | None, out: Tensor, out_low: Tensor | None, w_hh: Tensor,
                  bias: Tensor, b_hh: Tensor, loop: Loop, new: Allocate, initial: tuple[Tensor, ...]) -> tuple:
    """Saves (cell states [T, B, D, H], their tanh, c0 or None): the cell states first, where c_n is read."""
    cells, tanh_c = torch.empty_like(out), torch.empty_like(out)  # read back only at real steps
    c0 = _state(initial, 1)
    _call("rnnlab_lstm_forward", loop, w_hh.shape[-1], gates, proj_low, out, out_low, cells, tanh_c, w_hh, bias,
          _state(initial, 0), c0)
    return cells, tanh_c, c0


def _lstm_backward(g: Tensor, fresh: bool, out: Tensor, w_hh: Tensor, saved: tuple, loop: Loop, new: Allocate,
                   dh0: Tensor | None, carry: Tensor | None):
    gates, cells, tanh_c, c0 = saved
    grads, grads_low, sums = _gradient_buffers(gates.shape, loop, new)
    _call("rnnlab_lstm_backward", loop, w_hh.shape[-1], gates, cells, tanh_c, g, grads, grads_low, sums, w_hh, c0,
          dh0, carry, flag=fresh)
    d, db = _written(grads, grads_low, sums)
    return d, d, db, db


# Per cell: forward(gates, proj_low, out, out_low, w_hh, bias, b_hh, loop, new, initial) -> what backward reads
# besides the gates; backward(g, fresh, out, w_hh, (gates, *saved), loop, new, dh0, carry) -> (dgi, dgh, db_ih,
# db_hh), writing dL/dh0 into dh0 (if not None) and, for LSTM, dL/dc0 into carry, which held dL/d(c_n).
PASSES = {"rnn": (_rnn_forward, _rnn_backward), "gru": (_gru_forward, _gru_backward),
          "lstm": (_lstm_forward, _lstm_backward)}


def _state_rows(lens: Tensor, directions: int, last: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Index of [D, B] states in [T, B, D]: where each row's recurrence ends (`last`: h_n, at its last real step
    forward and at time 0 backward), or where it starts (the step that reads h0: time 0 forward, the last real
    step backward)."""
    batch = lens.shape[0]
    ends = [lens.long() - 1, torch.zeros(batch, dtype=torch.long)]
    times = torch.stack((ends if last else ends[::-1])[:directions])
    return times, torch.arange(batch)[None], torch.arange(directions)[:, None]


def _summed_products(a: Tensor, b: Tensor) -> Tensor:
    """a^T b [I, G] in fp32 for a [N, I] and b [N, G] with N long (all steps' rows): the rows split into one
    chunk per thread, each chunk's product on its own thread (one batched product), the chunks then summed.
    MKL parallelises a single product with so long a sum poorly: 3.8 -> 2.8 ms for one of the tutorial
    LSTM's weight gradients at two threads (1.4 -> 1.2 ms in bf16)."""
    chunks = torch.get_num_threads()
    whole = a.shape[0] // chunks * chunks
    if chunks < 2 or whole == 0:
        return (a.t() @ b).float()
    split = (a[:whole].reshape(chunks, -1, a.shape[1]).transpose(1, 2), b[:whole].reshape(chunks, -1, b.shape[1]))
    summed = torch.bmm(*split).sum(0, dtype=torch.float32)
    return summed if whole == a.shape[0] else summed + (a[whole:].t() @ b[whole:]).float()


def _recurrent_weight_grad(dgh: Tensor, out: Tensor, direction: int) -> Tensor:
    """sum over times t and rows b of dgh[t, b]^T h_prev[t, b]: [T, B, G] x [T, B, H] -> [G, H].

    h_prev is the state one step earlier (forward) or later (backward direction), zero past the ends and at
    padded steps (the buffers hold zeros there): the flattened rows shifted by one step, without copies.
    """
    flat_g, flat_h = dgh.flatten(0, 1), out.flatten(0, 1)
    batch = dgh.shape[1]
    if direction == 0:
        return _summed_products(flat_h[:-batch], flat_g[batch:]).t()
    return _summed_products(flat_h[batch:], flat_g[:-batch]).t()


def embedding_grad(grad: Tensor, tokens: Tensor, rows: int, padding_idx: int | None) -> Tensor:
    """The weight gradient [rows, E] of an embedding lookup with output gradient `grad` [*tokens.shape, E]:
    each token's gradient added to its row, in token order, the padding row left at zero."""
    width = grad.shape[-1]
    grad = grad.float().contiguous()
    index = tokens.reshape(-1).to(torch.int64).contiguous()
    out = torch.empty(rows, width)  # the kernel zeroes it, each thread its own rows
    skip = ctypes.c_int64(-1 if padding_idx is None else padding_idx)
    kernels().rnnlab_embedding_backward(index.numel(), width, _pointer(index), skip, _pointer(grad), rows,
                                        _pointer(out), torch.get_num_threads())
    return out


def _products_dtype() -> torch.dtype:
    """The dtype of the big matrix products (input projection, input and weight gradients): bf16 under CPU
    bf16 autocast on a CPU with bf16 matrix units (several times faster there), else fp32. The time loops
    keep states and element-wise updates in fp32; their per-step products take bf16 operands only on AMX
    tiles (`amx_tiles`), under the same autocast."""
    if torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16 and bf16_matrix_units():
        return torch.bfloat16
    return torch.float32


class NativeRecurrence(torch.autograd.Function):
    """x [B, T, I] with weights stacked over directions [D, G, *] and initial states [D, B, H] (h0, then c0 for
    LSTM; none: zeros) -> (outputs [B, T, D * H], h_n [D, B, H], and c_n [D, B, H] for LSTM).

    The outputs are a batch-first view of time-major memory [T, B, D * H], as the kernels write them."""

    @staticmethod
    def forward(ctx, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, lengths: Tensor | None,
                cell_name: str, *initial: Tensor):
        products = _products_dtype()
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not a tensor of zeros
        with torch.autocast("cpu", enabled=False):
            inputs = (t.float() for t in (x, w_ih, w_hh, b_ih, b_hh))
            states = tuple(t.float().contiguous() for t in initial)
            return NativeRecurrence._forward(ctx, *inputs, lengths, cell_name, products, states)

    @staticmethod
    def _forward(ctx, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, lengths: Tensor | None,
                 cell_name: str, products: torch.dtype, initial: tuple[Tensor, ...]):
        batch, steps, inputs = x.shape
        directions, gates_size, hidden = w_hh.shape
        lens, order, full = _rows(lengths, batch, steps)
        loop = Loop(lens, order, products)
        new = torch.empty if full else torch.zeros  # padded steps stay zero
        bias = CELLS[cell_name].input_bias(b_ih, b_hh).contiguous()  # added by the kernels (addmm costs more)
        # time-major rows in the products' dtype, in one pass (none when x is a layer's output in fp32)
        x_low = x.transpose(0, 1).to(products, memory_format=torch.contiguous_format).reshape(steps * batch, inputs)
        proj = (x_low @ w_ih.flatten(0, 1).t().to(products)).view(steps, batch, directions, gates_size)
        if products == torch.float32:
            gates, proj_low = proj, None  # the kernels turn the projections into the gates in place
        else:
            gates, proj_low = new(steps, batch, directions, gates_size), proj  # read in bf16, widened per step
        out = new(steps, batch, directions, hidden)
        # the outputs in bf16 too, written by the kernels, for the recurrent weight gradient's bf16 product
        out_low = None if products == torch.float32 else new(steps, batch, directions, hidden, dtype=products)
        w_hh = w_hh.contiguous()
        saved = PASSES[cell_name][0](gates, proj_low, out, out_low, w_hh, bias, b_hh, loop, new, initial)
        last = _state_rows(lens, directions, last=True)
        ctx.save_for_backward(x_low, w_ih, w_hh, out, *initial)
        ctx.loop, ctx.full, ctx.last, ctx.cell, ctx.saved = loop, full, last, cell_name, (gates, *saved)
        ctx.out_products = out if out_low is None else out_low  # the outputs in the products' dtype
        finals = (out[last], saved[0][last]) if cell_name == "lstm" else (out[last],)  # h_n (and c_n)
        return out.view(steps, batch, directions * hidden).transpose(0, 1), *finals

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs: Tensor | None, d_h_n: Tensor | None, d_c_n: Tensor | None = None):
        with torch.autocast("cpu", enabled=False):
            return NativeRecurrence._backward(ctx, d_outputs, d_h_n, d_c_n)

    @staticmethod
    def _backward(ctx, d_outputs: Tensor | None, d_h_n: Tensor | None, d_c_n: Tensor | None):
        x_low, w_ih, w_hh, out, *initial = ctx.saved_tensors
        steps, batch, directions, hidden = out.shape
        gates_size, inputs = w_hh.shape[1], x_low.shape[1]
        # fresh: only h_n has a gradient (a classifier's last state): g then holds it at each row's last step
        # and nothing else, and the kernels write the earlier steps' gradients instead of adding to them
        fresh = d_outputs is None and d_h_n is not None
        g = torch.zeros_like(out) if d_outputs is None and not fresh else torch.empty_like(out)
        if d_outputs is not None:
            g.view(steps, batch, directions * hidden).copy_(d_outputs.transpose(0, 1))
        if d_h_n is not None:
            g.index_put_(ctx.last, d_h_n.float(), accumulate=not fresh)
        new = torch.empty if ctx.full else torch.zeros
        wants = ctx.needs_input_grad[7:]  # of h0 (and c0)
        dh0 = torch.zeros(directions, batch, hidden) if initial and wants[0] else None
        carry = None  # LSTM: dL/dc, from c_n's gradient back to c0's
        if ctx.cell == "lstm":
            carry = (torch.zeros(directions, batch, hidden) if d_c_n is None
                     else d_c_n.to(torch.float32, memory_format=torch.contiguous_format, copy=True))
        # gate gradients in the products' dtype (the kernels write bf16 ones directly), bias gradients in fp32
        dgi, dgh, db_ih, db_hh = PASSES[ctx.cell][1](g, fresh, out, w_hh, ctx.saved, ctx.loop, new, dh0, carry)
        d_proj = dgi.reshape(steps * batch, directions * gates_size)
        dtype = ctx.loop.products  # .to(dtype) and .float() are no-ops in fp32
        dx = dw_ih = dw_hh = None
        if ctx.needs_input_grad[0]:
            dx = (d_proj @ w_ih.flatten(0, 1).to(dtype)).float().view(steps, batch, inputs).transpose(0, 1)
        if ctx.needs_input_grad[1]:
            dw_ih = _summed_products(x_low, d_proj).t().reshape(directions, gates_size, inputs)
        if ctx.needs_input_grad[2]:
            dw_hh = torch.stack([_recurrent_weight_grad(dgh[:, :, d], ctx.out_products[:, :, d], d)
                                 for d in range(directions)])
            if initial:  # the first steps' products with h0: [D, G, B] x [D, B, H]
                first = dgh[_state_rows(ctx.loop.lengths, directions, last=False)]
                dw_hh += torch.bmm(first.transpose(1, 2).float(), initial[0])
        d_initial = (dh0, carry if len(wants) > 1 and wants[1] else None)[: len(initial)]
        return dx, dw_ih, dw_hh, db_ih, db_hh, None, None, *d_initial
