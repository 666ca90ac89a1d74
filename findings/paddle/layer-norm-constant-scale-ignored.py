"""paddle: F.layer_norm's input gradient ignores a weight that stops gradient.

What is wrong: y = F.layer_norm(x, shape, weight) with a weight whose stop_gradient is True (a
constant scale) computes y = x_hat * weight rightly, but x's gradient is computed as if the
weight were ones: sum(y) gets a zero gradient (up to rounding) whatever the weight. With the
same weight requiring grad, x's gradient is right; bias=None or not makes no difference.

    x = paddle.to_tensor([[0.5, -0.75, 0.2]], dtype='float64', stop_gradient=False)
    w = paddle.to_tensor([-1.25, 1.5, 0.3], dtype='float64')            # stop_gradient=True
    F.layer_norm(x, [3], w, None).sum().backward()
    x.grad                      # [[1.7e-16, -2.4e-16, 7.1e-17]]

Expected: [[-0.7764, -0.2451, 1.0215]] (torch.nn.functional.layer_norm with the same constant
weight; Paddle itself with w.stop_gradient = False).
Actual: [[1.7e-16, -2.4e-16, 7.1e-17]] (the gradient with weight ones).

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-layer-norm-constant-scale-ignored` in
deviations/paddle/ops.py).

Run: python findings/paddle/layer-norm-constant-scale-ignored.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import numpy as np
    import paddle
    import paddle.nn.functional as F


def input_grad(weight_requires_grad):
    x = paddle.to_tensor([[0.5, -0.75, 0.2]], dtype="float64", stop_gradient=False)
    w = paddle.to_tensor([-1.25, 1.5, 0.3], dtype="float64",
                         stop_gradient=not weight_requires_grad)
    F.layer_norm(x, [3], w, None).sum().backward()
    return x.grad.numpy()


def main():
    paddle.set_device("cpu")
    expected, got = input_grad(True), input_grad(False)
    print(f"paddle {paddle.__version__}")
    print(f"x's gradient, the weight requiring grad: {expected.tolist()}")
    print(f"x's gradient, the weight constant:       {got.tolist()}")
    return 0 if np.allclose(got, expected) else 1


if __name__ == "__main__":
    sys.exit(main())
