"""paddle: a second backward through F.cross_entropy (retain_graph=True) adds a wrong gradient.

What is wrong: the gradient a backward through paddle.nn.functional.cross_entropy adds to its
input is right the first time; a second backward through the same (retained) graph adds a
different amount: the saved softmax the grad kernel reads was changed by the first one (the
change it adds is the leaf's current .grad minus the one-hot target, and so on).

    a = paddle.to_tensor([[0.5, -0.75]], dtype='float64', stop_gradient=False)
    y = F.cross_entropy(a, paddle.to_tensor([0]))
    y.backward(retain_graph=True)   # a.grad = [[-0.2227, 0.2227]] (softmax - onehot): right
    y.backward()                    # a.grad = [[-2.4454, 0.4454]]

Expected: the second backward adds the same [[-0.2227, 0.2227]] (a.grad = [[-0.4454,
0.4454]]), as torch does; paddle.grad twice through the same graph does return it twice.
Actual: it adds [[-2.2227, 0.2227]].

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-cross-entropy-second-backward-wrong` in
deviations/paddle.py).

Run: python findings/paddle/cross-entropy-second-backward-wrong.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import numpy as np
    import paddle
    import paddle.nn.functional as F


def main():
    a = paddle.to_tensor([[0.5, -0.75]], dtype="float64", stop_gradient=False)
    y = F.cross_entropy(a, paddle.to_tensor([0]))
    y.backward(retain_graph=True)
    first = a.grad.numpy().copy()
    y.backward()
    second = a.grad.numpy() - first
    print(f"paddle {paddle.__version__}")
    print(f"first backward added {first.tolist()}, the second {second.tolist()}")
    return 0 if np.allclose(first, second) else 1


if __name__ == "__main__":
    sys.exit(main())
