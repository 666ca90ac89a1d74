"""Graph control: retain_grad, detach, no_grad and the other grad modes (nested
enable_grad, inference_mode, requires_grad_).
"""
import contextlib

import torch

from .base import Mutant
from .killers import CONTROL, GRAD_MODES, TENSOR_HOOKS


# ===== 4. graph control ======================================================================
class NonLeafGradFilled(Mutant):
    id = "nonleaf-grad-filled"
    area = "retain_grad"
    description = "backward fills .grad of every non-leaf, retain_grad() or not"
    killers = (CONTROL,)

    def __init__(self):
        super().__init__()
        real_op = self.op
        self.op = lambda name, *args, **params: self._retain(real_op(name, *args, **params))

    @staticmethod
    def _retain(t):
        if isinstance(t, torch.Tensor) and t.requires_grad and not t.is_leaf:
            t.retain_grad()
        return t

    def call_layer(self, module, layer, args):
        return tuple(map(self._retain, super().call_layer(module, layer, args)))

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)
        return lambda *ts: tuple(map(self._retain, f(*ts)))


class RetainGradBeforeHooks(Mutant):
    id = "retain-grad-before-hooks"
    area = "retain_grad / hooks"
    description = ("retain_grad is an ordinary hook run in registration order, so it misses "
                   "the replacement made by a hook registered after it (torch < 2.0)")
    killers = (TENSOR_HOOKS,)

    def retain_grad(self, t):
        if "_mutant_grad" in t.__dict__:
            return
        t._mutant_grad = None

        def keep(g):
            t._mutant_grad = g.detach().clone() if t._mutant_grad is None else \
                t._mutant_grad + g.detach()
        t.register_hook(keep)

    def read_grad(self, t):
        return t.__dict__["_mutant_grad"] if "_mutant_grad" in t.__dict__ else t.grad


class DetachLeaks(Mutant):
    id = "detach-leaks"
    area = "detach"
    description = "detach() returns an alias that stays attached to the graph"
    killers = (CONTROL,)

    def detach(self, t):
        return t.view_as(t)


class NoGradIgnored(Mutant):
    id = "no-grad-ignored"
    area = "no_grad"
    description = "no_grad() does not stop recording"
    killers = (CONTROL,)

    def no_grad(self):
        return contextlib.nullcontext()


# ===== harder semantics: grad modes ==========================================================
class EnableGradIgnored(Mutant):
    id = "enable-grad-ignored"
    area = "grad modes (nested)"
    description = ("enable_grad() / set_grad_enabled(True) inside no_grad do nothing: the outer "
                   "no_grad leaks into what should be recorded")
    killers = (GRAD_MODES,)

    def grad_mode(self, mode):
        if mode in ("enable_grad", "set_grad_enabled(True)") and not torch.is_grad_enabled():
            return contextlib.nullcontext()
        return super().grad_mode(mode)


class InferenceModeAsNoGrad(Mutant):
    id = "inference-mode-as-no-grad"
    area = "grad modes (inference_mode)"
    description = ("inference_mode() is no_grad(): no inference tensors (no error when a recorded "
                   "op saves one), and enable_grad inside it records")
    killers = (GRAD_MODES,)

    def grad_mode(self, mode):
        return super().grad_mode("no_grad" if mode == "inference_mode" else mode)


class RequiresGradOffAccumulates(Mutant):
    id = "requires-grad-off-accumulates"
    area = "grad modes (requires_grad_)"
    description = ("requires_grad_(False) on a leaf only changes the flag: a backward through ops "
                   "recorded before still accumulates into its .grad")
    killers = (GRAD_MODES,)

    def set_requires_grad(self, t, flag):
        if not flag and t.requires_grad:
            def accumulate(g):  # a leaf's hook runs even where its accumulator then does not
                if not t.requires_grad:
                    t.grad = g.detach().clone() if t.grad is None else t.grad + g.detach()
            t.register_hook(accumulate)
        t.requires_grad_(flag)


class DetachCopies(Mutant):
    id = "detach-copies"
    area = "grad modes (detach shares storage)"
    description = "detach() returns a copy, not a tensor sharing its source's memory"
    killers = (GRAD_MODES,)

    def detach(self, t):
        return t.detach().clone()
