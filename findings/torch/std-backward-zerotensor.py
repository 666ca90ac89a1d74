"""torch: a backward through std raises "ZeroTensors are immutable" after sgn.

What is wrong: std's backward (std_backward in torch/csrc/autograd/FunctionsManual.cpp)
computes `(grad / (result * 2)).masked_fill_(result == 0, 0)`, in place. sgn's backward for a
real input hands back an efficient ZeroTensor (`at::_efficientzerotensor`), and so does abs's
double backward (abs's gradient is sgn(x) * grad); divided, it is still a ZeroTensor, and the
in-place masked_fill_ on it raises. var, norm and the other reductions are fine; sign (whose
backward is plain zeros) is fine.

    y = torch.sgn(x.std())
    y.backward()                                          # raises

    t = x.std()
    g, = torch.autograd.grad(t.abs(), t, create_graph=True)
    g.backward()                                          # raises (abs's double backward)

Expected: x.grad == zeros (sgn is piecewise constant), as with torch.sign or x.var().
Actual: RuntimeError: ZeroTensors are immutable. Please use the materialized zero tensor
obtained using .clone() if you want a mutable tensor.

Reproduces on torch 2.13.0 (CPU, float32 and float64). Found by gradspec (deviation
`torch-std-backward-zerotensor`, swarm exploration of test_gradients_as_values); no upstream
report found.

Run: python findings/torch/std-backward-zerotensor.py - exits 1 while the bug reproduces, 0
once fixed.
"""
import sys

import torch


def main():
    print(f"torch {torch.__version__}")
    bad = []
    for label, f in (("sgn(x.std())", lambda x: torch.sgn(x.std())),
                     ("abs's double backward", None)):
        x = torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)
        try:
            if f is not None:
                f(x).backward()
            else:
                t = x.std()
                (g,) = torch.autograd.grad(t.abs(), t, create_graph=True)
                g.backward()
            print(f"{label}: x.grad = {x.grad.tolist()}")
        except RuntimeError as exc:
            print(f"{label}: raises {str(exc).splitlines()[0]}")
            bad.append(label)
    print("fixed" if not bad else "BUG: std's backward writes into a ZeroTensor in place")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
