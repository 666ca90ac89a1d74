"""torch: a leaf's .grad can be an efficient ZeroTensor, and the next backward raises.

What is wrong: sgn's backward for a real input (sgn_backward in
torch/csrc/autograd/FunctionsManual.cpp) returns `at::_efficientzerotensor`, a zero tensor
with no storage; so does abs's double backward (abs's gradient is sgn(x) * grad). Where a
leaf's .grad is None, AccumulateGrad stores the incoming gradient as it is, so .grad becomes
that ZeroTensor. It is immutable: the next backward that accumulates into .grad raises, and so
do optimizer.zero_grad(set_to_none=False) and clip_grad_norm_; .grad.tolist() and .numpy()
fail on it too. torch.sign (whose backward is plain zeros) is fine.

    torch.sgn(x).sum().backward()      # x.grad is a ZeroTensor
    x.exp().sum().backward()           # raises

    g, = torch.autograd.grad(x.abs().sum(), x, create_graph=True)
    g.sum().backward()                 # x.grad is a ZeroTensor (abs's double backward)
    x.exp().sum().backward()           # raises

Expected: x.grad == exp(x) after the second backward (zeros plus exp(x)), as with torch.sign.
Actual: RuntimeError: ZeroTensors are immutable. Please use the materialized zero tensor
obtained using .clone() if you want a mutable tensor.

Reproduces on torch 2.13.0 (CPU, float32 and float64). Found by gradspec (deviation
`torch-leaf-grad-zerotensor`, while stating mse_loss's double backward bug); no upstream
report found.

Run: python findings/torch/leaf-grad-zerotensor.py - exits 1 while the bug reproduces, 0
once fixed.
"""
import sys

import torch


def _sgn(x):
    torch.sgn(x).sum().backward()


def _abs_double_backward(x):
    (g,) = torch.autograd.grad(x.abs().sum(), x, create_graph=True)
    g.sum().backward()


def _sign(x):
    torch.sign(x).sum().backward()


def main():
    print(f"torch {torch.__version__}")
    bad = []
    for label, first in (("sgn", _sgn), ("abs's double backward", _abs_double_backward),
                         ("sign (control)", _sign)):
        x = torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)
        first(x)
        try:
            x.exp().sum().backward()
            ok = torch.allclose(x.grad, x.detach().exp())
            print(f"{label}, then exp's backward: x.grad = {x.grad.tolist()}"
                  + ("" if ok else " (expected exp(x))"))
        except RuntimeError as exc:
            ok = False
            print(f"{label}, then exp's backward: raises {str(exc).splitlines()[0]}")
        if not ok:
            bad.append(label)
    print("fixed" if not bad else "BUG: a leaf's .grad is an immutable ZeroTensor")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
