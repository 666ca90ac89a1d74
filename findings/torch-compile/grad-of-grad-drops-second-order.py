"""torch.compile: a gradient of a gradient taken inside a compiled function silently drops the
second-order term.

What is wrong: a compiled function computes `g = torch.autograd.grad(y, a, create_graph=True)`
(Dynamo breaks the graph there and runs it eagerly, through AOTAutograd's backward of the part
compiled before it), and something is then differentiated through `g`. Where that compiled
backward saved no tensor that requires grad (exp saves its output, a matmul with a constant
weight saves the weight and its product), AOTAutograd's double-backward node gets, as its only
input, a dummy `torch.empty(0, requires_grad=True)` leaf (pytorch/pytorch#181606, the fix of
#181581, so that `g.requires_grad` is True as in eager). `g`'s graph then reaches that dummy
and nothing else: `autograd.grad(..., a)` (or `backward(inputs=[a])`) never runs the node
that would raise "torch.compile with aot_autograd does not currently support double
backward", and the term through `g` is silently left out:

    def f(a):
        t1 = a.exp()
        g, = torch.autograd.grad(t1, a, create_graph=True)
        return t1, g

    a = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    t1, g = torch.compile(f, backend="aot_eager")(a)
    torch.autograd.grad(t1 + g * g, a)
    # (tensor(1.6487),) = exp(a), no warning -- eager: (tensor(7.0853),) = exp(a) + 2 exp(2a)
    torch.autograd.grad(g, a)
    # RuntimeError: ... appears to not have been used in the graph -- eager: exp(a)

Expected: eager's 7.0853 (or the documented double-backward error). Actual: 1.6487, silently
(no warning; TORCH_LOGS=graph_breaks shows only the graph break at autograd.grad). A plain
`loss.backward()` does run the node and raises the documented error. With backend="inductor",
whose partitioner saves the input of exp and recomputes, the exp case raises the documented
error, but a matmul by a constant weight, `((a @ b).exp().sum())` with `b` not requiring
grad, saves only `b` and the product and is silently wrong there too (aot_eager alike).
Upstream: pytorch/pytorch#91469 (the original silent double backward, made an error by #92348);
#181606 (fixing #181581) brought the dummy leaf that makes this case silent again;
#183603 (open) is the inductor variant that raises.

Reproduces on torch 2.13.0 (CPU; aot_eager, and inductor for the matmul case).
Found by gradspec (deviation `torch-compile-grad-of-grad-drops-second-order` in
deviations/torch_compile.py).

Run: python findings/torch-compile/grad-of-grad-drops-second-order.py - exits 1 while the bug
reproduces, 0 once fixed (a correct value, or the documented double-backward error).
"""
import sys

import torch

DOUBLE_BACKWARD = "does not currently support double backward"


def exp_of(a):
    t1 = a.exp()
    g, = torch.autograd.grad(t1, a, create_graph=True)
    return t1 + g * g


def exp_of_matmul(a, b):
    t1 = (a @ b).exp().sum()
    g, = torch.autograd.grad(t1, a, create_graph=True)
    return t1 + (g * g).sum()


def cases():
    a0 = torch.tensor(0.5, dtype=torch.float64)
    a1 = torch.tensor([[0.5, -0.25], [0.125, 0.75]], dtype=torch.float64)
    b1 = torch.tensor([[0.75, -0.5], [0.25, 1.0]], dtype=torch.float64)
    yield "exp(a) + g*g", exp_of, a0, ()
    yield "exp(a @ b).sum() + (g*g).sum()", exp_of_matmul, a1, (b1,)


def second_order(fn, a0, rest):
    a = a0.clone().requires_grad_(True)
    out, = torch.autograd.grad(fn(a, *rest), a)
    return out


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        for what, fn, a0, rest in cases():
            expected = second_order(fn, a0, rest)
            torch._dynamo.reset()
            try:
                actual = second_order(torch.compile(fn, backend=backend), a0, rest)
            except RuntimeError as exc:
                if DOUBLE_BACKWARD not in str(exc):
                    problems.append(f"backend {backend}, {what}: raised "
                                    f"{str(exc).splitlines()[0][:100]}")
                continue
            if not torch.allclose(actual, expected, rtol=1e-9, atol=1e-12):
                problems.append(f"backend {backend}, {what}: d/da = "
                                f"{actual.flatten().tolist()}, expected (eager) "
                                f"{expected.flatten().tolist()}")
    print(f"torch {torch.__version__}, device cpu, float64")
    print("\n".join(problems) or "fixed: a gradient of a gradient through a compiled function "
                                  "is right or raises the documented error")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
