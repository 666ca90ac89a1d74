"""paddle: backward/grad accept a gradient weight of the wrong shape; .grad gets that shape.

What is wrong: paddle.autograd.backward(tensors, grad_tensors) and paddle.grad(outputs, inputs,
grad_outputs) do not check that each grad tensor has its output's shape. A wrongly shaped
weight flows through the graph (here broadcast by the scale node's backward), and the leaf's
.grad ends with a shape the leaf does not have. Tensor.backward(grad_tensor) does check
("Tensor shape not match").

    a = paddle.to_tensor([0.5, -1.25], dtype='float64', stop_gradient=False)
    y = a * 3
    paddle.autograd.backward([y], [paddle.to_tensor([1.0, 2.0, 3.0], dtype='float64')])
    a.grad   # shape [3]: [3., 6., 9.]

Expected: an error (the grad tensor's shape [3] differs from y's shape [2]), as torch raises
"Mismatch in shape" and Paddle's own Tensor.backward raises; a.grad stays None.
Actual: no error; a.grad has shape [3] for a leaf of shape [2] (paddle.grad returns a
gradient of shape [3] for it too).

Worse, through some nodes the wrong shape corrupts the heap: after `loss = paddle.sum(a)` of
a [1, 2] leaf, `paddle.autograd.backward([loss], [<a [2] tensor>])` leaves a.grad unprintable
or aborts later ("malloc(): invalid size", "double free or corruption"); this script avoids that
path so that it exits cleanly.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-grad-weight-shape-unchecked` in deviations/paddle.py).

Run: python findings/paddle/grad-weight-shape-unchecked.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def leaf():
    return paddle.to_tensor([0.5, -1.25], dtype="float64", stop_gradient=False)


def weight():
    return paddle.to_tensor([1.0, 2.0, 3.0], dtype="float64")


def main():
    problems = []
    a = leaf()
    try:
        paddle.autograd.backward([a * 3], [weight()])
        problems.append(f"paddle.autograd.backward: no error; a.grad has shape "
                        f"{list(a.grad.shape)} (a has shape [2]): {a.grad.numpy().tolist()}")
    except Exception:  # noqa: BLE001 - an error is the fixed behaviour
        pass
    a = leaf()
    try:
        g, = paddle.grad([a * 3], [a], [weight()])
        problems.append(f"paddle.grad: no error; the gradient has shape {list(g.shape)}")
    except Exception:  # noqa: BLE001
        pass
    print(f"paddle {paddle.__version__}")
    print("\n".join(problems) or "fixed: a wrongly shaped grad tensor raises")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
