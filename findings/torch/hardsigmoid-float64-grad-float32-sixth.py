"""torch: hardsigmoid's gradient in float64 is 1/6 rounded to float32.

What is wrong: the CPU kernel of hardsigmoid's backward (hardsigmoid_backward_kernel in
aten/src/ATen/native/cpu/Activation.cpp) multiplies the incoming gradient by
`const scalar_t one_sixth(1.0f / 6.0f)` (and `Vec kOneSixthVec(1.0f / 6.0f)` in the vectorized
path): the quotient of two float literals, computed in single precision and only then widened
to double. So every float64 gradient through hardsigmoid is off by a relative 3e-8 (float32's
rounding of 1/6), over a hundred million times float64's rounding (1.1e-16). The forward,
min(max(x + 3, 0), 6) / 6, is exact in float64, and so are the gradients of the same function
spelled torch.clamp(x + 3, 0, 6) / 6 and of hardswish.

    x = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.hardsigmoid(x).sum().backward()
    x.grad   # 0.1666666716337204, expected 0.16666666666666666

Expected: x.grad == 1/6 (0.16666666666666666) where -3 < x < 3, to float64's precision, as
(torch.clamp(x + 3, 0, 6) / 6) gives.
Actual: 0.1666666716337204 (= float32(1/6)); the same through torch.func.grad.

Reproduces on torch 2.13.0 (CPU, float64). The CUDA kernel (ActivationHardsigmoidKernel.cu)
also takes `opmath_t one_sixth(1.0f / 6.0f)`, in its forward too (it multiplies by it where
the CPU forward divides by 6), so on CUDA float64 values are likely off as well; not run here.
No upstream report found.
Found by gradspec (deviation `torch-hardsigmoid-float64-grad-float32-sixth` in
deviations/torch.py).

Run: python findings/torch/hardsigmoid-float64-grad-float32-sixth.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch


def main():
    x = torch.tensor([-2.5, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    (torch.clamp(x + 3, 0, 6) / 6).sum().backward()
    expected, x.grad = x.grad, None
    torch.nn.functional.hardsigmoid(x).sum().backward()
    worst = float((x.grad - expected).abs().max())
    print(f"torch {torch.__version__}")
    print(f"expected x.grad (clamp(x + 3, 0, 6) / 6): {expected.tolist()}")
    print(f"hardsigmoid's x.grad:                      {x.grad.tolist()}")
    print(f"float32(1/6) = {float(torch.tensor(1.0 / 6.0, dtype=torch.float32))!r}")
    if worst > 1e-15:
        print(f"BUG: off by {worst:.3g} ({worst * 6:.3g} relative)")
        return 1
    print("fixed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
