"""torch.compile: a compiled region is freed as one node, so a later backward through it raises
"backward through the graph a second time" where eager runs.

What is wrong: AOTAutograd makes a compiled region one autograd node whose saved tensors are
freed after the first backward through any of its outputs. In eager mode only the nodes that
backward went through are freed, and a node that saves nothing (additions, sums, views) is
never freed. Two symptoms, both errors where eager accumulates:

1. a second backward through a graph that saves nothing in eager:

    def f(a):
        return (a + a).sum()

    y = torch.compile(f, backend="aot_eager")(a)
    y.backward()
    y.backward()   # RuntimeError: Trying to backward through the graph a second time
                   # eager: a.grad == [4, 4]

2. backward through one output of a region, then through another one (two losses from one
   compiled model, backwarded one after the other; eager frees only the first loss's part):

    def g(a, b):
        return (a * a).sum(), a * b

    l1, t = torch.compile(g, backend="aot_eager")(a, b)
    t.sum().backward()
    l1.backward()  # RuntimeError; eager: a.grad == b + 2a

Expected: eager's gradients. Actual: RuntimeError. aot_eager and inductor alike. Known upstream
as pytorch/pytorch#118739 (there for unbind/split outputs).

Reproduces on torch 2.13.0 (CPU).
Found by gradspec (deviation `torch-compile-region-freed-as-one` in
deviations/torch_compile.py).

Run: python findings/torch-compile/region-freed-as-one.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys

import torch


def f(a):
    return (a + a).sum()


def g(a, b):
    return (a * a).sum(), a * b


def nothing_saved(backend):
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.compile(f, backend=backend)(a)
    y.backward()
    y.backward()
    return a.grad.tolist(), [4.0, 4.0]


def another_output(backend):
    a = torch.tensor([0.5, -1.0], requires_grad=True)
    b = torch.tensor([2.0, 3.0], requires_grad=True)
    l1, t = torch.compile(g, backend=backend)(a, b)
    t.sum().backward()
    l1.backward()
    return a.grad.tolist(), [3.0, 1.0]


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        for case in (nothing_saved, another_output):
            torch._dynamo.reset()
            try:
                got, expected = case(backend)
            except RuntimeError as exc:
                problems.append(f"backend {backend}, {case.__name__}: the second backward "
                                f"raised: {str(exc).splitlines()[0][:80]}")
                continue
            if got != expected:
                problems.append(f"backend {backend}, {case.__name__}: a.grad = {got}, "
                                f"expected {expected}")
    print(f"torch {torch.__version__}")
    print("\n".join(problems) or "fixed: a compiled region is freed node by node, as eager")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
