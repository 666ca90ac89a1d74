"""paddle: a backward through the create_graph gradient of an unsqueeze/transpose segfaults.

What is wrong: paddle.grad(create_graph=True) of paddle.unsqueeze's output w.r.t. its input,
with a gradient weight that stops gradient (any plain tensor: torch's default), returns a
gradient whose grad node is UnsqueezeDoubleGradNode; a backward through that gradient (a loss
using it, a gradient penalty) crashes the process in that node. The same for paddle.squeeze
(SqueezeDoubleGradNode) and paddle.transpose / paddle.swapaxes (TransposeDoubleGradNode).
It crashes where no path past the double-grad node leads to a leaf (the weight stops gradient,
and so does whatever the op's gradient meets before the grad's input); reshape's, expand's
and a slice's double-grad nodes run in the same place.

    a = paddle.to_tensor([[0.5, -1.25]], dtype="float64", stop_gradient=False)
    t1 = paddle.unsqueeze(a, 0)
    w = paddle.ones_like(t1)  # stops gradient
    (g,) = paddle.grad([t1], [a], [w], create_graph=True)
    (t1.sum() + (g * g).sum()).backward()

Expected: a.grad == [[1., 1.]] (g is w reshaped: it does not depend on a; torch returns it).
Actual: the process dies with SIGSEGV ("FatalError: `Segmentation fault` is detected by the
operating system").

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-view-double-grad-segfault` in deviations/paddle.py).

Run: python findings/paddle/view-double-grad-segfault.py - exits 1 while the bug reproduces (each
snippet runs in a child interpreter, which crashes), 0 once fixed.
"""
import signal
import subprocess
import sys

SNIPPET = """
import warnings
warnings.simplefilter("ignore")
import paddle

a = paddle.to_tensor(LEAF, dtype="float64", stop_gradient=False)
t1 = OP(a)
w = paddle.ones_like(t1)  # stops gradient
(g,) = paddle.grad([t1], [a], [w], create_graph=True)
(t1.sum() + (g * g).sum()).backward()
print("survived:", a.grad.numpy().tolist())
"""

OPS = {  # name: (the leaf's values, the op)
    "unsqueeze": ("[[0.5, -1.25]]", "paddle.unsqueeze(a, 0)"),
    "squeeze": ("[[[0.5, -1.25]]]", "paddle.squeeze(a, axis=0)"),
    "transpose": ("[[0.5, -1.25]]", "paddle.transpose(a, [1, 0])"),
}


def main():
    crashed = 0
    for name, (leaf, op) in OPS.items():
        snippet = SNIPPET.replace("LEAF", leaf).replace("OP(a)", op)
        proc = subprocess.run([sys.executable, "-c", snippet],
                              capture_output=True, text=True, timeout=120)
        output = proc.stdout + proc.stderr  # Paddle prints its crash report to stdout
        survived = [line for line in proc.stdout.splitlines() if line.startswith("survived:")]
        if proc.returncode != 0 or not survived:
            crashed += 1
            how = (f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exit {proc.returncode}")
            print(f"{name}: the child interpreter died ({how}): "
                  + next((line for line in output.splitlines() if "FatalError" in line),
                         "no message"))
        else:
            print(f"{name}: {survived[0]}")
    if crashed:
        return 1
    print("fixed: no crash")
    return 0


if __name__ == "__main__":
    sys.exit(main())
