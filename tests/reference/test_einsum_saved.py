"""What the reference's einsum saves for backward: an operand only where another operand
needs a gradient, as torch's einsum (bmm and mul underneath, saving as MulBackward0 does).
A later in-place write into an operand then raises at backward only where it was saved:
torch 2.13 runs `d = a.detach(); d.add_(b); t = einsum('ij,jk->ik', d, c); d.clamp_(...);
t.sum().backward()` without an error when c does not require grad."""
import numpy as np
import pytest

import reference as R
from reference.errors import InplaceModifiedError
from reference.ops.indexing import einsum


def _leaf(shape, requires_grad, seed):
    values = np.random.default_rng(seed).uniform(-1, 1, shape).round(2)
    return R.tensor(values, requires_grad=requires_grad)


@pytest.mark.parametrize("equation, shapes", [("ij,jk->ik", ((2, 3), (3, 2))),
                                              ("ij,ij->ij", ((2, 3), (2, 3)))])
@pytest.mark.parametrize("other_needs_grad", [False, True])
def test_an_operand_is_saved_only_where_the_other_needs_a_gradient(equation, shapes,
                                                                   other_needs_grad):
    a = _leaf(shapes[0], True, 0)
    b = _leaf(shapes[1], other_needs_grad, 1)
    d = a * 1.0  # a non-leaf, so it can be written in place
    out = einsum(equation, d, b)
    with R.no_grad():
        d.add_(R.ones_like(d))
    if other_needs_grad:  # d is saved for b's gradient: the write invalidates it
        with pytest.raises(InplaceModifiedError):
            out.backward(R.ones_like(out))
    else:  # nothing needs d: the backward runs, a's gradient needs b alone
        out.backward(R.ones_like(out))
        assert a.grad is not None
