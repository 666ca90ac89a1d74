"""MyGrad: conv_nd with dilation rejects a kernel whose dilated extent fits the input.

What is wrong: a kernel of size k with dilation d spans (k - 1) * d + 1 input elements, and
conv_nd's own output-shape check uses that extent; but the sliding_window_view it calls then
checks k * d against the (padded) input size instead, and raises ValueError "The dilated
window ((4,)) must fit within the trailing dimensions of `arr` ((3,))" where the window fits.
For x = [[[0, 1, 2]]] and w = [[[1, 10]]] with dilation 2 (extent 3), the result should be
[[[0*1 + 2*10]]] = [[[20.]]] (torch.nn.functional.conv1d gives it); MyGrad raises. Any
input size in [(k - 1) * d + 1, k * d) along a dilated dim fails the same way, 2-d too.

Expected: [[[20.]]]. Actual: ValueError.
Reproduces on MyGrad 2.5.0 (mygrad/nnet/layers/utils.py, sliding_window_view: `w * d > s`).
Found by gradspec (deviation `mygrad-conv-dilated-window-rejected` in deviations/mygrad.py).

Run: python findings/mygrad/conv-dilated-window-rejected.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys

import mygrad as mg
import numpy as np
from mygrad.nnet.layers import conv_nd


def main():
    x = mg.tensor(np.arange(3.0).reshape(1, 1, 3))
    w = mg.tensor([[[1.0, 10.0]]])
    print(f"mygrad {mg.__version__}")
    try:
        y = conv_nd(x, w, stride=1, dilation=2)
    except ValueError as exc:
        print(f"conv_nd raised ValueError: {exc}")
        return 1
    if not np.allclose(y.data, [[[20.0]]]):
        print(f"conv_nd gave {y.data.tolist()}, expected [[[20.0]]]")
        return 1
    print("fixed: conv_nd gives [[[20.0]]]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
