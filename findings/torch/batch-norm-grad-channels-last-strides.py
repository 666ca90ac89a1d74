"""torch: batch_norm's backward (training mode, CPU) returns a wrong input gradient when the
incoming gradient has channels-last-like strides with a size-1 last dim.

What is wrong: for a contiguous input x of shape (N, C, H, 1), an incoming gradient that is
transpose(1, 2) of a contiguous (N, H, C, 1) tensor (strides (H*C, 1, C, 1): channels-last
contiguous, but not what suggest_memory_format calls channels-last) gives NativeBatchNormBackward0
a wrong grad_input. The same gradient made contiguous gives the right one, and so do
canonical channels-last gradients (strides (H*C, 1, C, C)).

    x = torch.tensor(..., shape (2, 2, 2, 1), requires_grad=True)
    y = torch.nn.functional.batch_norm(x, None, None, training=True)
    torch.autograd.grad(y.transpose(1, 2), x, w)      # w contiguous, shape (2, 2, 2, 1)

Expected: the gradient of the same call with w.transpose(1, 2).contiguous() as the incoming
gradient of y (finite differences agree with it to 1e-11).
Actual: a different gradient (max abs difference 1.26 on the values below).

Reproduces on torch 2.13.0 (CPU, float32 and float64; torch.func.vjp too). No upstream report
found. Found by gradspec (deviation `torch-batch-norm-grad-channels-last-strides`).

Run: python findings/torch/batch-norm-grad-channels-last-strides.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch


def main():
    x = torch.tensor([[[[-1.25], [1.5]], [[-0.5], [0.75]]], [[[-1.0], [1.25]], [[-1.5], [0.5]]]],
                     dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[[[-1.0], [1.25]], [[-1.5], [0.5]]], [[[-0.75], [1.0]], [[-1.25], [1.5]]]],
                     dtype=torch.float64)
    y = torch.nn.functional.batch_norm(x, None, None, training=True)
    (actual,) = torch.autograd.grad(y.transpose(1, 2), x, w, retain_graph=True)
    (expected,) = torch.autograd.grad(y, x, w.transpose(1, 2).contiguous())
    print(f"torch {torch.__version__}")
    print(f"incoming gradient strides: {w.transpose(1, 2).stride()}")
    print(f"expected: {expected.flatten().tolist()}")
    print(f"actual:   {actual.flatten().tolist()}")
    ok = torch.allclose(actual, expected, rtol=1e-10, atol=1e-12)
    print("fixed" if ok else "BUG: the gradient depends on the incoming gradient's strides")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
