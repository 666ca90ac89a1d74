"""paddle: paddle.lerp's tensor weight gets no gradient.

What is wrong: paddle.lerp(x, y, weight) = x + weight * (y - x) takes a Tensor weight, and a
weight that requires grad makes the output require grad, but lerp's backward (lerp_grad)
computes x's and y's gradients only: the weight's .grad stays None, and
paddle.grad(out, [weight]) raises "The 0-th input does not appear in the backward graph".

    x = paddle.to_tensor([1.0, 2.0], dtype='float64', stop_gradient=False)
    y = paddle.to_tensor([3.0, 5.0], dtype='float64', stop_gradient=False)
    w = paddle.to_tensor([0.25, 0.5], dtype='float64', stop_gradient=False)
    paddle.lerp(x, y, w).sum().backward()
    w.grad                      # None

Expected: y - x = [2.0, 3.0] (torch.lerp's weight gradient; so does x + w * (y - x) in Paddle).
Actual: None (x.grad and y.grad are right).

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-lerp-weight-no-grad` in deviations/paddle/ops.py).

Run: python findings/paddle/lerp-weight-no-grad.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import numpy as np
    import paddle


def main():
    paddle.set_device("cpu")
    x = paddle.to_tensor([1.0, 2.0], dtype="float64", stop_gradient=False)
    y = paddle.to_tensor([3.0, 5.0], dtype="float64", stop_gradient=False)
    w = paddle.to_tensor([0.25, 0.5], dtype="float64", stop_gradient=False)
    paddle.lerp(x, y, w).sum().backward()
    got = None if w.grad is None else w.grad.numpy()
    print(f"paddle {paddle.__version__}")
    print(f"weight's gradient: {None if got is None else got.tolist()} (expected [2.0, 3.0])")
    return 0 if got is not None and np.allclose(got, [2.0, 3.0]) else 1


if __name__ == "__main__":
    sys.exit(main())
