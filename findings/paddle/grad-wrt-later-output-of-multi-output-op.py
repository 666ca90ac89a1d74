"""paddle: paddle.grad w.r.t. the second output of a multi-output op fails (or segfaults).

What is wrong: with an input of paddle.grad that is not the first output of its grad node (the
second piece of paddle.split or paddle.unbind, the second output of a PyLayer), the gradient
is put into a slot the node's copy does not have: paddle.grad raises SystemError ("Invalid
rank (or slot_id) for GradTensorHolder::add() which exceeds size of buffer"). The same for a
first output when the outputs reach the node through a later one.

    a = paddle.to_tensor([0.5, -1.25], dtype='float64', stop_gradient=False)
    p0, p1 = paddle.split(a * 1.0, 2)
    paddle.grad([-p1], [p1])    # SystemError: Invalid rank for GradTensorHolder::add()

Expected: [[-1.0]] (d(-p1)/dp1 times the implicit weight), as torch.autograd.grad returns;
paddle.grad([-p0], [p0]) does return [[-1.0]].
Actual: SystemError. When that output is also among the outputs,
paddle.grad([p1], [p1], [w]), the process segfaults; with a PyLayer's second output among
the inputs and the other inputs reached through another path, paddle.grad(..., allow_unused
=True) can return None for all of them.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-grad-wrt-later-output-fails` in deviations/paddle.py).

Run: python findings/paddle/grad-wrt-later-output-of-multi-output-op.py - exits 1 while the
bug reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def main():
    a = paddle.to_tensor([0.5, -1.25], dtype="float64", stop_gradient=False)
    p0, p1 = paddle.split(a * 1.0, 2)
    print(f"paddle {paddle.__version__}")
    try:
        (g,) = paddle.grad([-p1], [p1])
    except SystemError as exc:
        print("paddle.grad([-p1], [p1]) raised SystemError:", str(exc).splitlines()[0])
        return 1
    print(f"paddle.grad([-p1], [p1]) = {g.numpy().tolist()} (expected [-1.0])")
    return 0 if g.numpy().tolist() == [-1.0] else 1


if __name__ == "__main__":
    sys.exit(main())
