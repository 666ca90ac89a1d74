"""torch-func-compile keeps away the programs whose compiled run would segfault: a derivative
through sgn's backward hands an efficient ZeroTensor to an op taking a Python scalar (pow's
backward), which crashes under aot_eager's dispatch mode
(findings/torch-func-compile/zerotensor-scalar-op-segfault.py). The adapter finds them by
an eager probe; these tests pin that it does, and that it keeps nothing else away."""
import pytest

pytest.importorskip("torch")

from gradspec.adapter import UnsupportedProgram  # noqa: E402
from gradspec.interpreter import run  # noqa: E402
from gradspec.program import Grad, GradStep, Leaf, Op, Program  # noqa: E402
from gradspec.reference_adapter import ReferenceAdapter  # noqa: E402
from gradspec.compare import compare  # noqa: E402


def _abs_twice_after(*first):
    """`first` (ops over a), its gradient through abs, and a gradient of that."""
    return Program(
        dtype="float64",
        leaves=(Leaf("a", (2,), (0.5, -0.75)),),
        steps=first + (GradStep(("g2",), ("t1",), ("a",), ((1.0, 1.0),)),
                       Op("t3", "abs", ("g2",)),
                       GradStep(("g4",), ("t3",), ("a",), ((1.0, -0.5),))),
        plan=(Grad(("g4",), ("a",), ((1.0, 1.0),)),),
    )


def _adapter():
    from adapters.torch_func_compile_adapter import TorchFuncCompileAdapter
    return TorchFuncCompileAdapter()


@pytest.mark.slow
def test_a_program_that_would_crash_is_kept_away_naming_the_finding():
    program = _abs_twice_after(Op("t1", "pow", ("a",), (("exponent", 3.0),)))
    with pytest.raises(UnsupportedProgram, match="zerotensor-scalar-op-segfault"):
        run(program, _adapter(), strict=False)


@pytest.mark.slow
def test_abs_twice_without_a_scalar_op_still_runs_and_agrees():
    program = _abs_twice_after(Op("t1", "mul", ("a", "a")))
    expected = run(program, ReferenceAdapter())
    assert compare(program, expected, run(program, _adapter(), strict=False)) == []
