"""torch.func inside torch.compile as a candidate: each plan action's transform compiled.

`--backend torch-func-compile`: torch-func (adapters/torch_func_adapter.py), with every plan
action's `torch.func.vjp` (and its vmap for a batch of weights, and `jacrev`/`hessian` for
the functional API) run inside one `torch.compile(backend="aot_eager")` function, the way
users put a functional training step under the compiler, and where pytorch/pytorch#136662
(a gradient halved) and #193279 (a custom Function's backward dropped) lived. A gradient
used as a value (a vjp nested in the function differentiated) is traced inside the outer
compiled function, not compiled apart. Dynamo's caches are reset before each action's
function, as torch-compile does for each program: no action runs on another's guards.
"""
from .functional_script import render
from .torch_compile_adapter import kind_through_dynamo
from .torch_func_adapter import TorchFuncAdapter, TorchFuncSpelling


class TorchFuncCompileAdapter(TorchFuncAdapter):
    name = "torch-func-compile"

    def __init__(self, compiler="aot_eager"):
        super().__init__()
        import torch._dynamo  # noqa: F401 - torch.compile's front end
        self.compiler = compiler
        self._depth = 0  # > 0 while a compiled action traces: nested transforms stay inside

    def describe(self):
        return f"{super().describe()} inside torch.compile(backend={self.compiler!r})"

    def _compiled(self, fn, *args):
        if self._depth:
            return fn(*args)
        torch = self.torch
        torch._dynamo.reset()
        self._depth += 1
        try:
            return torch.compile(fn, backend=self.compiler, fullgraph=False,
                                 dynamic=False)(*args)
        finally:
            self._depth -= 1

    def vjp(self, f, primals, cotangents):
        plain = super().vjp
        return self._compiled(lambda *p: plain(f, p, cotangents), *primals)

    def vjp_batched(self, f, primals, cotangents):
        plain = super().vjp_batched
        return self._compiled(lambda *p: plain(f, p, cotangents), *primals)

    def functional(self, kind, f, inputs, weight):
        plain = super().functional
        return self._compiled(lambda *xs: plain(kind, f, xs, weight), *inputs)

    def error_kind(self, exc):
        return kind_through_dynamo(super().error_kind, exc)

    def render_script(self, program):
        return render(program, self.op, CompiledSpelling(self.compiler))


class CompiledSpelling(TorchFuncSpelling):
    """torch-func's script, each plan action's vjp inside torch.compile as the adapter runs
    it."""

    def __init__(self, compiler):
        self.compiler = compiler

    def _compile(self, call, names):
        return (f"torch.compile(lambda *_p: {call}, backend={self.compiler!r})"
                f"({', '.join(names)})")

    def plan_vjp(self, f, names, cotangents):
        cts = "".join(c + ", " for c in cotangents)
        return self._compile(f"vjp({f}, _p, ({cts}))", names)

    def plan_vjp_batched(self, f, names, cotangents):
        return self._compile(f"vjp_batched({f}, _p, ({', '.join(cotangents)},))", names)
