"""paddle: a second backward through a PyLayer segfaults instead of raising.

What is wrong: after a backward without retain_graph=True, a second backward through a built-in
node raises "(Fatal) The TensorWrappers of ... do not exist ... set retain_graph=True";
through a PyLayer node the process crashes instead.
Worse, the crash does not need a freed graph: with retain_graph=True on the first backward,
where a second one must work (torch runs it), the second backward through the PyLayer node
segfaults too (`paddle.autograd.backward([y * 1.0], retain_graph=True)` twice).

    from paddle.autograd import PyLayer


    class Double(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2


    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    y = Double.apply(a)
    paddle.autograd.backward([y])
    try:
        paddle.autograd.backward([y])  # the graph was freed
    except Exception as error:  # the error a built-in node raises
        print("raised:", type(error).__name__)

Expected: the second backward raises the freed-graph error every other node raises
(torch: "Trying to backward through the graph a second time").
Actual: the process dies with SIGSEGV ("FatalError: `Segmentation fault` is detected by the
operating system", C++ stack in egr::GradNodePyLayer::operator()).

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-pylayer-backward-twice-segfault` in deviations/paddle.py).

Run: python findings/paddle/pylayer-backward-twice-segfault.py - exits 1 while the bug reproduces (the snippet
runs in a child interpreter, which crashes), 0 once fixed.
"""
import subprocess
import sys

SNIPPET = """
import warnings
warnings.simplefilter("ignore")
import paddle
from paddle.autograd import PyLayer


class Double(PyLayer):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
y = Double.apply(a)
paddle.autograd.backward([y])
try:
    paddle.autograd.backward([y])  # the graph was freed
except Exception as error:  # the error a built-in node raises
    print("raised:", type(error).__name__)
print("survived:", a.grad.numpy().tolist())
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
