"""torch.func inside torch.compile: torch-func's stated differences (the same transforms and
kernels, deviations/torch_func.py), and what compiling them adds: a crash the adapter keeps
away (adapters/torch_func_compile_adapter.py), stated with its finding script."""
from harness.deviations import Deviation, load, never
from gradspec.program import Grad, GradStep, Leaf, Op, Program


DEVIATIONS = list(load("torch-func")) + [
    Deviation(
        id="torch-func-compile-zerotensor-scalar-op-segfault",
        reason="BUG (crash): a derivative through sgn's backward (abs differentiated twice) "
               "hands an efficient ZeroTensor to pow's backward, whose aten.mul.Scalar on it "
               "segfaults under a TorchDispatchMode; aot_eager runs a compiled graph's first "
               "call under one, so torch.compile of these torch.func transforms crashes the "
               "process where eager torch.func returns zeros; the adapter keeps such "
               "programs away",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "pow", ("a",), (("exponent", 3.0),)),
                   GradStep(("g2",), ("t1",), ("a",), ((1.0, 1.0),)),
                   Op("t3", "abs", ("g2",)),
                   GradStep(("g4",), ("t3",), ("a",), ((1.0, -0.5),))),
            plan=(Grad(("g4",), ("a",), ((1.0, 1.0),)),),
        ),
        finding="findings/torch-func-compile/zerotensor-scalar-op-segfault.py",
        applies=never,
    ),
]
