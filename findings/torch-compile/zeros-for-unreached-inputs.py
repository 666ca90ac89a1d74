"""torch.compile: a leaf the backward never reaches gets .grad = zeros instead of None.

What is wrong: AOTAutograd wraps a compiled region in one autograd.Function whose backward
computes a gradient for every input of the region. When a backward reaches the region through
one of its outputs only, autograd materializes zeros for the outputs it did not reach, and the
compiled backward turns them into zero gradients for inputs that only those outputs depend
on; AccumulateGrad then sets their .grad to zeros. In eager mode the backward never reaches
those inputs, and their .grad stays None. The difference is observable: an optimizer skips a
parameter whose .grad is None, but applies weight decay and momentum to one whose .grad is
zeros; `p.grad is None` checks (unused-parameter detection) see a gradient that is not there.

    a = torch.tensor(0.5, requires_grad=True)
    c = torch.tensor([0.75, -1.0], requires_grad=True)

    def f(a, c):
        return a * 2, c.sum()      # two outputs; the loss uses the second only

    unused, loss = torch.compile(f, backend="aot_eager")(a, c)
    loss.backward()
    a.grad    # tensor(0.) -- eager: None

Expected: a.grad is None (as eager). Actual: tensor(0.). Backends aot_eager and inductor
alike. Known upstream as pytorch/pytorch#131794 ("Unused differentiable outputs lead to
unnecessary gradient computation when compared to eager").

Reproduces on torch 2.13.0 (CPU).
Found by gradspec (deviation `torch-compile-zeros-for-unreached-inputs` in
deviations/torch_compile.py).

Run: python findings/torch-compile/zeros-for-unreached-inputs.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch


def f(a, c):
    return a * 2, c.sum()


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        torch._dynamo.reset()
        a = torch.tensor(0.5, requires_grad=True)
        c = torch.tensor([0.75, -1.0], requires_grad=True)
        _, loss = torch.compile(f, backend=backend)(a, c)
        loss.backward()
        if a.grad is not None:
            problems.append(f"backend {backend}: a.grad = {a.grad!r}, expected None (eager)")
    print(f"torch {torch.__version__}")
    print("\n".join(problems) or "fixed: an input the backward does not reach keeps .grad None")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
