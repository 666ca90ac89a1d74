"""tinygrad: argmax along axis 0 of a 0-d tensor raises IndexError.

What is wrong: a 0-d tensor takes axis 0 (or -1) in tinygrad's reductions as in torch and
NumPy: `t.max(axis=0)` and `t.sum(axis=0)` of `t = Tensor(2.0)` give 2.0. But
`t.argmax(axis=0)` raises `IndexError: tuple index out of range`: Tensor.argmax resolves the
axis (to 0) and then reads `self.shape[axis]` of the empty shape. torch.argmax(torch.tensor(
2.0), dim=0) and np.argmax(np.float64(2.0), axis=0) give 0 (argmin alike).

Expected: 0. Actual: IndexError.
Reproduces on tinygrad 0.14.0 (CPU device, clang).
Found by gradspec (deviation `tinygrad-argmax-0d` in deviations/tinygrad.py).

Run: python findings/tinygrad/argmax-0d.py - exits 1 while the bug reproduces, 0 once fixed.
"""
import importlib.metadata
import sys

from tinygrad import Tensor


def main():
    print(f"tinygrad {importlib.metadata.version('tinygrad')}")
    t = Tensor([2.0]).reshape(())
    print("t.max(axis=0) =", t.max(axis=0).item())
    try:
        got = t.argmax(axis=0).item()
    except IndexError as exc:
        print(f"t.argmax(axis=0) raised IndexError: {exc}")
        return 1
    if got != 0:
        print(f"t.argmax(axis=0) = {got}, expected 0")
        return 1
    print("fixed: t.argmax(axis=0) = 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
