"""paddle: the retained .grad of a reshape's output is overwritten by a later grad kernel.

What is wrong: retain_grads() on the output of paddle.reshape (paddle.unsqueeze,
paddle.squeeze) keeps the incoming gradient tensor, which reshape's backward passes on as the
gradient of its input sharing the same memory; the next grad kernel (tanh's, exp's, sigmoid's,
sqrt's, log's, sin's, pow's...) writes its result into that buffer in place, so the retained
.grad ends up holding the gradient w.r.t. the tensor before that op, not the reshape's output.

    a = paddle.to_tensor([[0.5, -0.75]], dtype="float64", stop_gradient=False)
    t1 = paddle.tanh(a)
    t2 = paddle.reshape(t1, [2, 1])
    t2.retain_grads()
    t2.sum().backward()
    print(t2.grad)

Expected: t2.grad == [[1.], [1.]] (d sum / d t2; torch's retain_grad gives it).
Actual: t2.grad == [[0.786...], [0.596...]], which is 1 - tanh(a)**2, a.grad.

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-retained-grad-of-reshape-overwritten` in
deviations/paddle.py).

Run: python findings/paddle/retained-grad-of-reshape-overwritten.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

warnings.simplefilter("ignore")
import paddle  # noqa: E402


def main():
    wrong = 0
    for name, view in (("reshape", lambda t: paddle.reshape(t, [2, 1])),
                       ("unsqueeze", lambda t: paddle.unsqueeze(t, 0)),
                       ("squeeze", lambda t: paddle.squeeze(t, axis=0))):
        a = paddle.to_tensor([[0.5, -0.75]], dtype="float64", stop_gradient=False)
        t1 = paddle.tanh(a)
        t2 = view(t1)
        t2.retain_grads()
        t2.sum().backward()
        got = t2.grad.numpy().ravel().tolist()
        print(f"{name}: t2.grad = {got} (expected [1.0, 1.0]; a.grad = "
              f"{a.grad.numpy().ravel().tolist()})")
        wrong += got != [1.0, 1.0]
    if wrong:
        return 1
    print("fixed: the retained gradients are right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
