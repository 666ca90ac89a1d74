"""A stated torch quirk, not a conformance property: the legacy `register_backward_hook`
reports the gradients of the module's *last operation*, not of the module's inputs.

For Linear(10, 20) on an (8, 10) input, torch 2.13 passes grad_input with the shapes
(20,), None, (10, 20): the bias, the input (None: it does not require grad) and weightᵀ of
the addmm inside Linear. `register_full_backward_hook` (what gradspec checks on every
backend, suites/test_worked_examples.py) gives ((8, 10),) / (None,) instead.
"""
import warnings

import pytest

torch = pytest.importorskip("torch")


def _shapes(gs):
    return [None if g is None else tuple(g.shape) for g in gs]


@pytest.mark.parametrize("input_requires_grad, expected", [
    (False, [(20,), None, (10, 20)]),
    (True, [(20,), (8, 10), (10, 20)]),
])
def test_legacy_hook_reports_the_last_operation(input_requires_grad, expected):
    lin = torch.nn.Linear(10, 20)
    x = torch.randn(8, 10, requires_grad=input_requires_grad)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lin.register_backward_hook(lambda m, gi, go: seen.append((_shapes(gi), _shapes(go))))
        lin(x).sum().backward()
    assert seen == [(expected, [(8, 20)])]
