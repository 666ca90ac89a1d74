"""paddle: paddle.linalg.vector_norm of a 0-d tensor over axis 0 is 0, its gradient garbage.

What is wrong: for a 0-d x, paddle.linalg.vector_norm(x, p=2.0, axis=0) returns 0.0 (p=1
too; -inf for p=inf), and its backward fills x.grad from uninitialized memory (values such as
4.6e-310 or 4e+228, changing from run to run). With axis=None the same call gives |x| and a
gradient of sign(x); torch.linalg.vector_norm(x, dim=0) of a 0-d x gives |x| (a 0-d tensor
has one element along its dim 0, as paddle.sum(x, axis=0) also takes it).

    a = paddle.to_tensor(-0.5, dtype='float64', stop_gradient=False)
    n = paddle.linalg.vector_norm(a, p=2.0, axis=0)     # 0.0
    n.backward()                                         # a.grad: garbage

Expected: 0.5, and a gradient of -1.0.
Actual: 0.0, and an arbitrary gradient.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-vector-norm-0d-axis` in deviations/paddle/ops.py).

Run: python findings/paddle/vector-norm-0d-axis.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def main():
    paddle.set_device("cpu")
    a = paddle.to_tensor(-0.5, dtype="float64", stop_gradient=False)
    n = paddle.linalg.vector_norm(a, p=2.0, axis=0)
    n.backward()
    value, grad = float(n), float(a.grad)
    print(f"paddle {paddle.__version__}")
    print(f"vector_norm(-0.5, axis=0) = {value} (expected 0.5), gradient {grad} (expected -1.0)")
    return 0 if value == 0.5 and grad == -1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
