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
import numbers

from gradspec.adapter import UnsupportedProgram

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
        if _meets_zerotensor_scalar_op(torch, fn, args):
            raise UnsupportedProgram(ZEROTENSOR_SEGFAULT)
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


ZEROTENSOR_SEGFAULT = (
    "a derivative through sgn's backward (abs differentiated twice) hands an efficient "
    "ZeroTensor to an aten op taking a Python scalar (pow's or mse_loss's backward), which "
    "segfaults the process under aot_eager's first run "
    "(findings/torch-func-compile/zerotensor-scalar-op-segfault.py)")


class _ZeroTensorWithScalar(Exception):
    pass


def _meets_zerotensor_scalar_op(torch, fn, args):
    """Does `fn(*args)`, run eagerly, call an aten op on an efficient ZeroTensor and a
    Python number? aot_eager runs the compiled graph's first call under a dispatch mode, and
    such an op there segfaults (the ZeroTensor fallback under Python dispatch): this eager
    run, under a mode that stops before calling that op, says so without crashing. Side
    effect free: torch.func's functions are pure. Any other error here is left for the
    compiled run to meet as the user would."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Probe(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            flat = list(args) + list((kwargs or {}).values())
            if any(isinstance(a, torch.Tensor) and a._is_zerotensor() for a in flat) and any(
                    isinstance(a, numbers.Number) and not isinstance(a, bool) for a in flat):
                raise _ZeroTensorWithScalar(str(func))
            return func(*args, **(kwargs or {}))

    try:
        with Probe():
            fn(*args)
    except _ZeroTensorWithScalar:
        return True
    except Exception:  # noqa: BLE001 - the compiled run meets it
        return False
    return False


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
