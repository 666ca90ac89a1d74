"""torch: an aten op on an efficient ZeroTensor and a Python scalar segfaults under a
TorchDispatchMode, and so torch.compile(backend="aot_eager") of torch.func transforms
through abs's double backward crashes the process.

What is wrong: sgn's backward for a real input returns an efficient ZeroTensor
(`at::_efficientzerotensor`, no storage); abs's gradient is sgn(x) * grad, so a derivative
of a gradient through abs (torch.func.grad of a function holding a torch.func.grad through
abs, or through torch.sgn) hands that ZeroTensor to the backward formulas before it.
pow's backward (`grad * (exponent * self.pow(exponent - 1))`) and mse_loss's double
backward (`2 * grad`) apply `aten.mul.Scalar` to it. Eagerly that is fine (a ZeroTensor
times 2 is one); under any TorchDispatchMode it segfaults, and aot_eager runs a compiled
graph's first call under one (`_AnalyzeCustomOpInputOutputMode`), so the compiled function
crashes where eager torch.func returns zeros. `aten.add.Scalar` there raises a garbled
"Expected a value of type 'Tensor' ... found type 'int'" instead. Related upstream reports:
pytorch/pytorch#108983 (ZeroTensor under Python dispatch, open) and #197067 (torch.compile
segfaults on sgn's ZeroTensor, open); this path (a dispatch mode, aot_eager) is not in them.

    z = torch.ops.aten._efficientzerotensor.default([2], dtype=torch.float64)
    with SomeTorchDispatchMode():
        torch.ops.aten.mul.Scalar(z, 2)                        # SIGSEGV

    f = lambda a: torch.func.grad(
        lambda a: torch.sgn(torch.func.grad(lambda a: (a ** 3).sum())(a)).sum())(a)
    f(a)                                                       # zeros
    torch.compile(f, backend="aot_eager")(a)                   # SIGSEGV

Expected: zeros, as eager (sgn is piecewise constant), or a Python error.
Actual: the process dies with SIGSEGV.

Reproduces on torch 2.13.0 (CPU, float32 and float64). Found by gradspec (backend
torch-func-compile: the conformance matrix ran the program of deviation
`torch-mse-loss-double-backward-zerotensor` under it; deviation
`torch-func-compile-zerotensor-scalar-op-segfault`).

Run: python findings/torch-func-compile/zerotensor-scalar-op-segfault.py - exits 1 while the
bug reproduces (each snippet runs in a child interpreter, which crashes), 0 once fixed.
"""
import signal
import subprocess
import sys

SNIPPETS = {
    "mul.Scalar on a ZeroTensor under a TorchDispatchMode": """
import torch
from torch.utils._python_dispatch import TorchDispatchMode

class Passthrough(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))

z = torch.ops.aten._efficientzerotensor.default([2], dtype=torch.float64)
with Passthrough():
    r = torch.ops.aten.mul.Scalar(z, 2)
print("survived:", r.tolist())
""",
    "torch.compile(aot_eager) of grad(sgn(grad(pow)))": """
import torch
import torch.func

a = torch.tensor([0.5, -0.75], dtype=torch.float64)
f = lambda a: torch.func.grad(
    lambda a: torch.sgn(torch.func.grad(lambda a: (a ** 3).sum())(a)).sum())(a)
print("eager:", f(a).clone().tolist())  # clone: eager returns a ZeroTensor
print("survived:", torch.compile(f, backend="aot_eager")(a).clone().tolist())
""",
}


def main():
    import torch
    print(f"torch {torch.__version__}")
    crashed = 0
    for label, snippet in SNIPPETS.items():
        proc = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True,
                              timeout=300)
        survived = [line for line in proc.stdout.splitlines() if line.startswith("survived:")]
        if proc.returncode != 0 or not survived:
            crashed += 1
            how = (f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exit {proc.returncode}")
            print(f"{label}: the child interpreter died ({how})")
        else:
            print(f"{label}: {survived[0]}")
    if crashed:
        print("BUG: an op on an efficient ZeroTensor and a scalar crashes under a dispatch mode")
        return 1
    print("fixed: no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
