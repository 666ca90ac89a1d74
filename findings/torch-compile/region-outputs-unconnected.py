"""torch.compile: autograd.grad w.r.t. one output of a compiled region, of another output that
depends on it, misses that dependency (a silently wrong gradient, or an 'unused' error).

What is wrong: AOTAutograd returns a compiled region's outputs as siblings of one autograd
node; the edge from one output to another computed from it inside the region is not in the
graph. Asking for the gradient w.r.t. the first output then sees only its own direct
contribution:

    def f(a):
        t1 = a.exp()
        return t1, t1 * 3.0

    t1, t2 = torch.compile(f, backend="aot_eager")(a)
    torch.autograd.grad([t1, t2], [t1], [torch.tensor(1.0), torch.tensor(2.0)])
    # (tensor(1.),) -- eager: (tensor(7.),) = 1 + 2 * 3
    torch.autograd.grad([t2], [t1], [torch.tensor(2.0)])
    # RuntimeError: One of the differentiated Tensors appears to not have been used in the
    # graph -- eager: (tensor(6.),)

Expected: eager's (7.,) and (6.,). Actual: (1.,) silently, and an error. aot_eager and inductor
alike. Known upstream as pytorch/pytorch#132929 (a proposed fix, #186339, makes it an explicit
error instead of a silent wrong value; this script then reports the error, not the value).

Reproduces on torch 2.13.0 (CPU).
Found by gradspec (deviation `torch-compile-region-outputs-unconnected` in
deviations/torch_compile.py).

Run: python findings/torch-compile/region-outputs-unconnected.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch


def f(a):
    t1 = a.exp()
    return t1, t1 * 3.0


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        torch._dynamo.reset()
        a = torch.tensor(0.5, requires_grad=True)
        t1, t2 = torch.compile(f, backend=backend)(a)
        for outputs, weights, expected in (((t1, t2), (1.0, 2.0), 7.0), ((t2,), (2.0,), 6.0)):
            try:
                got, = torch.autograd.grad(outputs, [t1], [torch.tensor(w) for w in weights],
                                           retain_graph=True)
            except RuntimeError as exc:
                problems.append(f"backend {backend}: grad of {len(outputs)} output(s) w.r.t. "
                                f"t1 raised: {str(exc).splitlines()[0][:80]}")
                continue
            if abs(got.item() - expected) > 1e-6:
                problems.append(f"backend {backend}: grad of {len(outputs)} output(s) w.r.t. "
                                f"t1 = {got.item()}, expected {expected} (eager)")
    print(f"torch {torch.__version__}")
    print("\n".join(problems) or "fixed: grad() w.r.t. a compiled region's output sees the "
                                  "outputs computed from it")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
