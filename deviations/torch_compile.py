"""Known differences of torch.compile from eager torch (the reference's semantics): eager
torch's _make_grads bug (deviations/torch.py: backward itself is called eagerly), and what
compiling the forward changes. torch's grad-aliasing and stale-view bugs do not reproduce
here: the compiled region's backward and views are AOTAutograd's, not eager's.
"""
from gradspec.deviations import Deviation, leaves, load, zeros_for_none
from gradspec.program import Backward, Op, Program

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
]
