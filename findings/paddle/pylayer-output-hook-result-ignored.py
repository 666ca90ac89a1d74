"""paddle: the gradient a tensor hook returns on a PyLayer's output is ignored.

What is wrong: Tensor.register_hook(hook) on the output of a PyLayer: the hook is called, but
the gradient it returns does not replace the one passed to PyLayer.backward (on the output of
a built-in op it does).

    class Triple(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 3.0
        @staticmethod
        def backward(ctx, g):
            return g * 3.0
    a = paddle.to_tensor(0.5, dtype='float64', stop_gradient=False)
    f = Triple.apply(a)
    f.register_hook(lambda g: g * 2.0)
    (f * 1.0).backward()
    a.grad   # 3.0

Expected: a.grad == 6.0 (the hook doubles f's gradient), as torch does for a custom Function's
output and Paddle does for `a * 3.0`.
Actual: a.grad == 3.0: the hook runs (it sees 1.0) but its result is dropped.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-pylayer-output-hook-result-ignored` in deviations/paddle.py).

Run: python findings/paddle/pylayer-output-hook-result-ignored.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle
    from paddle.autograd import PyLayer


class Triple(PyLayer):
    @staticmethod
    def forward(ctx, x):
        return x * 3.0

    @staticmethod
    def backward(ctx, g):
        return g * 3.0


def main():
    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    f = Triple.apply(a)
    f.register_hook(lambda g: g * 2.0)
    (f * 1.0).backward()
    got = float(a.grad)
    print(f"paddle {paddle.__version__}: a.grad = {got} (expected 6.0; 3.0 when the hook's "
          f"result is ignored)")
    return 0 if got == 6.0 else 1


if __name__ == "__main__":
    sys.exit(main())
