"""FusedRecurrentLayer against torch's nn.RNN / nn.GRU / nn.LSTM: same outputs, h_n and gradients, with the
time loops compiled (compiled.py, fp32 on the CPU) and in Python (python_loops.py, any dtype, no compiler)."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.kernels import compiled, fused
from rnnlab.kernels.cpu_flags import bf16_matrix_units
from rnnlab.kernels.fused import FusedRecurrentLayer, fused_recurrence

TORCH_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def torch_forward(module: nn.RNNBase, x: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
    """The reference: the torch module on a packed batch, padded back to the full length."""
    if lengths is None:
        outputs, state = module(x)
    else:
        packed, state = module(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        outputs, _ = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
    return outputs, state[0] if isinstance(state, tuple) else state


def random_lengths(rng: random.Random, batch: int, steps: int) -> Tensor:
    """Random lengths in [1, steps] that include a length-1 row and a full-length row."""
    lengths = [rng.randint(1, steps) for _ in range(batch)]
    short, full = rng.sample(range(batch), 2)
    lengths[short], lengths[full] = 1, steps
    return torch.tensor(lengths)


def assert_close(actual: Tensor, expected: Tensor, tol: float, where: str) -> None:
    torch.testing.assert_close(actual, expected, atol=tol, rtol=tol, msg=lambda message: f"{where}: {message}")


def outputs_and_grads(module: nn.Module, run, x: Tensor, lengths: Tensor | None, weights: tuple[Tensor, Tensor]):
    x = x.detach().clone().requires_grad_(x.requires_grad)
    outputs, h_n = run(module, x, lengths)
    loss = (h_n * weights[1]).sum() + (0 if weights[0] is None else (outputs * weights[0]).sum())
    inputs = [x, *module.parameters()] if x.requires_grad else list(module.parameters())
    return outputs, h_n, torch.autograd.grad(loss, inputs)


@pytest.fixture(params=["compiled", "python"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which time loops run: the compiled kernels (where they build) or the Python ones."""
    if request.param == "compiled" and compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    if request.param == "python":
        monkeypatch.setattr(compiled, "usable", lambda x: False)
    return request.param


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-5), (torch.float64, 1e-10)], ids=["fp32", "fp64"])
@pytest.mark.parametrize("variable", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_matches_torch(cell: str, bidirectional: bool, variable: bool, dtype: torch.dtype, tol: float,
                       loops: str) -> None:
    """Property-style: for seeded random shapes, outputs, h_n and every gradient equal torch's."""
    if loops == "compiled" and dtype != torch.float32:
        pytest.skip("the compiled loops run fp32 only (other dtypes take the Python loops)")
    rng = random.Random(f"{cell}-{bidirectional}-{variable}")
    torch.manual_seed(rng.randrange(2**31))
    for draw in range(7):
        batch, steps = rng.randint(2, 6), rng.randint(1 if not variable else 2, 12)
        inputs, hidden = rng.randint(1, 7), rng.randint(1, 7)
        if draw == 5 and dtype == torch.float64:  # larger: fp32 sums of this many terms differ by > 1e-5
            batch, steps, inputs, hidden = rng.randint(10, 20), rng.randint(20, 40), 9, 17
        if draw == 6:  # the compiled loops' full vector tiles (32 columns, 4 rows) and their remainders
            batch, steps, inputs, hidden = rng.randint(9, 21), rng.randint(5, 15), 16, rng.choice([32, 40])
        reference = TORCH_CELLS[cell](inputs, hidden, batch_first=True, bidirectional=bidirectional).to(dtype)
        fused = FusedRecurrentLayer(cell, inputs, hidden, bidirectional).to(dtype)
        fused.load_state_dict(reference.state_dict())
        x = torch.randn(batch, steps, inputs, dtype=dtype)
        if draw == 3:  # a non-contiguous input that does not need a gradient
            x = torch.randn(steps, batch, inputs, dtype=dtype).transpose(0, 1)
        x.requires_grad_(draw != 3)
        lengths = random_lengths(rng, batch, steps) if variable else None
        directions = 2 if bidirectional else 1
        weights = (
            # draws 1 and 4: only h_n has a gradient (a classifier's last state; the kernels' `fresh` path)
            None if draw in (1, 4) else torch.randn(batch, steps, directions * hidden, dtype=dtype),
            torch.randn(directions, batch, hidden, dtype=dtype),
        )

        expected = outputs_and_grads(reference, torch_forward, x, lengths, weights)
        actual = outputs_and_grads(fused, lambda m, x, n: m(x, n), x, lengths, weights)

        shape = dict(batch=batch, steps=steps, inputs=inputs, hidden=hidden, lengths=lengths)
        assert_close(actual[0], expected[0], tol, f"outputs {shape}")
        assert_close(actual[1], expected[1], tol, f"h_n {shape}")
        assert len(actual[2]) == len(expected[2])
        for k, (got, want) in enumerate(zip(actual[2], expected[2])):
            assert_close(got, want, tol, f"gradient {k} {shape}")


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_compiled_loops_give_the_same_bits_on_any_number_of_threads(cell: str) -> None:
    """Rows are split over threads, but each row's arithmetic is the same: what the loops compute (outputs, h_n,
    and the input gradient through time) does not depend on the thread count. (Weight gradients are torch
    matrix products, whose sums over all steps are split differently by its threads.)"""
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 8, 24, bidirectional=True)
    x, lengths = torch.randn(37, 30, 8, requires_grad=True), torch.randint(1, 31, (37,))
    results = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            outputs, h_n = layer(x, lengths)
            results.append([outputs, h_n, *torch.autograd.grad(outputs.sum() + h_n.sum(), [x])])
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))


def test_without_a_compiler_the_python_loops_run(monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(tmp_path / "kernels"))
    compiled.kernels.cache_clear()
    try:
        with caplog.at_level("WARNING"):
            assert compiled.kernels() is None
        assert "Python time loop" in caplog.text
        torch.manual_seed(0)
        layer = FusedRecurrentLayer("gru", 3, 4)
        reference = nn.GRU(3, 4, batch_first=True)
        reference.load_state_dict(layer.state_dict())
        x = torch.randn(2, 5, 3)
        torch.testing.assert_close(layer(x)[0], reference(x)[0])
    finally:
        compiled.kernels.cache_clear()


def test_kernels_are_built_once_per_machine_and_reused(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    monkeypatch.setenv("RNNLAB_KERNEL_DIR", str(tmp_path))
    compiled.kernels.cache_clear()
    try:
        assert compiled.kernels() is not None
        (built,) = tmp_path.glob("recurrence-*.so")
        stamp = built.stat().st_mtime_ns
        compiled.kernels.cache_clear()
        assert compiled.kernels() is not None
        assert [p.name for p in tmp_path.iterdir()] == [built.name]  # no second build, no leftovers
        assert built.stat().st_mtime_ns == stamp
    finally:
        compiled.kernels.cache_clear()


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_gradcheck(cell: str) -> None:
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 3, 2, bidirectional=True).double()
    x = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 1, 3])

    def run(x: Tensor, *params: Tensor) -> tuple[Tensor, Tensor]:
        return torch.func.functional_call(layer, dict(zip(dict(layer.named_parameters()), params)), (x, lengths))

    assert torch.autograd.gradcheck(run, (x, *[p.detach().requires_grad_() for p in layer.parameters()]))


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_state_dict_round_trip(cell: str) -> None:
    fused = FusedRecurrentLayer(cell, 5, 4, bidirectional=True)
    reference = TORCH_CELLS[cell](5, 4, batch_first=True, bidirectional=True)
    shapes = {name: value.shape for name, value in reference.state_dict().items()}
    assert {name: value.shape for name, value in fused.state_dict().items()} == shapes
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 5)
    torch.testing.assert_close(fused(x)[0], torch_forward(reference, x, None)[0])
    bound = 1 / 4**0.5
    assert all(p.abs().max() <= bound for p in fused.parameters())


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_frozen_weights_and_no_grad(cell: str) -> None:
    """Only the gradients that are needed are computed; inference runs without building a graph."""
    torch.manual_seed(0)
    reference = TORCH_CELLS[cell](3, 4, batch_first=True, bidirectional=True).requires_grad_(False)
    fused = FusedRecurrentLayer(cell, 3, 4, bidirectional=True).requires_grad_(False)
    fused.load_state_dict(reference.state_dict())
    x, lengths = torch.randn(3, 5, 3, requires_grad=True), torch.tensor([5, 2, 1])
    (expected,) = torch.autograd.grad(torch_forward(reference, x, lengths)[0].square().sum(), x)
    (actual,) = torch.autograd.grad(fused(x, lengths)[0].square().sum(), x)
    torch.testing.assert_close(actual, expected)
    with torch.no_grad():
        outputs, h_n = fused(x, lengths)
    assert not outputs.requires_grad and not h_n.requires_grad
    torch.testing.assert_close(h_n, torch_forward(reference, x, lengths)[1])


@pytest.mark.parametrize("cell, variable", [("rnn", False), ("gru", True), ("lstm", True)])
def test_learns_to_recall_the_first_input(cell: str, variable: bool) -> None:
    """A tiny model must carry the first input to the end of each (possibly shorter) sequence."""
    torch.manual_seed(0)
    layer, head = FusedRecurrentLayer(cell, 1, 16), nn.Linear(16, 1)
    optimizer = torch.optim.Adam([*layer.parameters(), *head.parameters()], lr=0.02)
    x = torch.randn(64, 8, 1)
    lengths = torch.randint(1, 9, (64,)) if variable else None
    losses = []
    for _ in range(150):
        _, h_n = layer(x, lengths)
        loss = nn.functional.mse_loss(head(h_n[-1]), x[:, 0])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses[::25]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="cell"):
        FusedRecurrentLayer("transformer", 2, 2)
    layer = FusedRecurrentLayer("gru", 2, 2)
    with pytest.raises(ValueError, match="lengths"):
        layer(torch.randn(2, 3, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="lengths"):
        layer(torch.randn(2, 3, 2), torch.tensor([4, 3]))


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_under_bf16_autocast_only_products_may_run_in_bf16(cell: str, loops: str) -> None:
    """States and element-wise updates keep fp32 under autocast. The input projection and the input and
    weight gradients run in bf16 with the compiled loops on a CPU with bf16 matrix units (there several times
    faster), and so do the per-step products on AMX tiles, at bf16's precision; everywhere else the layer
    computes exactly as in fp32."""
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 5, 6, bidirectional=True)
    x, lengths = torch.randn(4, 7, 5, requires_grad=True), torch.tensor([7, 3, 5, 1])
    expected = layer(x, lengths)
    expected_grads = torch.autograd.grad(expected[0].sum(), [x, *layer.parameters()])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = layer(x, lengths)
    actual_grads = torch.autograd.grad(actual[0].sum(), [x, *layer.parameters()])
    in_bf16 = loops == "compiled" and bf16_matrix_units()
    tol = {"atol": 3e-2, "rtol": 3e-2} if in_bf16 else {}
    assert actual[0].dtype == actual[1].dtype == torch.float32
    torch.testing.assert_close(actual[0], expected[0], **tol)
    torch.testing.assert_close(actual[1], expected[1], **tol)
    for got, want in zip(actual_grads, expected_grads, strict=True):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, **tol)
    assert in_bf16 == (not torch.equal(actual[0], expected[0]))


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_per_step_products_on_amx_tiles_match_fp32_at_bf16_precision(cell: str) -> None:
    """Shapes that fill several tiles and leave partial ones (rows, units and gates not multiples of 16 or 32),
    in both directions with ragged lengths: the bf16 time loop stays within bf16 precision of the fp32 one."""
    if not compiled.amx_tiles():
        pytest.skip("this CPU (or OS) has no AMX tiles: the per-step products stay fp32")
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 20, 40, bidirectional=True)
    x = torch.randn(37, 30, 20, requires_grad=True)
    lengths = random_lengths(random.Random(0), 37, 30)
    weights = (torch.randn(37, 30, 80), torch.randn(2, 37, 40))
    run = lambda module, x, lengths: module(x, lengths)  # noqa: E731
    expected = outputs_and_grads(layer, run, x, lengths, weights)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = outputs_and_grads(layer, run, x, lengths, weights)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled, "amx_tiles", lambda: False)
        fp32_steps = outputs_and_grads(layer, run, x, lengths, weights)
    assert not torch.equal(actual[0], fp32_steps[0])  # the per-step products did run in bf16
    wanted = [expected[0], expected[1], *expected[2]]
    for run_ in (actual, fp32_steps):
        for got, want in zip([run_[0], run_[1], *run_[2]], wanted, strict=True):
            # relative to the tensor's scale: bf16 keeps 8 bits, and 30 steps compound the rounding
            assert (got - want).norm() <= 2e-2 * want.norm()


def test_without_bf16_matrix_units_autocast_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CPUs that emulate bf16 (slower than fp32), the compiled layer keeps every product in fp32."""
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    monkeypatch.setattr(compiled, "bf16_matrix_units", lambda: False)
    torch.manual_seed(0)
    layer = FusedRecurrentLayer("lstm", 5, 6)
    x = torch.randn(4, 7, 5)
    expected = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = layer(x)
    assert torch.equal(actual[0], expected[0]) and torch.equal(actual[1], expected[1])


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_nan_in_the_weights_reaches_the_outputs(cell: str, loops: str) -> None:
    """A diverged model must show NaN, as nn.* does, so that the runner can stop and say so."""
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 5, 6)
    with torch.no_grad():
        layer.weight_ih_l0.fill_(float("nan"))
    outputs, h_n = layer(torch.randn(3, 4, 5))
    assert outputs.isnan().all() and h_n.isnan().all()


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_weight_gradient_products_split_over_threads_sum_all_rows(threads: int) -> None:
    """The weight gradients' long sums run as one chunk of rows per thread, then add up the chunks: every row
    counts once, also when the rows do not split evenly (here 101 rows)."""
    torch.manual_seed(0)
    a, b = torch.randn(101, 6, dtype=torch.float64), torch.randn(101, 10, dtype=torch.float64)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        actual = compiled._summed_products(a.float(), b.float())
    finally:
        torch.set_num_threads(before)
    assert actual.dtype == torch.float32 and actual.shape == (6, 10)
    torch.testing.assert_close(actual.double(), a.t() @ b, rtol=1e-5, atol=1e-5)


def torch_with_state(module: nn.RNNBase, x: Tensor, lengths: Tensor | None, state) -> tuple[Tensor, tuple]:
    """The reference with an initial state: (outputs padded back to T, final states as a tuple (h_n[, c_n]))."""
    if lengths is None:
        outputs, final = module(x, state)
    else:
        packed, final = module(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False), state)
        outputs, _ = pad_packed_sequence(packed, batch_first=True, total_length=x.shape[1])
    return outputs, final if isinstance(final, tuple) else (final,)


def fused_with_state(module: nn.RNNBase, x: Tensor, lengths: Tensor | None, state) -> tuple[Tensor, tuple]:
    cell = {nn.RNN: "rnn", nn.GRU: "gru", nn.LSTM: "lstm"}[type(module)]
    outputs, final = fused_recurrence(module, cell, x, lengths, state)
    return outputs, final if isinstance(final, tuple) else (final,)


@pytest.mark.parametrize("variable", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_initial_and_final_states_match_torch(cell: str, bidirectional: bool, variable: bool, loops: str) -> None:
    """Given h0 (and c0), outputs, final states and the gradients of x, h0, c0 and every weight equal torch's:
    rows in any order of length, the reverse direction starting from its h0 at each row's last real step."""
    rng = random.Random(f"state-{cell}-{bidirectional}-{variable}")
    torch.manual_seed(rng.randrange(2**31))
    directions = 2 if bidirectional else 1
    for draw in range(4):
        batch, steps = rng.randint(2, 6), rng.randint(2, 12)
        inputs, hidden = rng.randint(1, 7), rng.randint(1, 7)
        if draw == 3:  # the compiled loops' full vector tiles and their remainders
            batch, steps, inputs, hidden = rng.randint(9, 21), rng.randint(5, 15), 16, rng.choice([32, 40])
        module = TORCH_CELLS[cell](inputs, hidden, batch_first=True, bidirectional=bidirectional)
        x = torch.randn(batch, steps, inputs, requires_grad=True)
        lengths = random_lengths(rng, batch, steps) if variable else None
        # draw 2: h0 without a gradient of its own (the weights' still reads it)
        initial = [torch.randn(directions, batch, hidden, requires_grad=draw != 2) for _ in range(1 + (cell == "lstm"))]
        state = tuple(initial) if cell == "lstm" else initial[0]
        # draw 1: only the final states have gradients (the kernels' `fresh` path); draw 2: the outputs and c_n
        output_weight = None if draw == 1 else torch.randn(batch, steps, directions * hidden)
        final_weights = [None if draw == 2 and k == 0 else torch.randn(directions, batch, hidden)
                         for k in range(len(initial))]
        wanted = [x, *[s for s in initial if s.requires_grad], *module.parameters()]
        results = []
        for run in (torch_with_state, fused_with_state):
            outputs, finals = run(module, x, lengths, state)
            loss = sum((f * w).sum() for f, w in zip(finals, final_weights) if w is not None)
            if output_weight is not None:
                loss = loss + (outputs * output_weight).sum()
            results.append([outputs, *finals, *torch.autograd.grad(loss, wanted)])
        kinds = "hc"[: len(initial)]
        names = ["outputs", *[f"{k}_n" for k in kinds], "dx",
                 *[f"d{k}0" for k, s in zip(kinds, initial) if s.requires_grad],
                 *[f"d{name}" for name, _ in module.named_parameters()]]
        for name, got, want in zip(names, results[1], results[0], strict=True):
            assert_close(got, want, 1e-5, f"{name} draw {draw} {dict(batch=batch, steps=steps, lengths=lengths)}")


def test_rejects_a_state_of_the_wrong_form() -> None:
    lstm, gru, x = nn.LSTM(2, 3, batch_first=True), nn.GRU(2, 3, batch_first=True), torch.randn(4, 5, 2)
    with pytest.raises(ValueError, match=r"\(h0, c0\), each of shape \[D, B, H\] = \[1, 4, 3\]"):
        fused_recurrence(lstm, "lstm", x, None, torch.zeros(1, 4, 3))
    with pytest.raises(ValueError, match=r"h0 of shape \[D, B, H\] = \[1, 4, 3\], got \(1, 2, 3\)"):
        fused_recurrence(gru, "gru", x, None, torch.zeros(1, 2, 3))


@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_a_first_call_in_inference_mode_leaves_training_working(cell: str, loops: str) -> None:
    """Index tensors cached on a layer's first call must not be inference tensors: made under
    `torch.inference_mode()`, autograd cannot save them, and every later training forward raised."""
    for cache in (fused._gate_rows, fused._full_plan, compiled._full_rows):
        cache.cache_clear()  # as in a fresh process, whose first call is the inference one
    torch.manual_seed(0)
    layer = FusedRecurrentLayer(cell, 3, 4)
    x = torch.randn(2, 5, 3)
    with torch.inference_mode():
        expected = layer(x)
    outputs, h_n = layer(x)
    (outputs.sum() + h_n.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    torch.testing.assert_close(outputs, expected[0].clone())


# One thread (one block of rows) and 180,000 rows: the block's arrays of row pointers on the stack took
# 6 x 8 bytes a row, more than the 8 MB stack (SIGSEGV), where nn.* runs.
LARGE_BATCH = """
import torch
from torch import nn
from rnnlab.kernels.fused import fused_recurrence
torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(180_000, 2, 1, requires_grad=True)
for cell, module in (("rnn", nn.RNN), ("gru", nn.GRU), ("lstm", nn.LSTM)):
    module = module(1, 1, batch_first=True)
    (outputs, _), (expected, _) = fused_recurrence(module, cell, x, None), module(x)
    torch.testing.assert_close(outputs, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.autograd.grad(outputs.sum(), x)[0], torch.autograd.grad(expected.sum(), x)[0],
                               atol=1e-5, rtol=1e-5)
print("ok")
"""


def test_a_batch_larger_than_the_stack_holds_runs() -> None:
    """In a subprocess, so that a crash fails this test instead of ending pytest."""
    if compiled.kernels() is None:
        pytest.skip("no C compiler here: the compiled kernels are not built")
    done = subprocess.run([sys.executable, "-c", LARGE_BATCH], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", f"exit {done.returncode}: {done.stderr[-2000:]}"


@pytest.mark.parametrize("variable", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("cell", list(TORCH_CELLS))
def test_an_empty_batch_gives_empty_outputs_states_and_gradients(cell: str, variable: bool, loops: str) -> None:
    """B = 0 (the tail of a filtered batch, say) returns what nn.* returns: empty outputs and final states of the
    right shapes, an empty input gradient and zero weight gradients."""
    module = TORCH_CELLS[cell](3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(0, 5, 3, requires_grad=True)
    lengths = torch.zeros(0, dtype=torch.long) if variable else None
    initial = tuple(torch.zeros(2, 0, 4, requires_grad=True) for _ in range(1 + (cell == "lstm")))
    for state in (None, initial if cell == "lstm" else initial[0]):
        (outputs, finals), (expected, expected_finals) = (
            fused_with_state(module, x, lengths, state), torch_with_state(module, x, None, state))
        assert outputs.shape == expected.shape == (0, 5, 8)
        assert [f.shape for f in finals] == [f.shape for f in expected_finals] == [(2, 0, 4)] * len(initial)
        wanted = [x, *module.parameters(), *(initial if state is not None else ())]
        loss = outputs.sum() + sum(f.sum() for f in finals)
        for got, want in zip(torch.autograd.grad(loss, wanted), wanted, strict=True):
            assert got.shape == want.shape and not got.any()
