"""In-place steps (`InPlace`) on the torch adapter and in its repro scripts, by hand.

The programs are small enough that their values and gradients are worked out below; each is
also run as the rendered script (in process, and once in a fresh interpreter), which must
contain the in-place lines as the templates wrote them and print the same gradients.
"""
import contextlib
import io
import subprocess
import sys

import numpy as np
import pytest

from gradspec.interpreter import run
from gradspec.program import *  # noqa: F403 - the names programs print with

torch = pytest.importorskip("torch")
from adapters.templates import Statement, TemplateOps  # noqa: E402
from adapters.torch_adapter import TorchAdapter  # noqa: E402

A = Leaf("a", (2, 3), (1.0, -2.0, 3.0, 0.5, 1.5, -1.0))
B = Leaf("b", (2, 3), (2.0, 0.5, -1.0, 1.0, -3.0, 0.25))
SUM = (("dim", (0, 1)), ("keepdim", False))
PLAN = (Backward(("loss",), (None,)),)


def program(*steps):
    return Program(dtype="float64", leaves=(A, B), steps=steps, plan=PLAN)


# t1 = a²·b, then row 0's first two entries overwritten through the view t2 = t1[0]: the
# write reaches t1, and no gradient flows to what it overwrote.
VIEW_SETITEM = program(
    Op("t1", "mul", ("a", "a")),
    InPlace("t1", "mul_", ("b",)),
    Op("t2", "getitem", ("t1",), (("index", (0,)),)),
    InPlace("t2", "setitem", (), (("index", (("slice", 0, 2, None),)), ("value", 0.5))),
    Op("loss", "sum", ("t1",), SUM))

# t1 = a·b = [[2, -1, -3], [0.5, -4.5, -0.25]], clamped to [-2, 1], plus a, two entries
# filled with 7, relu'd (last: relu_ saves its output, which a later in-place op would modify).
FILL = InPlace("t1", "masked_fill_", (), (("mask", ((False, True, False), (False, False, True))),
                                          ("value", 7.0)))
CHAIN = program(
    Op("t1", "mul", ("a", "b")),
    InPlace("t1", "clamp_", (), (("max", 1.0), ("min", -2.0))),
    InPlace("t1", "add_", ("a",)),
    FILL,
    InPlace("t1", "relu_"),
    Op("loss", "sum", ("t1",), SUM))

# Row 1 of t1 = a·b replaced by the tensor t3 = a[0] + a[1].
SETITEM_TENSOR = program(
    Op("t3", "sum", ("a",), (("dim", 0), ("keepdim", False))),
    Op("t1", "mul", ("a", "b")),
    InPlace("t1", "setitem", ("t3",), (("index", (1,)),)),
    Op("loss", "sum", ("t1",), SUM))

# t2 = t1 * t1 saves t1, which add_ then modifies: the backward must refuse.
SAVED_MODIFIED = program(
    Op("t1", "mul", ("a", "b")),
    Op("t2", "mul", ("t1", "t1")),
    InPlace("t1", "add_", ("b",)),
    Op("loss", "sum", ("t2",), SUM))
RELU_THEN_FILL = program(Op("t1", "mul", ("a", "b")), InPlace("t1", "relu_"), FILL,
                         Op("loss", "sum", ("t1",), SUM))

LEAF_INPLACE = program(InPlace("a", "add_", ("b",)), Op("loss", "sum", ("a",), SUM))
LEAF_VIEW_INPLACE = program(
    Op("t1", "getitem", ("a",), (("index", (0,)),)),
    InPlace("t1", "setitem", (), (("index", (("slice", None, None, 2),)), ("value", 0.0))),
    Op("loss", "sum", ("a",), SUM))

# Writes torch refuses at once, whatever requires grad: into an expanded tensor, from an
# operand overlapping the target in part, and an add_ whose result would be larger.
ROWS = Op("t1", "sum", ("a",), (("dim", 1), ("keepdim", True)))  # (2, 1)
EXPANDED = program(ROWS, Op("t2", "expand", ("t1",), (("shape", (2, 3)),)),
                   InPlace("t2", "add_", ("b",)), Op("loss", "sum", ("t2",), SUM))
OVERLAP = program(Op("t1", "reshape", ("b",), (("shape", (6,)),)),
                  Op("t2", "scale", ("t1",), (("c", 2.0),)),
                  Op("t3", "getitem", ("t2",), (("index", (("slice", 0, 4, None),)),)),
                  Op("t4", "getitem", ("t2",), (("index", (("slice", 2, 6, None),)),)),
                  InPlace("t3", "add_", ("t4",)),
                  Op("loss", "sum", ("t2",), (("dim", 0), ("keepdim", False))))
GROWS = program(ROWS, InPlace("t1", "add_", ("b",)), Op("loss", "sum", ("t1",), SUM))
REFUSED = [(LEAF_INPLACE, "leaf_inplace"), (LEAF_VIEW_INPLACE, "leaf_inplace"),
           (EXPANDED, "inplace_overlap"), (OVERLAP, "inplace_overlap"),
           (GROWS, "inplace_shape")]
REFUSED_IDS = ["leaf", "view_of_leaf", "expanded", "overlap", "grows"]

# (program, loss, a.grad, b.grad, lines the script must contain)
WORKED = [
    (VIEW_SETITEM, -14.25, [[0, 0, -6], [1, -9, -0.5]], [[0, 0, 9], [0.25, 2.25, 1]],
     ["t1.mul_(b)", "t2 = t1[0]", "t2[0:2] = 0.5"]),
    (CHAIN, 18.0, [[1, 0, 1], [2, 0, 0]], [[0, 0, 0], [0.5, 0, 0]],
     ["t1.clamp_(min=-2.0, max=1.0)", "t1.add_(a)",
      "t1.masked_fill_(torch.tensor([[False, True, False], [False, False, True]]), 7.0)",
      "t1.relu_()"]),
    (SETITEM_TENSOR, 1.0, [[3, 1.5, 0], [1, 1, 1]], [[1, -2, 3], [0, 0, 0]],
     ["t1[1] = t3"]),
]
IDS = ["view_setitem", "chain", "setitem_tensor"]


def _by_torch(prog):
    """(loss, a.grad, b.grad) of a WORKED program written directly in torch: a check of the
    hand-worked numbers independent of the templates and the interpreter."""
    a = torch.tensor(A.values, dtype=torch.float64, device="cpu").reshape(2, 3).requires_grad_()
    b = torch.tensor(B.values, dtype=torch.float64, device="cpu").reshape(2, 3).requires_grad_()
    if prog is VIEW_SETITEM:
        t1 = a * a
        t1.mul_(b)
        t1[0][0:2] = 0.5
    elif prog is CHAIN:
        t1 = (a * b).clamp_(min=-2.0, max=1.0).add_(a)
        t1.masked_fill_(torch.tensor([[False, True, False], [False, False, True]], device="cpu"),
                        7.0).relu_()
    else:
        t1 = a * b
        t1[1] = a.sum(0)
    loss = t1.sum()
    loss.backward()
    return loss.item(), a.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("prog, loss, grad_a, grad_b, lines", WORKED, ids=IDS)
def test_values_and_gradients(prog, loss, grad_a, grad_b, lines):
    trace = run(prog, TorchAdapter())
    assert trace.forward_error is None, trace.forward_message
    assert trace.forward["loss"] == loss
    grads = trace.actions[0].grads
    np.testing.assert_array_equal(grads["a"], grad_a)
    np.testing.assert_array_equal(grads["b"], grad_b)
    direct = _by_torch(prog)
    assert direct[0] == loss
    np.testing.assert_array_equal(direct[1], grad_a)
    np.testing.assert_array_equal(direct[2], grad_b)


def test_a_write_into_a_view_reaches_its_base():
    trace = run(VIEW_SETITEM, TorchAdapter())
    np.testing.assert_array_equal(trace.forward["t1"], [[0.5, 0.5, -9], [0.25, -6.75, 0.25]])
    np.testing.assert_array_equal(trace.forward["t2"], [0.5, 0.5, -9])


def test_inplace_returns_its_target():
    adapter = TorchAdapter()
    t = torch.zeros(2, 3, dtype=torch.float64)
    v = torch.ones(3, dtype=torch.float64)
    assert adapter.inplace("setitem", t, v, index=(1,)) is t
    assert adapter.inplace("setitem", t, index=(0, ("slice", 1, None, None)), value=2.0) is t
    assert adapter.inplace("relu_", t) is t
    assert t.tolist() == [[0, 2, 2], [1, 1, 1]]
    assert adapter.inplace("masked_fill_", torch.tensor(1.0), mask=True, value=3.0).item() == 3


def test_statement_templates_compile_to_a_function_returning_the_target():
    ops = TemplateOps({"set": Statement("{0}[{index}] = {1}")}, {})
    assert ops.source("set", ["x", "y"], {"index": (("slice", 0, 2, None), 1)}) \
        == "x[0:2, 1] = y"
    x = [0, 0, 0]
    assert ops("set", x, 5, index=(1,)) is x and x == [0, 5, 0]  # any target that takes it


@pytest.mark.parametrize("prog", [SAVED_MODIFIED, RELU_THEN_FILL], ids=["input", "output"])
def test_saved_tensor_modified_before_backward(prog):
    trace = run(prog, TorchAdapter())
    assert trace.forward_error is None
    assert trace.actions[0].error == "inplace_modified"


@pytest.mark.parametrize("prog, kind", REFUSED, ids=REFUSED_IDS)
def test_refused_at_once_in_the_trace_and_the_script(prog, kind):
    trace = run(prog, TorchAdapter())
    assert trace.forward_error == kind, trace.forward_message
    _, exc = _exec(TorchAdapter().render_script(prog))
    assert isinstance(exc, RuntimeError) and TorchAdapter().error_kind(exc) == kind


@pytest.mark.parametrize("prog", [p for p, *_ in WORKED] + [SAVED_MODIFIED],
                         ids=IDS + ["saved_modified"])
def test_program_source_round_trips(prog):
    assert Program.from_source(prog.to_source()) == prog  # noqa: F405


# ----- the repro scripts ----------------------------------------------------------------------
def _exec(script):
    """(stdout, exception or None) of the script run in process."""
    out, exc = io.StringIO(), None
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(script, "<repro script>", "exec"), {"__name__": "__repro__"})  # noqa: S102
    except Exception as e:  # noqa: BLE001 - the tests look at it
        exc = e
    finally:
        torch.set_printoptions(profile="default")
    return out.getvalue(), exc


def _printed(stdout):
    """`label = [values]` lines -> {label: value} (later lines win)."""
    return {label: eval(value) for label, sep, value in  # noqa: S307 - our output
            (line.partition(" = ") for line in stdout.splitlines()) if sep}


@pytest.mark.parametrize("prog, loss, grad_a, grad_b, lines", WORKED, ids=IDS)
def test_script_has_the_inplace_lines_and_reproduces(prog, loss, grad_a, grad_b, lines):
    script = TorchAdapter().render_script(prog)
    script_lines = script.splitlines()
    for line in lines:
        assert line in script_lines, f"{line!r} not in\n{script}"
    stdout, exc = _exec(script)
    assert exc is None, exc
    printed = _printed(stdout)
    np.testing.assert_array_equal(printed["a.grad"], grad_a)
    np.testing.assert_array_equal(printed["b.grad"], grad_b)


@pytest.mark.parametrize("prog", [SAVED_MODIFIED, RELU_THEN_FILL], ids=["input", "output"])
def test_script_reports_the_modified_saved_tensor(prog):
    stdout, exc = _exec(TorchAdapter().render_script(prog))
    assert exc is None
    error = next(line for line in stdout.splitlines() if line.startswith("error: "))
    assert TorchAdapter().error_kind(RuntimeError(error)) == "inplace_modified"


@pytest.mark.slow
def test_script_runs_in_a_fresh_interpreter(tmp_path):
    path = tmp_path / "repro.py"
    path.write_text(TorchAdapter().render_script(CHAIN))
    proc = subprocess.run([sys.executable, "-W", "ignore", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = _printed(proc.stdout)
    np.testing.assert_array_equal(printed["a.grad"], WORKED[1][2])


# ----- on a GPU -------------------------------------------------------------------------------
@pytest.fixture
def cuda_adapter():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    yield TorchAdapter(device="cuda")
    torch.set_default_device("cpu")  # TorchAdapter("cuda") set it for its templates


@pytest.mark.parametrize("prog, loss, grad_a, grad_b, lines", WORKED, ids=IDS)
def test_on_cuda(cuda_adapter, prog, loss, grad_a, grad_b, lines):
    trace = run(prog, cuda_adapter)
    assert trace.forward["loss"] == loss
    np.testing.assert_array_equal(trace.actions[0].grads["a"], grad_a)
    np.testing.assert_array_equal(trace.actions[0].grads["b"], grad_b)


@pytest.mark.parametrize("prog, kind", REFUSED, ids=REFUSED_IDS)
def test_refused_on_cuda(cuda_adapter, prog, kind):
    assert run(prog, cuda_adapter).forward_error == kind
