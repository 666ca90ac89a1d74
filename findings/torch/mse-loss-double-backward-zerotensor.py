"""torch: mse_loss's double backward raises "ZeroTensors are immutable" after sgn.

What is wrong: mse_loss's double backward (mse_loss_double_backward in
torch/csrc/autograd/FunctionsManual.cpp) computes `grad_input = 2 * grad` and then, for
reduction='mean', `grad_input.div_(input.sym_numel())`, in place. sgn's backward for a real
input hands back an efficient ZeroTensor (`at::_efficientzerotensor`), and so does abs's
double backward (abs's gradient is sgn(x) * grad); twice a ZeroTensor is still one, and the
in-place div_ on it raises. reduction='sum' and 'none' (no div_) are fine; a first-order
backward through abs(mse_loss(a, b)) is fine.

    t = mse_loss(a, b)
    g, = torch.autograd.grad(t, a, create_graph=True)
    torch.sgn(g).sum().backward()                         # raises

    h, = torch.autograd.grad(g.abs().sum(), a, create_graph=True)
    h.sum().backward()                                    # raises (abs's double backward)

Expected: a.grad == zeros (sgn is piecewise constant; so is abs's derivative), as with
reduction='sum'.
Actual: RuntimeError: ZeroTensors are immutable. Please use the materialized zero tensor
obtained using .clone() if you want a mutable tensor.

Reproduces on torch 2.13.0 (CPU, float32 and float64), under torch.func.grad too. Found by gradspec (deviation
`torch-mse-loss-double-backward-zerotensor`, a HypoFuzz campaign over the op vocabulary); no
upstream report found.

Run: python findings/torch/mse-loss-double-backward-zerotensor.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import torch
import torch.nn.functional as F


def _sgn_of_gradient(a, b, reduction):
    (g,) = torch.autograd.grad(F.mse_loss(a, b, reduction=reduction), a, create_graph=True)
    torch.sgn(g).sum().backward()


def _abs_double_backward(a, b, reduction):
    (g,) = torch.autograd.grad(F.mse_loss(a, b, reduction=reduction), a, create_graph=True)
    (h,) = torch.autograd.grad(g.abs().sum(), a, create_graph=True)
    h.sum().backward()


def main():
    print(f"torch {torch.__version__}")
    bad = []
    for label, f in (("sgn of mse_loss's gradient", _sgn_of_gradient),
                     ("abs's double backward", _abs_double_backward)):
        for reduction in ("mean", "sum"):
            a = torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)
            b = torch.tensor([0.25, 1.5], dtype=torch.float64)
            try:
                f(a, b, reduction)
                # clone: a.grad is sgn's efficient ZeroTensor, which tolist() cannot read
                # (findings/torch/leaf-grad-zerotensor.py, another bug)
                print(f"{label}, reduction={reduction!r}: a.grad = {a.grad.clone().tolist()}")
            except RuntimeError as exc:
                print(f"{label}, reduction={reduction!r}: raises {str(exc).splitlines()[0]}")
                bad.append((label, reduction))
    print("fixed" if not bad else
          "BUG: mse_loss's double backward divides a ZeroTensor in place")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
