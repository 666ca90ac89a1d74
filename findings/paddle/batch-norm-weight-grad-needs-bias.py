"""paddle: F.batch_norm's weight gets no gradient unless its bias is given and requires grad.

What is wrong: in training mode, F.batch_norm(x, mean, var, weight, bias=None) (or a bias
with stop_gradient=True) leaves the weight's gradient None although the weight requires grad
and the output depends on it (y = x_hat * weight); a bias given without a differentiable
weight likewise gets none. Only with both requiring grad do both get their gradients. x's own
gradient is right.

    x = paddle.to_tensor([[1., 2.], [3., 5.], [0., 1.]], dtype='float64', stop_gradient=False)
    w = paddle.to_tensor([1.5, 0.5], dtype='float64', stop_gradient=False)
    y = F.batch_norm(x, paddle.zeros([2], 'float64'), paddle.ones([2], 'float64'), w, None,
                     training=True)
    (y * g).sum().backward()
    w.grad                      # None

Expected: sum over the batch of g * x_hat (torch.nn.functional.batch_norm(x, None, None, w,
None, training=True) gives it; so does Paddle itself with a bias that requires grad).
Actual: None.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-batch-norm-affine-grad-needs-both` in
deviations/paddle/ops.py).

Run: python findings/paddle/batch-norm-weight-grad-needs-bias.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import numpy as np
    import paddle
    import paddle.nn.functional as F


def weight_grad(with_bias):
    x = paddle.to_tensor([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]], dtype="float64",
                         stop_gradient=False)
    w = paddle.to_tensor([1.5, 0.5], dtype="float64", stop_gradient=False)
    b = paddle.to_tensor([0.0, 0.0], dtype="float64", stop_gradient=False) if with_bias else None
    g = paddle.to_tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float64")
    y = F.batch_norm(x, paddle.zeros([2], "float64"), paddle.ones([2], "float64"), w, b,
                     training=True)
    (y * g).sum().backward()
    return None if w.grad is None else w.grad.numpy()


def main():
    paddle.set_device("cpu")
    expected, got = weight_grad(True), weight_grad(False)
    print(f"paddle {paddle.__version__}")
    print(f"weight's gradient with a bias: {expected.tolist()}")
    print(f"weight's gradient with bias=None: {None if got is None else got.tolist()}")
    return 0 if got is not None and np.allclose(got, expected) else 1


if __name__ == "__main__":
    sys.exit(main())
