"""The suite tests that kill mutants: a `Killer` names the suite's test function itself, by
its dotted path (`suites.test_hooks_since.test_hooks_that_remove_themselves`) or the function
object, and for a parametrized test its parameter.

The path is resolved when the test is first needed, not when the zoo is imported: a mutant
loaded as a backend (`--backend tests.mutants.zoo:SinSign`) is imported while pytest is
configured, and a suite module imported then would bind its @given tests to the Hypothesis
profile before conftest applies --gradspec-db and --max-examples to it. test_zoo.py checks
that every killer resolves to the test function pytest collects.
"""
import importlib
from dataclasses import dataclass


@dataclass(frozen=True, repr=False)
class Killer:
    """A suite test function (its dotted path, or the function) and its parameter, or None
    for an unparametrized test."""

    path: str
    param: object = None

    def __post_init__(self):
        if callable(self.path):  # the function itself
            object.__setattr__(self, "path", f"{self.path.__module__}.{self.path.__name__}")

    @classmethod
    def of(cls, suite):
        """A Killer, or one from the older (module, test name, parameter) tuple."""
        if isinstance(suite, Killer):
            return suite
        module, name, param = suite
        return cls(f"{module}.{name}", param)

    @property
    def module(self):
        return self.path.rpartition(".")[0]

    @property
    def name(self):
        return self.path.rpartition(".")[2]

    @property
    def test(self):
        """The suite's test function (its module imported now if it was not yet)."""
        return getattr(importlib.import_module(self.module), self.name)

    @property
    def suite_id(self):
        """As pytest names it, without the directory: `test_ops::test_op[sin]`."""
        return f"{self.module.split('.')[-1]}::{self.name}" + (
            f"[{self.param}]" if self.param is not None else "")

    def __call__(self):
        """Run the suite test (under whatever settings are current)."""
        test = self.test
        return test() if self.param is None else test(self.param)

    def __repr__(self):
        return f"Killer({self.suite_id})"


def OP(name):
    return Killer("suites.test_ops.test_op", name)


def MULTI(name):
    return Killer("suites.test_multi_output.test_multi_output_op", name)


WEIGHTS = Killer("suites.test_gradient_weights.test_nonscalar_backward_with_weights")
MULTI_ROOT = Killer("suites.test_gradient_weights.test_several_roots_in_one_backward")
ACCUMULATION = Killer("suites.test_grad_accumulation.test_accumulation_and_zero_grad")
RETAIN_GRAPH = Killer("suites.test_retain_graph.test_retain_graph_sequences")
REUSE = Killer("suites.test_layer_reuse.test_layer_reuse_and_recurrence")
CUSTOM = Killer("suites.test_custom_functions.test_custom_functions")
TENSOR_HOOKS = Killer("suites.test_hooks.test_tensor_hooks")
MODULE_HOOKS = Killer("suites.test_hooks.test_module_full_backward_hooks")
CONTROL = Killer("suites.test_graph_control.test_detach_no_grad_retain_grad")
ERRORS = Killer("suites.test_errors.test_error_behaviour")
BROADCAST = Killer("suites.test_broadcasting.test_broadcasting_reduces_back")
FUNCTIONAL = Killer("suites.test_functional_grad.test_functional_grad")
GRAD_MODES = Killer("suites.test_grad_modes.test_grad_modes")
GRADS_AS_VALUES = Killer("suites.test_higher_order.test_gradients_as_values")
THROUGH_GRAD = Killer("suites.test_higher_order.test_backward_create_graph_and_through_grad")
POST_ACCUMULATE = Killer("suites.test_hooks_since.test_post_accumulate_grad_hooks")
FUNCTION_OUTPUT_HOOKS = Killer("suites.test_hooks_since.test_hooks_on_custom_function_outputs")
SELF_REMOVING_HOOKS = Killer("suites.test_hooks_since.test_hooks_that_remove_themselves")
REMOVED_BY_HANDLE = Killer(
    "suites.test_hooks_since.test_hooks_removed_by_handle_between_backwards")
BATCHED_GRAD = Killer("suites.test_functional_api.test_grad_over_a_batch_of_weights")
GRAD_IN_FULL = Killer(
    "suites.test_functional_api.test_grad_unused_materialized_and_several_outputs")
FUNCTIONS_OF_LEAVES = Killer("suites.test_functional_api.test_vjp_jacobian_hessian")
INPLACE = Killer("suites.test_inplace.test_inplace_ops_and_views")

# Every unparametrized property test of the suites (the parametrized ones: OP and MULTI).
PROPERTY_SUITES = (WEIGHTS, MULTI_ROOT, ACCUMULATION, RETAIN_GRAPH, REUSE, CUSTOM, TENSOR_HOOKS,
                   MODULE_HOOKS, CONTROL, ERRORS, BROADCAST, FUNCTIONAL, GRAD_MODES,
                   GRADS_AS_VALUES, THROUGH_GRAD, POST_ACCUMULATE, FUNCTION_OUTPUT_HOOKS,
                   SELF_REMOVING_HOOKS, REMOVED_BY_HANDLE, GRAD_IN_FULL, BATCHED_GRAD,
                   FUNCTIONS_OF_LEAVES, INPLACE)


def all_suite_tests():
    """Every property test of the suites, as Killers."""
    from gradspec.vocabulary import MULTI_OUTPUT
    from suites.test_ops import OPS
    return list(PROPERTY_SUITES) + [OP(op) for op in OPS] + [
        MULTI(op) for op in MULTI_OUTPUT]
