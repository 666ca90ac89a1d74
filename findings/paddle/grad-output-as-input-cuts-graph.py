"""paddle: paddle.grad w.r.t. [a, y] of y = f(a) says a "does not appear in the backward graph".

What is wrong: when one of paddle.grad's inputs is also one of its outputs, the backward stops
at that tensor: the other inputs, which the output does depend on, are reported as unused
(InvalidArgument, "The 0-th input does not appear in the backward graph"), or returned as None
with allow_unused=True.

    a = paddle.to_tensor(0.5, dtype='float64', stop_gradient=False)
    y = a * 2.0
    paddle.grad([y], [a, y])        # raises: the 0-th input does not appear in the graph

Expected: [2.0, 1.0] (dy/da, and dy/dy = the grad weight), as torch.autograd.grad returns;
paddle.grad([y * 3.0], [a, y]) does return [6.0, 3.0].
Actual: InvalidArgument; with allow_unused=True, [None, 1.0].

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-grad-output-as-input-cuts-graph` in deviations/paddle.py).

Run: python findings/paddle/grad-output-as-input-cuts-graph.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def main():
    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    y = a * 2.0
    print(f"paddle {paddle.__version__}")
    try:
        ga, gy = paddle.grad([y], [a, y], retain_graph=True)
    except ValueError as exc:
        print("paddle.grad([y], [a, y]) raised:", str(exc).splitlines()[0])
        return 1
    ga, gy = (None if g is None else float(g) for g in (ga, gy))
    print(f"paddle.grad([y], [a, y]) = [{ga}, {gy}] (expected [2.0, 1.0])")
    return 0 if (ga, gy) == (2.0, 1.0) else 1


if __name__ == "__main__":
    sys.exit(main())
