"""Hooks added since the first suites: `register_post_accumulate_grad_hook` on leaves and
parameters (the optimizer-in-backward pattern: read `.grad`, step the parameter in place under
no_grad, set `.grad` to None; a later backward through a graph that saved it then raises),
tensor hooks on the outputs of custom Functions (None for an output no gradient reached), a
hook that removes itself through its handle when first called, and hooks removed through
their handles between two backward calls over a retained graph (they must not fire again)."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

POST_ACCUMULATE = Config(post_accumulate_hooks=0.4, layers=0.2, max_steps=6, max_actions=3,
                         retain_graph=0.6, zero_grad=0.2)
FUNCTION_OUTPUTS = Config(functions=0.5, tensor_hooks=0.5, function_output_hooks=0.8,
                          max_steps=6, max_actions=2, retain_graph=0.4)
SELF_REMOVING = Config(tensor_hooks=0.5, self_removing_hooks=0.7, retain_grad=0.2, max_steps=6,
                       max_actions=3, retain_graph=0.8)
REMOVED_BY_HANDLE = Config(tensor_hooks=0.6, hook_removal=0.6, retain_grad=0.2, max_steps=6,
                           max_actions=4, retain_graph=0.8, zero_grad=0.2)


@pytest.mark.needs("post_accumulate_hooks")
@given(program=programs_for(POST_ACCUMULATE))
def test_post_accumulate_grad_hooks(program):
    conforms(program)


@pytest.mark.needs("custom_function", "tensor_hooks")
@given(program=programs_for(FUNCTION_OUTPUTS))
def test_hooks_on_custom_function_outputs(program):
    conforms(program)


@pytest.mark.needs("hook_self_removal")
@given(program=programs_for(SELF_REMOVING))
def test_hooks_that_remove_themselves(program):
    conforms(program)


@pytest.mark.needs("tensor_hooks", "hook_removal", "retain_graph")
@given(program=programs_for(REMOVED_BY_HANDLE))
def test_hooks_removed_by_handle_between_backwards(program):
    conforms(program)
