"""torch.compile: a second backward through a graph that saves nothing raises "backward through
the graph a second time".

What is wrong: in eager mode, a graph whose nodes save no tensors (additions, sums, views)
can be backwarded again without retain_graph=True: there is nothing to free, and torch
documents the error as being about freed saved tensors. Compiled, the same function is one
AOTAutograd node whose backward is freed after the first call, so the second backward raises
where eager accumulates. Code that relies on eager's behaviour (two losses sharing such a
graph, backwarded one after the other) breaks when compiled.

    def f(a):
        return (a + a).sum()

    a = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.compile(f, backend="aot_eager")(a)
    y.backward()
    y.backward()   # RuntimeError: Trying to backward through the graph a second time
                   # eager: a.grad == [4, 4]

Expected: a.grad == [4., 4.] as in eager. Actual: RuntimeError. aot_eager and inductor alike.

Reproduces on torch 2.13.0 (CPU).
Found by gradspec (deviation `torch-compile-second-backward-through-nothing-saved` in
deviations/torch_compile.py).

Run: python findings/torch-compile/second-backward-through-nothing-saved.py - exits 1 while
the bug reproduces, 0 once fixed.
"""
import sys

import torch


def f(a):
    return (a + a).sum()


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        torch._dynamo.reset()
        a = torch.tensor([1.0, 2.0], requires_grad=True)
        y = torch.compile(f, backend=backend)(a)
        y.backward()
        try:
            y.backward()
        except RuntimeError as exc:
            problems.append(f"backend {backend}: second backward raised: "
                            f"{str(exc).splitlines()[0][:80]}")
            continue
        if a.grad.tolist() != [4.0, 4.0]:
            problems.append(f"backend {backend}: a.grad = {a.grad.tolist()}, expected [4, 4]")
    print(f"torch {torch.__version__}")
    print("\n".join(problems) or "fixed: a graph that saves nothing can be backwarded twice")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
