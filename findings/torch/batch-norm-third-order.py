"""torch: third derivatives of batch_norm (training mode) are silently wrong.

What is wrong: batch_norm's double backward (batchnorm_double_backward in
torch/csrc/autograd/FunctionsManual.cpp) takes the forward's saved mean and inverse std as
values without autograd history, so a derivative taken through it (third order and up) treats
them as constants, where they depend on the input. First and second derivatives are right.

    y = torch.nn.functional.batch_norm(x, None, None, training=True)  # x (4, 3)
    g = grad(y, x, gy, create_graph=True)                             # right
    h = grad((g * u).sum(), x, create_graph=True)                     # right
    t = grad((h * v).sum(), x)                                        # wrong

Expected: t, the third directional derivative, equal to central differences of torch's own
(right) second derivative (h * v).sum() in x, as batch_norm spelled with mean, var and rsqrt
gives.
Actual: off by 2.97 on the values below, where the derivative's largest entry is 3.16.

Reproduces on torch 2.13.0 (CPU, float64; torch.func.vjp too). Upstream:
pytorch/pytorch#186256 (closed; PR #186779 makes torch raise instead of answering), the same
cause as layer_norm's pytorch/pytorch#175754. Found by gradspec (deviation
`torch-batch-norm-third-order`).

Run: python findings/torch/batch-norm-third-order.py - exits 1 while the bug reproduces, 0 once
fixed (or once torch raises instead of answering).
"""
import sys

import torch

torch.set_default_dtype(torch.float64)
SHAPE = (4, 3)


def batch_norm(x):
    return torch.nn.functional.batch_norm(x, None, None, training=True)


def main():
    torch.manual_seed(0)
    x0, u, v, gy = (torch.randn(SHAPE) for _ in range(4))

    def second(x, create):
        """(h * v).sum()'s gradient in x (create) or h itself, h the second derivative."""
        x = x.detach().requires_grad_()
        (g,) = torch.autograd.grad(batch_norm(x), x, gy, create_graph=True)
        (h,) = torch.autograd.grad((g * u).sum(), x, create_graph=True)
        if not create:
            return h.detach()
        (t,) = torch.autograd.grad((h * v).sum(), x)
        return t

    print(f"torch {torch.__version__}")
    try:
        actual = second(x0, True)
    except RuntimeError as exc:
        print(f"raises (fixed by refusing): {exc}")
        return 0
    eps, expected = 1e-5, torch.zeros(SHAPE)
    for i in range(x0.numel()):
        e = torch.zeros(x0.numel())
        e[i] = eps
        e = e.reshape(SHAPE)
        expected.view(-1)[i] = ((second(x0 + e, False) - second(x0 - e, False)) * v).sum() / (
            2 * eps)
    err, scale = (actual - expected).abs().max().item(), expected.abs().max().item()
    print(f"expected (central differences): {expected.flatten().tolist()}")
    print(f"actual:                         {actual.flatten().tolist()}")
    print(f"third derivative off by {err:.3g} (largest entry {scale:.3g})")
    ok = err <= 1e-5 * max(1.0, scale)
    print("fixed" if ok else "BUG: batch_norm's third derivative is wrong")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
