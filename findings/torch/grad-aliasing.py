"""torch: two leaves' .grad share memory after backward through stack/cat and a sum.

What is wrong: AccumulateGrad keeps an incoming gradient as a leaf's .grad without copying it
when nothing else holds it. stack's backward unbinds its incoming gradient (cat's narrows
it); when that gradient is the expanded one of a sum over the stacked dim, the pieces are
views of one buffer, and both leaves keep them as their .grad. So a.grad and b.grad share
memory, and any in-place update of one changes the other: the next backward's accumulation
adds into both, and in-place gradient clipping or zeroing of one reaches the other.

    a = torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-1.25, 1.5], dtype=torch.float64, requires_grad=True)
    loss = (torch.stack([a, b]).sum(0) * 2).sum()
    loss.backward(retain_graph=True)   # a.grad == [2, 2]: right
    loss.backward()                    # a.grad == [6, 6], expected [4, 4]

The same with torch.cat([a.unsqueeze(0), b.unsqueeze(0)]) in place of stack, and with 0-d
leaves; `(a + b) * 2` does not alias. torch.nn.utils.clip_grad_norm_([a, b], 1.0) after the
first backward leaves a total norm of 0.25, not 1.0 (each .grad is scaled twice).

Expected: a.grad == b.grad == [4, 4] after the second backward; the two .grad distinct
tensors in memory (torch's contract: each leaf's .grad is its own tensor).
Actual: [6, 6] for both; a.grad and b.grad overlap in one storage.

Reproduces on torch 2.13.0 (CPU, float64; float32 alike); reported to reproduce on 2.14.1.
Found by gradspec (deviation `torch-grad-aliasing` in deviations/torch.py).

Run: python findings/torch/grad-aliasing.py - exits 1 while the bug reproduces, 0 once fixed.
"""
import sys

import torch


def leaves():
    return (torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True),
            torch.tensor([-1.25, 1.5], dtype=torch.float64, requires_grad=True))


def cells(t):
    """The storage elements a 1-d tensor occupies."""
    return {t.storage_offset() + i * t.stride(0) for i in range(t.numel())}


def overlap(x, y):
    """Do 1-d x and y share elements of one storage (not merely one storage)?"""
    return (x.untyped_storage().data_ptr() == y.untyped_storage().data_ptr()
            and bool(cells(x) & cells(y)))


def main():
    problems = []
    for name, combine in (("stack", lambda a, b: torch.stack([a, b])),
                          ("cat", lambda a, b: torch.cat([a.unsqueeze(0), b.unsqueeze(0)]))):
        a, b = leaves()
        loss = (combine(a, b).sum(0) * 2).sum()
        loss.backward(retain_graph=True)
        if overlap(a.grad, b.grad):
            problems.append(f"{name}: a.grad and b.grad share memory after one backward "
                            f"(data_ptr {a.grad.data_ptr():#x} and {b.grad.data_ptr():#x})")
        loss.backward()
        for leaf, g in (("a", a.grad), ("b", b.grad)):
            if not torch.equal(g, torch.full((2,), 4.0, dtype=torch.float64)):
                problems.append(f"{name}: {leaf}.grad after two backwards is {g.tolist()}, "
                                "expected [4.0, 4.0]")
    a, b = leaves()
    (torch.stack([a, b]).sum(0) * 2).sum().backward()
    torch.nn.utils.clip_grad_norm_([a, b], 1.0)
    norm = float(torch.cat([a.grad, b.grad]).norm())
    if abs(norm - 1.0) > 1e-12:
        problems.append(f"clip_grad_norm_([a, b], 1.0) leaves a total norm of {norm:g}, not 1")
    print(f"torch {torch.__version__}")
    print("\n".join(problems) or "fixed: each .grad is its own memory, accumulation is right")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
