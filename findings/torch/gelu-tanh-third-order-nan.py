"""torch: gelu(approximate='tanh') has a NaN third derivative at large inputs.

What is wrong: gelu's double backward (gelu_double_backward in
torch/csrc/autograd/FunctionsManual.cpp) computes sech(u) as 1 / cosh(u), with
u = sqrt(2/pi) * (x + 0.044715 x^3). cosh(u) overflows to inf once u passes ~710 (float64;
~89 in float32), that is x >= ~26.9 (float32: ~13.1). The second derivative is still right
(1/inf = 0), but a derivative taken through it (third order and up) differentiates 1 / cosh(u)
as -sinh(u) / cosh(u)^2 = inf / inf: NaN, where the derivative is 0 to within 1e-300.
gelu's default (approximate='none') and tanh spelled out (1 - tanh^2) give 0.

    y = torch.nn.functional.gelu(x, approximate="tanh")   # x = 27.0, float64
    g = grad(y, x, create_graph=True)                     # 1.0: right
    h = grad(g, x, create_graph=True)                     # 0.0: right
    t = grad(h, x)                                        # nan: wrong

Expected: t == 0 (gelu's tanh form spelled with torch.tanh gives 0.0; the exact value is
below 1e-300).
Actual: nan.

Reproduces on torch 2.13.0 (CPU, float64 and float32). Found by gradspec (deviation
`torch-gelu-tanh-third-order-nan`, swarm exploration of test_gradients_as_values).

Run: python findings/torch/gelu-tanh-third-order-nan.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import math
import sys

import torch


def third(f, x0, dtype):
    x = torch.tensor(x0, dtype=dtype, requires_grad=True)
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (h,) = torch.autograd.grad(g, x, create_graph=True)
    (t,) = torch.autograd.grad(h, x)
    return t.item()


def gelu_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def gelu_tanh_spelled(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def main():
    print(f"torch {torch.__version__}")
    bad = []
    for dtype, x0 in ((torch.float64, 27.0), (torch.float32, 14.0)):
        actual, spelled = third(gelu_tanh, x0, dtype), third(gelu_tanh_spelled, x0, dtype)
        print(f"{dtype}, x = {x0}: gelu(tanh)''' = {actual}; spelled with torch.tanh: {spelled}")
        if not math.isfinite(actual):
            bad.append(dtype)
    print("fixed" if not bad else "BUG: gelu(approximate='tanh')'s third derivative is NaN")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
