"""torch.compile as a candidate: the program's forward compiled, the rest driven as eager.

`--backend torch-compile` (backend `aot_eager`, which traces with Dynamo and AOTAutograd but
runs the captured graphs eagerly: the compiler's autograd without inductor's codegen),
`--backend torch-compile-inductor`, and both with compiled autograd (`torch-compile-ca`,
`torch-compile-inductor-ca`: every backward call compiled too, the autograd graph with its
hooks traced at run time). The forward steps are one function (`Adapter.region`),
compiled with `fullgraph=False` so that Dynamo breaks the graph where torch would (hooks,
retain_grad, autograd.grad inside); backward, `.grad`, hooks, retain_graph and custom
Functions are then driven exactly as a user of compiled code drives them. Every program is a
new function: Dynamo's caches are reset for each, so that no program runs on another's
guards (past `cache_size_limit` Dynamo would fall back to eager without a word).
"""
from .torch_adapter import TorchAdapter


class TorchCompileAdapter(TorchAdapter):
    name = "torch-compile"

    def __init__(self, compiler="aot_eager", compiled_autograd=False):
        super().__init__()
        import torch._dynamo  # noqa: F401 - torch.compile's front end
        self.compiler, self.compiled_autograd = compiler, compiled_autograd
        if compiler != "aot_eager":
            self.name = f"torch-compile-{compiler}"
        if compiled_autograd:
            self.name += "-ca"
            self._backward = None

    def describe(self):
        text = f"torch {self.torch.__version__} on cpu, torch.compile(backend={self.compiler!r})"
        return text + (", compiled autograd" if self.compiled_autograd else "")

    def backward(self, roots, weights, retain_graph, create_graph):
        """With compiled autograd, each backward call is made inside a compiled function with
        `torch._dynamo.config.compiled_autograd` on, as its tutorial has users do: the
        autograd engine's graph itself (hooks, AccumulateGrad) is then traced and compiled at
        run time, not only the region's AOTAutograd backward."""
        if not self.compiled_autograd:
            return super().backward(roots, weights, retain_graph, create_graph)
        torch = self.torch
        if self._backward is None:
            eager = super().backward
            self._backward = torch.compile(eager, backend=self.compiler, fullgraph=False)
        with torch._dynamo.config.patch(compiled_autograd=True):
            return self._backward(roots, weights, retain_graph, create_graph)

    def region(self, fn, steps):
        from gradspec import program as P
        for step in steps:  # the ops' code made before tracing: the same graphs every time
            if isinstance(step, (P.Op, P.MultiOp)):
                self.op.prepare(step.op, len(step.args), step.kw)
            elif isinstance(step, P.InPlace):
                self.inplace_ops.prepare(step.op, 1 + len(step.args), step.kw)
            elif getattr(step, "scale", None) is not None:  # a hook's rescaling
                self.op.prepare("scale", 1, {"c": step.scale})
        torch = self.torch
        torch._dynamo.reset()
        if self.compiled_autograd:  # its cached backward graphs too: no program sees another's
            from torch._dynamo import compiled_autograd
            compiled_autograd.reset()
            self._backward = None
        return torch.compile(fn, backend=self.compiler, fullgraph=False, dynamic=False)

    def custom_function(self, spec, forward_values, backward_values):
        """torch's, with the ops its forward and backward use made before Dynamo traces them
        (it traces a custom Function's backward too)."""
        prepare = self.op.prepare
        for expr in spec.forward:
            prepare(expr[0], len(expr[1]), {"c": expr[2]} if expr[0] == "scale" else {})
        for args in (("mul", 2, {}), ("add", 2, {}), ("cos", 1, {}), ("cat", 2, {"dim": 0}),
                     ("reshape", 1, {"shape": (-1,)}), ("scale", 1, {"c": 1.0})):
            prepare(*args)
        for rule in spec.backward:
            for term in rule.terms:
                if term.factor[0] == "const":
                    prepare("scale", 1, {"c": term.factor[1]})
        return super().custom_function(spec, forward_values, backward_values)

    def error_kind(self, exc):
        return kind_through_dynamo(super().error_kind, exc)


def kind_through_dynamo(kind_of, exc):
    """torch's kind for an error (`kind_of`), also when Dynamo wraps the one it met while
    tracing (TorchRuntimeError, with the original as its cause)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        kind = kind_of(exc)
        if kind is not None:
            return kind
        exc = exc.__cause__ or exc.__context__
    return None
