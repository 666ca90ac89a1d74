"""torch: autograd.grad(is_grads_batched=True, materialize_grads=True) gives an unused input
a gradient without the batch dimension.

What is wrong: with is_grads_batched=True the first dimension of each grad_output is a batch,
and every returned gradient has it first (one vector-Jacobian product a row). For an input
the outputs do not use, materialize_grads=True must give zeros in that shape, as the loop of
one grad() a row gives. torch.autograd.grad materializes after its vmap has returned, with
`torch.zeros_like(input)`: the batch dimension is missing.

    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    unused = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y = x.exp()
    w = torch.eye(2, dtype=torch.float64)              # a batch of 2 weights
    gx, gu = torch.autograd.grad(y, (x, unused), w, is_grads_batched=True,
                                 allow_unused=True, materialize_grads=True)
    gx.shape   # (2, 2): right
    gu.shape   # (3,), expected (2, 3)

Expected: gu == zeros of shape (2, 3) (what torch.func.vmap of the vjp gives, and what
stacking one grad() a row gives).
Actual: zeros of shape (3,): code that indexes or stacks the per-sample gradients breaks, or
broadcasts them silently.

Reproduces on torch 2.13.0 (CPU, float64; float32 alike); torch 2.14.1's
torch/autograd/__init__.py (read from its wheel) has the same code: materialize_grads is
applied after `_vmap` returns. No upstream report found.
Found by gradspec (deviation `torch-batched-grad-materialized-zeros-unbatched` in
deviations/torch.py).

Run: python findings/torch/batched-grad-materialized-zeros-unbatched.py - exits 1 while the
bug reproduces, 0 once fixed.
"""
import sys

import torch


def main():
    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    unused = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y = x.exp()
    w = torch.eye(2, dtype=torch.float64)
    loop = [torch.autograd.grad(y, (x, unused), row, retain_graph=True, allow_unused=True,
                                materialize_grads=True) for row in w]
    expected = torch.stack([g for _, g in loop])
    gx, gu = torch.autograd.grad(y, (x, unused), w, is_grads_batched=True,
                                 allow_unused=True, materialize_grads=True)
    print(f"torch {torch.__version__}")
    print(f"batched gradient of the used input: shape {tuple(gx.shape)} (expected (2, 2))")
    print(f"materialized gradient of the unused input: shape {tuple(gu.shape)}, "
          f"expected {tuple(expected.shape)} (the loop of one grad() a row)")
    if gu.shape != expected.shape:
        print("BUG: the materialized zeros lack the batch dimension")
        return 1
    print("fixed: the materialized zeros have the batch dimension")
    return 0


if __name__ == "__main__":
    sys.exit(main())
