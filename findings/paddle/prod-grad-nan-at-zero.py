"""paddle: paddle.prod's gradient is NaN where the input holds a zero.

What is wrong: prod's backward (the prod_grad kernel) computes
each element's gradient as out / x, which is 0 / 0 = NaN at a zero element; the derivative of
a product w.r.t. a factor is the product of the other factors, finite everywhere.

    a = paddle.to_tensor([0.0, 2.0, 3.0], dtype='float64', stop_gradient=False)
    paddle.prod(a).backward()
    a.grad                      # [nan, 0., 0.]

Expected: [6.0, 0.0, 0.0] (torch.prod's gradient, and finite differences: prod is a
polynomial). With an axis it is the same ([[0, 2], [3, 0]] over axis 1 -> [[nan, 0], [0, nan]]).
Actual: [nan, 0.0, 0.0].

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-prod-grad-nan-at-zero` in deviations/paddle/ops.py).

Run: python findings/paddle/prod-grad-nan-at-zero.py - exits 1 while the bug reproduces,
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
    a = paddle.to_tensor([0.0, 2.0, 3.0], dtype="float64", stop_gradient=False)
    paddle.prod(a).backward()
    got = a.grad.numpy()
    print(f"paddle {paddle.__version__}")
    print(f"grad of paddle.prod([0, 2, 3]) = {got.tolist()} (expected [6.0, 0.0, 0.0])")
    return 0 if np.allclose(got, [6.0, 0.0, 0.0]) else 1


if __name__ == "__main__":
    sys.exit(main())
