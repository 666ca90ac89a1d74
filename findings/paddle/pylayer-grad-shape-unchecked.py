"""paddle: a PyLayer backward returning a wrongly shaped gradient is accepted.

What is wrong: the gradient a PyLayer's backward returns for an input is not checked against
the input's shape. It is passed on as it is, and the leaf's .grad takes its shape.

    class Double(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            g = g * 2
            return paddle.concat([g, g])   # shape [4] for an input of shape [2]

    a = paddle.to_tensor([0.5, -1.25], dtype='float64', stop_gradient=False)
    Double.apply(a).sum().backward()
    a.grad   # shape [4]

Expected: an error naming the PyLayer and the shapes (torch: "Function DoubleBackward
returned an invalid gradient at index 0 - got [4] but expected shape compatible with [2]").
Actual: no error; a.grad has shape [4] for a leaf of shape [2].

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-pylayer-grad-shape-unchecked` in deviations/paddle.py).

Run: python findings/paddle/pylayer-grad-shape-unchecked.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle
    from paddle.autograd import PyLayer


class Double(PyLayer):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        g = g * 2
        return paddle.concat([g, g])


def main():
    a = paddle.to_tensor([0.5, -1.25], dtype="float64", stop_gradient=False)
    problem = ""
    try:
        Double.apply(a).sum().backward()
        problem = (f"no error; a.grad has shape {list(a.grad.shape)} (a has shape [2]): "
                   f"{a.grad.numpy().tolist()}")
    except Exception:  # noqa: BLE001 - an error is the fixed behaviour
        pass
    print(f"paddle {paddle.__version__}")
    print(problem or "fixed: a wrongly shaped PyLayer gradient raises")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
