"""paddle: removing a tensor hook from inside the hook segfaults.

What is wrong: a hook registered with Tensor.register_hook that removes itself through its
handle (a one-shot hook, a common pattern) crashes the process during backward, in
GradNodeBase::ApplyGradientHooks.

    a = paddle.to_tensor([1.0, 2.0], dtype="float64", stop_gradient=False)
    t = a * 2
    handle = []


    def once(grad):
        handle[0].remove()  # a one-shot hook
        return None


    handle.append(t.register_hook(once))
    (t * t).sum().backward()

Expected: the hook runs once and is removed; a.grad == [8., 16.] (torch allows
removing a hook from inside it).
Actual: the process dies with SIGSEGV (nearly always; the script tries 100 times) ("FatalError: `Segmentation fault` is detected by the
operating system", C++ stack in egr::GradNodeBase::ApplyGradientHooks).

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-hook-removes-itself-segfault` in deviations/paddle.py).

Run: python findings/paddle/hook-removes-itself-segfault.py - exits 1 while the bug reproduces (the snippet
runs in a child interpreter, which crashes), 0 once fixed.
"""
import subprocess
import sys

SNIPPET = """
import warnings
warnings.simplefilter("ignore")
import paddle


def once(grad):
    handle[0].remove()  # a one-shot hook
    return None


for _ in range(100):  # a use after free: it does not crash every time
    a = paddle.to_tensor([1.0, 2.0], dtype="float64", stop_gradient=False)
    t = a * 2
    handle = [t.register_hook(once)]
    (t * t).sum().backward()
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
