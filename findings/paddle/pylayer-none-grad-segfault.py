"""paddle: a PyLayer backward returning None for a non-leaf input segfaults.

What is wrong: PyLayer.backward may return None for an input (documented for inputs that need
no gradient; torch reads None as a zero gradient). When that input is a non-leaf that
requires grad and no other gradient reaches its grad node, the node runs on an undefined
tensor and the process crashes (same with paddle.grad).
For a leaf input, the first backward survives (a.grad None), but a second one through the same
PyLayer node (the first with retain_graph=True) segfaults in GradNodePyLayer::operator().

    from paddle.autograd import PyLayer


    class Sign(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return paddle.sign(x)

        @staticmethod
        def backward(ctx, grad):
            return None  # sign is piecewise constant: no gradient


    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    y = Sign.apply(-a)
    paddle.autograd.backward([y])

Expected: no crash; a.grad is None (or zero), as in torch, or an error saying None
is not accepted.
Actual: the process dies with SIGSEGV ("FatalError: `Segmentation fault` is detected by the
operating system", C++ stack in ScaleGradNode::operator() -> paddle::Tensor::type()).

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-pylayer-none-grad-segfault` in deviations/paddle.py).

Run: python findings/paddle/pylayer-none-grad-segfault.py - exits 1 while the bug reproduces (the snippet
runs in a child interpreter, which crashes), 0 once fixed.
"""
import subprocess
import sys

SNIPPET = """
import warnings
warnings.simplefilter("ignore")
import paddle
from paddle.autograd import PyLayer


class Sign(PyLayer):
    @staticmethod
    def forward(ctx, x):
        return paddle.sign(x)

    @staticmethod
    def backward(ctx, grad):
        return None  # sign is piecewise constant: no gradient


a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
y = Sign.apply(-a)
paddle.autograd.backward([y])
print("survived:", a.grad)
"""


def main():
    proc = subprocess.run([sys.executable, "-c", SNIPPET], capture_output=True, text=True,
                          timeout=120)
    output = proc.stdout + proc.stderr  # Paddle prints its crash report to stdout
    print("\n".join(line for line in proc.stdout.splitlines()
                    if line.startswith(("survived:", "raised:"))))
    if proc.returncode != 0 or "survived:" not in proc.stdout:
        print(f"the child interpreter died (exit {proc.returncode}): "
              + next((line for line in output.splitlines() if "FatalError" in line),
                     "no message"))
        return 1
    print("fixed: no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
