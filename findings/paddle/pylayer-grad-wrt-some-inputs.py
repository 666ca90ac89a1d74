"""paddle: paddle.grad w.r.t. some of a PyLayer's inputs raises unless backward returns None.

What is wrong: paddle.grad(outputs, inputs) through a PyLayer with two inputs that both
require grad, asked for the gradient of one of them, marks the other one's slot as stopping
gradient, and then rejects the gradient the PyLayer's backward returns for it: ValueError
"backward function should return None at 1 position, because it's forward Tensor's
stopgradient is true". The backward cannot know (PyLayerContext has no needs_input_grad),
and the same PyLayer works with Tensor.backward() and with paddle.grad w.r.t. both inputs.

    class Mul(PyLayer):
        @staticmethod
        def forward(ctx, x, y):
            return x * y
        @staticmethod
        def backward(ctx, g):
            return g * 2, g * 3
    a = paddle.to_tensor(0.5, dtype='float64', stop_gradient=False)
    b = paddle.to_tensor(-1.25, dtype='float64', stop_gradient=False)
    paddle.grad([Mul.apply(a, b)], [a])     # ValueError: should return None at 1 position

Expected: [2.0] (what backward returns for x), as torch.autograd.grad returns (it drops the
gradient of an input it was not asked for).
Actual: ValueError.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-pylayer-grad-wrt-some-inputs` in deviations/paddle.py).

Run: python findings/paddle/pylayer-grad-wrt-some-inputs.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle
    from paddle.autograd import PyLayer


class Mul(PyLayer):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return g * 2, g * 3


def main():
    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    b = paddle.to_tensor(-1.25, dtype="float64", stop_gradient=False)
    print(f"paddle {paddle.__version__}")
    try:
        (ga,) = paddle.grad([Mul.apply(a, b)], [a])
    except ValueError as exc:
        print("paddle.grad([Mul.apply(a, b)], [a]) raised:", str(exc).splitlines()[0])
        return 1
    print(f"paddle.grad([Mul.apply(a, b)], [a]) = [{float(ga)}] (expected [2.0])")
    return 0 if float(ga) == 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
