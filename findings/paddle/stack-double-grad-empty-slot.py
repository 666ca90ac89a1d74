"""paddle: a backward through the create_graph gradient of a stack raises SystemError.

What is wrong: paddle.grad(create_graph=True) of paddle.stack([a, b]) (or paddle.concat) w.r.t.
a, where b stops gradient, returns a gradient whose grad node is StackDoubleGradNode
(ConcatDoubleGradNode); a backward through that gradient raises SystemError "(Fatal) Unable to
fill empty grad inputs due to empty GradSlotMeta" instead of running. With every input of the
stack requiring grad it runs.

    a = paddle.to_tensor([0.5, -0.75], dtype="float64", stop_gradient=False)
    b = paddle.to_tensor([-1.25, 1.5], dtype="float64")  # stops gradient
    t1 = paddle.stack([a, b], axis=0)
    (g,) = paddle.grad([t1], [a], [paddle.ones_like(t1)], create_graph=True)
    (t1.sum() + (g * g).sum()).backward()

Expected: a.grad == [1., 1.] (g is the weight's first row: it does not depend on a; torch
returns it).
Actual: SystemError: (Fatal) Unable to fill empty grad inputs due to empty GradSlotMeta
(paddle/fluid/eager/utils.cc).

Reproduces on paddlepaddle 3.3.1 (CPU, float64).
Found by gradspec (deviation `paddle-stack-double-grad-empty-slot` in deviations/paddle.py).

Run: python findings/paddle/stack-double-grad-empty-slot.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings

warnings.simplefilter("ignore")
import paddle  # noqa: E402


def main():
    failed = 0
    for name, op in (("stack", paddle.stack), ("concat", paddle.concat)):
        a = paddle.to_tensor([0.5, -0.75], dtype="float64", stop_gradient=False)
        b = paddle.to_tensor([-1.25, 1.5], dtype="float64")  # stops gradient
        t1 = op([a, b], axis=0)
        (g,) = paddle.grad([t1], [a], [paddle.ones_like(t1)], create_graph=True)
        try:
            (t1.sum() + (g * g).sum()).backward()
        except SystemError as error:
            failed += 1
            print(f"{name}: raised SystemError: {str(error).strip().splitlines()[0]}")
            continue
        print(f"{name}: a.grad = {a.grad.numpy().tolist()} (expected [1.0, 1.0])")
    if failed:
        return 1
    print("fixed: no error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
