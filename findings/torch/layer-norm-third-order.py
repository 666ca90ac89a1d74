"""torch: third derivatives of layer_norm are silently wrong.

What is wrong: layer_norm's double backward (layer_norm_double_backward in
torch/csrc/autograd/FunctionsManual.cpp) takes the forward's saved mean and inverse std as
values without autograd history, so a derivative taken through it (third order and up) treats
them as constants, where they depend on the input. First and second derivatives are right.

    y = torch.nn.functional.layer_norm(x, (4,))                      # x of shape (3, 4)
    g = grad(y, x, gy, create_graph=True)                            # right
    h = grad((g * u).sum(), x, create_graph=True)                    # right
    t = grad((h * v).sum(), x)                                       # wrong

Expected: t, the third directional derivative, equal to central differences of torch's own
(right) second derivative (h * v).sum() in x, as layer_norm spelled with mean, var and rsqrt
gives.
Actual: off by 11.1 on the values below, where the derivative's largest entry is 8.66.

Reproduces on torch 2.13.0 (CPU, float64; torch.func.vjp too). Upstream:
pytorch/pytorch#175754 (open PR #176234 makes torch raise instead of answering). Found by
gradspec (deviation `torch-layer-norm-third-order`).

Run: python findings/torch/layer-norm-third-order.py - exits 1 while the bug reproduces, 0 once
fixed (or once torch raises instead of answering).
"""
import sys

import torch

torch.set_default_dtype(torch.float64)
SHAPE = (3, 4)


def layer_norm(x):
    return torch.nn.functional.layer_norm(x, (4,))


def main():
    torch.manual_seed(0)
    x0, u, v, gy = (torch.randn(SHAPE) for _ in range(4))

    def second(x, create):
        """(h * v).sum()'s gradient in x (create) or h itself, h the second derivative."""
        x = x.detach().requires_grad_()
        (g,) = torch.autograd.grad(layer_norm(x), x, gy, create_graph=True)
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
    print("fixed" if ok else "BUG: layer_norm's third derivative is wrong")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
