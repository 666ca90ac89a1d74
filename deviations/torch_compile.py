"""Known differences of torch.compile from eager torch (the reference's semantics): eager
torch's _make_grads bug (deviations/torch.py: backward itself is called eagerly), and what
compiling the forward changes. torch's grad-aliasing and stale-view bugs do not reproduce
here: the compiled region's backward and views are AOTAutograd's, not eager's.
"""
from gradspec.deviations import (Deviation, engine_trace, leaves, load, raised_instead,
                                 reference_raised, zeros_for_none)
from gradspec.program import Backward, Op, Program


def _freed_though_nothing_saved(program, m):
    """The compiled region raised graph_freed on a later backward where eager (the reference)
    raised nothing, and that backward's gradients are then missing."""
    if not 0 < m.action < len(program.plan) or not isinstance(program.plan[m.action], Backward):
        return False
    if m.kind == "error":
        return raised_instead(m, None, "graph_freed")
    return m.kind in ("grad", "retained", "returned") and reference_raised(
        program, m.action, None) and _raised_freed(program, m.action)


def _raised_freed(program, action):
    from adapters.torch_compile_adapter import TorchCompileAdapter
    trace = engine_trace(program, TorchCompileAdapter)
    return trace is not None and action < len(trace.actions) and \
        trace.actions[action].error == "graph_freed"


DEVIATIONS = [d for d in load("torch") if d.id == "torch-make-grads-index"] + [
    Deviation(
        id="torch-compile-zeros-for-unreached-inputs",
        reason="AOTAutograd's compiled region is one autograd Function whose backward gives "
               "every input a gradient: a leaf only an unreached output of the region depends "
               "on gets .grad = zeros where eager leaves it None (pytorch/pytorch#131794)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True),
                          ("c", (1,), (0.75,), True), ("d", (1,), (-1.5,), True)),
            steps=(Op("t1", "add", ("a", "b")),
                   Op("t2", "cat", ("c", "d"), (("dim", 0),)),
                   Op("t3", "sum", ("t2",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("t3",), (None,)),),
        ),
        applies=zeros_for_none,
        finding="findings/torch-compile/zeros-for-unreached-inputs.py",
    ),
    Deviation(
        id="torch-compile-second-backward-through-nothing-saved",
        reason="a compiled region is one AOTAutograd node whose backward is freed after the "
               "first call, so a second backward through a graph that saves nothing in eager "
               "(additions, sums) raises 'backward through the graph a second time' where "
               "eager accumulates",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (1.0, 2.0), True)),
            steps=(Op("t1", "add", ("a", "a")),
                   Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("t2",), (None,)), Backward(("t2",), (None,))),
        ),
        applies=_freed_though_nothing_saved,
        finding="findings/torch-compile/second-backward-through-nothing-saved.py",
    ),
]
