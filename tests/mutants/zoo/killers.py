"""The suite tests that kill mutants, named by reference to the test functions themselves.

A `Killer` is a suite's test function and, for a parametrized one, its parameter: renaming or
moving a suite test breaks the import here (and so the zoo), not a string compared later.
Importing the suite modules is cheap and has no side effects: their strategies are deferred
and read the backend under test only when a test draws its first program.
"""
import importlib
from dataclasses import dataclass

from suites import (test_broadcasting, test_custom_functions, test_errors, test_functional_api,
                    test_functional_grad, test_grad_accumulation, test_grad_modes,
                    test_gradient_weights, test_graph_control, test_higher_order, test_hooks,
                    test_hooks_since, test_inplace, test_layer_reuse, test_multi_output,
                    test_ops, test_retain_graph)


@dataclass(frozen=True, repr=False)
class Killer:
    """A suite test function (`test`) and its parameter, or None for an unparametrized one."""

    test: object
    param: object = None

    @classmethod
    def of(cls, suite):
        """A Killer, or one from the older (module, test name, parameter) tuple."""
        if isinstance(suite, Killer):
            return suite
        module, name, param = suite
        return cls(getattr(importlib.import_module(module), name), param)

    @property
    def module(self):
        return self.test.__module__

    @property
    def name(self):
        return self.test.__name__

    @property
    def suite_id(self):
        """As pytest names it, without the directory: `test_ops::test_op[sin]`."""
        return f"{self.module.split('.')[-1]}::{self.name}" + (
            f"[{self.param}]" if self.param is not None else "")

    def __call__(self):
        """Run the suite test (under whatever settings are current)."""
        return self.test() if self.param is None else self.test(self.param)

    def __repr__(self):
        return f"Killer({self.suite_id})"


def OP(name):
    return Killer(test_ops.test_op, name)


def MULTI(name):
    return Killer(test_multi_output.test_multi_output_op, name)


WEIGHTS = Killer(test_gradient_weights.test_nonscalar_backward_with_weights)
MULTI_ROOT = Killer(test_gradient_weights.test_several_roots_in_one_backward)
ACCUMULATION = Killer(test_grad_accumulation.test_accumulation_and_zero_grad)
RETAIN_GRAPH = Killer(test_retain_graph.test_retain_graph_sequences)
REUSE = Killer(test_layer_reuse.test_layer_reuse_and_recurrence)
CUSTOM = Killer(test_custom_functions.test_custom_functions)
TENSOR_HOOKS = Killer(test_hooks.test_tensor_hooks)
MODULE_HOOKS = Killer(test_hooks.test_module_full_backward_hooks)
CONTROL = Killer(test_graph_control.test_detach_no_grad_retain_grad)
ERRORS = Killer(test_errors.test_error_behaviour)
BROADCAST = Killer(test_broadcasting.test_broadcasting_reduces_back)
FUNCTIONAL = Killer(test_functional_grad.test_functional_grad)
GRAD_MODES = Killer(test_grad_modes.test_grad_modes)
GRADS_AS_VALUES = Killer(test_higher_order.test_gradients_as_values)
THROUGH_GRAD = Killer(test_higher_order.test_backward_create_graph_and_through_grad)
POST_ACCUMULATE = Killer(test_hooks_since.test_post_accumulate_grad_hooks)
FUNCTION_OUTPUT_HOOKS = Killer(test_hooks_since.test_hooks_on_custom_function_outputs)
SELF_REMOVING_HOOKS = Killer(test_hooks_since.test_hooks_that_remove_themselves)
REMOVED_BY_HANDLE = Killer(test_hooks_since.test_hooks_removed_by_handle_between_backwards)
BATCHED_GRAD = Killer(test_functional_api.test_grad_over_a_batch_of_weights)
GRAD_IN_FULL = Killer(test_functional_api.test_grad_unused_materialized_and_several_outputs)
FUNCTIONS_OF_LEAVES = Killer(test_functional_api.test_vjp_jacobian_hessian)
INPLACE = Killer(test_inplace.test_inplace_ops_and_views)

# Every unparametrized property test of the suites (the parametrized ones: OP and MULTI).
PROPERTY_SUITES = (WEIGHTS, MULTI_ROOT, ACCUMULATION, RETAIN_GRAPH, REUSE, CUSTOM, TENSOR_HOOKS,
                   MODULE_HOOKS, CONTROL, ERRORS, BROADCAST, FUNCTIONAL, GRAD_MODES,
                   GRADS_AS_VALUES, THROUGH_GRAD, POST_ACCUMULATE, FUNCTION_OUTPUT_HOOKS,
                   SELF_REMOVING_HOOKS, REMOVED_BY_HANDLE, GRAD_IN_FULL, BATCHED_GRAD,
                   FUNCTIONS_OF_LEAVES, INPLACE)


def all_suite_tests():
    """Every property test of the suites, as Killers."""
    from gradspec.vocabulary import MULTI_OUTPUT
    return list(PROPERTY_SUITES) + [OP(op) for op in test_ops.OPS] + [
        MULTI(op) for op in MULTI_OUTPUT]
