"""torch.compile: a first-order `autograd.grad(create_graph=True)` (or
`backward(create_graph=True)`) through compiled code raises "a leaf Variable that requires grad
is being used in an in-place operation" where eager runs.

What is wrong: before it calls a compiled backward, AOTAutograd coerces each incoming gradient
(tangent) whose strides differ from those it traced with into a fresh buffer
(`coerce_to_expected_memory_format` in torch/_functorch/_aot_autograd/runtime_wrappers.py):

    restrided = torch.empty_strided(..., requires_grad=x.requires_grad)
    restrided.copy_(x)        # <- raises

With create_graph=True, grad mode is on during backward; where the tangent requires grad, the
buffer is a leaf that requires grad and `copy_` into it is refused. A tangent has other strides
where it comes from a `sum` (its backward is an expand, stride 0), and it requires grad where it
was itself computed with create_graph=True from something that requires grad.
Two compiled functions in a row (or one function that Dynamo splits at a graph break) are
enough, since the gradient the second graph's backward passes to the first requires grad (the
dummy `torch.empty(0, requires_grad=True)` leaf that `_double_backward` adds, pytorch/pytorch
#181606, makes every gradient out of a compiled backward require grad under create_graph):

    h1 = torch.compile(lambda a: a.exp(), backend="aot_eager")
    h2 = torch.compile(lambda t: t.sum(), backend="aot_eager")
    a = torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)
    torch.autograd.grad(h2(h1(a)), a, create_graph=True)
    # RuntimeError: a leaf Variable that requires grad is being used in an in-place operation.
    # eager: (tensor([1.6487, 0.4724]),) = exp(a)

One compiled function is enough where the gradient weight itself requires grad and is not laid
out as the output: `torch.autograd.grad(h1(a), a, w.expand(2), create_graph=True)` with `w` a
0-d leaf that requires grad (eager: `w * exp(a)`). Without create_graph, with a tangent laid
out as traced (`h2 = lambda t: (2 * t).sum()`: the product's backward makes it dense), or with
a tangent that does not require grad, it runs. It shows wherever Dynamo splits a function into
several graphs (at a tensor hook, retain_grad, requires_grad_, or autograd.grad inside it) and a
backward or grad with create_graph=True goes through the split.

Expected: eager's first-order gradient (`exp(a)`; a later double backward may then raise the
documented "does not currently support double backward"). Actual: RuntimeError, on aot_eager
and inductor alike, for `grad` and `backward`. Copying into a buffer that does not require grad
(so that `copy_` records a differentiable copy) gives eager's values.
Upstream: no report found; pytorch/pytorch#185669 is another failure of the same restride
(an expanded tangent, "more than one element of the written-to tensor refers to a single memory
location"); #144579 made AOTAutograd expect tangents with their outputs' strides.

Reproduces on torch 2.13.0 (CPU; aot_eager and inductor).
Found by gradspec (deviation `torch-compile-create-graph-tangent-restrided-into-leaf` in
deviations/torch_compile.py).

Run: python findings/torch-compile/create-graph-tangent-restrided-into-leaf.py - exits 1 while
the bug reproduces, 0 once fixed.
"""
import sys

import torch


def a_leaf():
    return torch.tensor([0.5, -0.75], dtype=torch.float64, requires_grad=True)


def two_graphs_grad(compile_):
    a = a_leaf()
    y = compile_(lambda t: t.sum())(compile_(lambda x: x.exp())(a))
    return torch.autograd.grad(y, a, create_graph=True)[0], a.detach().exp()


def two_graphs_backward(compile_):
    a = a_leaf()
    y = compile_(lambda t: t.sum())(compile_(lambda x: x.exp())(a))
    y.backward(create_graph=True)
    return a.grad, a.detach().exp()


def one_graph_weight_requires_grad(compile_):
    a = a_leaf()
    w = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    y = compile_(lambda x: x.exp())(a)
    return (torch.autograd.grad(y, a, w.expand(2), create_graph=True)[0],
            2.0 * a.detach().exp())


def main():
    problems = []
    for backend in ("aot_eager", "inductor"):
        def compile_(fn):
            return torch.compile(fn, backend=backend)

        for case in (two_graphs_grad, two_graphs_backward, one_graph_weight_requires_grad):
            torch._dynamo.reset()
            try:
                got, expected = case(compile_)
            except RuntimeError as exc:
                problems.append(f"backend {backend}, {case.__name__}: raised "
                                f"{str(exc).splitlines()[0][:90]}")
                continue
            if got is None or not torch.allclose(got.detach(), expected, rtol=1e-9,
                                                 atol=1e-12):
                problems.append(f"backend {backend}, {case.__name__}: gradient "
                                f"{None if got is None else got.tolist()}, expected (eager) "
                                f"{expected.tolist()}")
    print(f"torch {torch.__version__}, device cpu, float64")
    print("\n".join(problems) or "fixed: a first-order gradient with create_graph=True "
                                  "through compiled code is eager's")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
