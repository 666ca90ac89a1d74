"""MyGrad: max_pool and conv_nd read the wrong memory for an input whose last dim has size 1.

What is wrong: NumPy gives a dim of size 1 any stride, and calls such an array C-contiguous;
an advanced index makes one (`a[:, :, [0]]` of a (3, 1, 1) array has strides (8, 8, 24)).
MyGrad's sliding_window_view (mygrad/nnet/layers/utils.py), which max_pool and conv_nd window
their input with, takes `arr.strides[-1]` for the item size and builds every stride from it,
so its windows step 24 bytes where the elements are 8 apart: they read past the data
(garbage such as 4.8e-321, or other memory). A fresh copy of the same values pools right.

Expected: max_pool(x, (1, 1), (1, 1)) of x = [[[-0.46]], [[1.32]], [[-1.49]]][:, :, [0]] is
x itself, [-0.46, 1.32, -1.49]. Actual: [-0.46, <garbage>, <garbage>].
Reproduces on MyGrad 2.5.0 with NumPy 2.
Found by gradspec (deviation `mygrad-window-view-last-stride` in deviations/mygrad.py).

Run: python findings/mygrad/window-view-last-stride.py - exits 1 while the bug reproduces, 0
once fixed.
"""
import sys

import mygrad as mg
import numpy as np
from mygrad.nnet.layers import max_pool


def main():
    values = np.array([[[-0.46]], [[1.32]], [[-1.49]]])
    x = mg.tensor(values)[:, :, np.array([0])]
    print(f"mygrad {mg.__version__} (NumPy {np.__version__}); input strides {x.data.strides}")
    got = max_pool(x, (1, 1), (1, 1)).data.ravel()
    if not np.allclose(got, values.ravel()):
        print(f"max_pool gave {got.tolist()}, expected {values.ravel().tolist()}")
        return 1
    print("fixed: max_pool with a 1x1 window returns its input")
    return 0


if __name__ == "__main__":
    sys.exit(main())
