"""Hooks run wrongly: tensor hooks, module hooks, post-accumulate-grad hooks, hooks on custom
Function outputs, hook handles.
"""
import warnings
import weakref

from .base import Mutant
from .killers import (FUNCTION_OUTPUT_HOOKS, MODULE_HOOKS, POST_ACCUMULATE, REMOVED_BY_HANDLE,
                      SELF_REMOVING_HOOKS, TENSOR_HOOKS)


# ===== 6. hooks ==============================================================================
class HookReturnIgnored(Mutant):
    id = "hook-return-ignored"
    area = "tensor hooks"
    description = "a tensor hook's return value does not replace the gradient"
    killers = (TENSOR_HOOKS,)

    def register_hook(self, t, fn):
        return t.register_hook(lambda g: (fn(g), None)[1])


class HooksReversed(Mutant):
    id = "hooks-reversed"
    area = "tensor hooks"
    description = "several hooks on one tensor run in reverse registration order"
    killers = (TENSOR_HOOKS,)

    def register_hook(self, t, fn):
        hooks = t.__dict__.get("_mutant_hooks")
        if hooks is None:
            hooks = t._mutant_hooks = []

            def run_all(g):
                for f in reversed(hooks):
                    r = f(g)
                    g = g if r is None else r
                return g
            t.register_hook(run_all)
        hooks.append(fn)


class ModuleHookParamGrads(Mutant):
    id = "module-hook-param-grads"
    area = "module hooks"
    description = ("a module's grad_input reports its last operation's gradients, parameters "
                   "included (torch's legacy register_backward_hook)")
    killers = (MODULE_HOOKS,)

    def register_module_hook(self, module, fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return module.register_backward_hook(lambda m, gi, go: fn(gi, go))

    def call_layer(self, module, layer, args):
        with warnings.catch_warnings():  # torch warns about legacy hooks on every call
            warnings.simplefilter("ignore")
            return super().call_layer(module, layer, args)


# ===== harder semantics: hooks added since =================================================
class PostAccumulateBeforeAccumulation(Mutant):
    id = "post-accumulate-before-accumulation"
    area = "post-accumulate-grad hooks"
    description = ("post-accumulate-grad hooks run before the gradient is accumulated (they see "
                   "the previous .grad, and an optimizer step there uses it)")
    killers = (POST_ACCUMULATE,)

    def register_post_accumulate_hook(self, t, fn):
        return t.register_hook(lambda g: fn(t))


class HookRemovalIgnored(Mutant):
    id = "hook-removal-ignored"
    area = "hook handles"
    description = "a hook's handle.remove() does nothing: the hook keeps firing"
    killers = (SELF_REMOVING_HOOKS, REMOVED_BY_HANDLE)

    def remove_hook(self, handle):
        pass


class RemovalBetweenBackwardsIgnored(Mutant):
    id = "hook-removal-between-backwards-ignored"
    area = "hook handles"
    description = ("handle.remove() works from inside a running hook but does nothing between "
                   "two backward calls: the hook fires again in the next backward")
    killers = (REMOVED_BY_HANDLE,)

    def __init__(self):
        super().__init__()
        self._in_backward = False

    def backward(self, roots, weights, retain_graph, create_graph):
        self._in_backward = True
        try:
            return super().backward(roots, weights, retain_graph, create_graph)
        finally:
            self._in_backward = False

    def remove_hook(self, handle):
        if self._in_backward:
            super().remove_hook(handle)


class FunctionOutputHooksSkipped(Mutant):
    id = "function-output-hooks-skipped"
    area = "hooks on custom Function outputs"
    description = "tensor hooks registered on the outputs of a custom Function never run"
    killers = (FUNCTION_OUTPUT_HOOKS,)

    def __init__(self):
        super().__init__()
        self._made_by_functions = weakref.WeakSet()

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)

        def apply(*ts):
            outs = f(*ts)
            self._made_by_functions.update(outs)
            return outs
        return apply

    def register_hook(self, t, fn):
        if t in self._made_by_functions:
            return t.register_hook(lambda g: None)  # registered, but not the user's function
        return super().register_hook(t, fn)
