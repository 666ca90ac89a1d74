"""torch: the backward of clamp with tensor bounds raises where the bounds broadcast the
output beyond the input and one bound.

What is wrong: torch.clamp(x, min=lo, max=hi) broadcasts x, lo and hi together, and its
forward is right for every broadcastable shape. Its backward (ClampBackward0:
clamp_backward and clamp_backward_min_max in torch/csrc/autograd/FunctionsManual.cpp) builds
each mask with an in-place logical op, `(x >= lo).logical_and_(x <= hi)` for x,
`(x < lo).logical_and_(lo < hi)` for lo, `(x > hi).logical_or_(hi < lo)` for hi: the
in-place op cannot grow its left side, so where the right side's broadcast shape is larger
the backward raises.

    x = torch.tensor([-0.2, 0.3], dtype=torch.float64, requires_grad=True)
    lo = torch.tensor([-1.5], dtype=torch.float64)
    hi = torch.tensor([[0.5], [0.25]], dtype=torch.float64)
    torch.clamp(x, min=lo, max=hi).sum().backward()

Expected: x.grad == [2., 1.] (as torch.minimum(torch.maximum(x, lo), hi), or clamp of
torch.broadcast_tensors(x, lo, hi), gives: x is inside [lo, hi] in all four entries but
one).
Actual: RuntimeError: output with shape [2] doesn't match the broadcast shape [2, 2].

Reproduces on torch 2.13.0 (CPU, float32 and float64). The non-in-place branch (taken only
for tensor subclasses) is right. No upstream report found (pytorch/functorch#865 showed the
same message under vmap).
Found by gradspec (deviation `torch-clamp-tensor-bounds-broadcast-backward` in
deviations/torch.py).

Run: python findings/torch/clamp-tensor-bounds-broadcast-backward.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch


def main():
    x = torch.tensor([-0.2, 0.3], dtype=torch.float64, requires_grad=True)
    lo = torch.tensor([-1.5], dtype=torch.float64)
    hi = torch.tensor([[0.5], [0.25]], dtype=torch.float64)
    torch.minimum(torch.maximum(x, lo), hi).sum().backward()
    expected, x.grad = x.grad, None
    print(f"torch {torch.__version__}")
    print(f"expected x.grad (minimum(maximum(x, lo), hi)): {expected.tolist()}")
    try:
        torch.clamp(x, min=lo, max=hi).sum().backward()
    except RuntimeError as exc:
        print(f"BUG: clamp's backward raises: {exc}")
        return 1
    print(f"fixed: x.grad = {x.grad.tolist()}")
    return 0 if torch.equal(x.grad, expected) else 1


if __name__ == "__main__":
    sys.exit(main())
