"""torch.matmul against the reference's model of what it saves (reference/ops/linalg.py,
`saves_copies`): for every pair of ranks and batch shapes the strategies draw (and a few
more), operand layouts (contiguous, last two dims transposed, batch dims out of order) and
which operands require grad, an operand modified in place (under no_grad, as an optimizer step
in a post-accumulate hook) after the forward makes the backward raise in torch exactly where it
does in the reference, and where neither raises the gradients agree (computed, in both, from
the values before the write where a copy was saved).
"""
import itertools

import numpy as np
import pytest

import reference as R
from reference.errors import InplaceModifiedError

torch = pytest.importorskip("torch")

RANKS = [(1,), (2,), (3,), (1, 1), (2, 3), (3, 1), (1, 3), (2, 1, 3), (1, 2, 3), (2, 2, 3),
         (3, 2, 3), (2, 3, 2, 3), (1, 3, 2, 3), (3, 1, 2, 3)]
GRADS = [(True, True), (True, False), (False, True)]


def _layouts(ndim):
    """(name, NumPy re-layout, torch re-layout): the same values in other memory orders."""
    out = [("contiguous", lambda x: x, lambda x: x)]
    if ndim >= 2:
        out.append(("transposed",
                    lambda x: np.swapaxes(np.ascontiguousarray(np.swapaxes(x, -1, -2)), -1, -2),
                    lambda x: x.mT.contiguous().mT))
    if ndim >= 3:
        out.append(("batch-last",
                    lambda x: np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 0, -1)), -1, 0),
                    lambda x: x.movedim(0, -1).contiguous().movedim(-1, 0)))
    return out


def _pairs():
    for sa, sb in itertools.product(RANKS, RANKS):
        sb = (sa[-1],) if len(sb) == 1 else sb[:-2] + (sa[-1], sb[-1])
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            continue
        yield sa, sb


def _torch_outcome(va, vb, la, lb, grads, stepped):
    a, b = (lay(torch.tensor(v)).requires_grad_(g) for v, lay, g in zip((va, vb), (la, lb), grads))
    out = torch.matmul(a, b)
    with torch.no_grad():
        (a, b)[stepped].mul_(2.0)
    try:
        out.backward(torch.ones_like(out))
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return "raises"
    return [None if t.grad is None else t.grad.numpy() for t in (a, b)]


def _reference_outcome(va, vb, la, lb, grads, stepped):
    a, b = (R.Tensor(lay(np.array(v)), requires_grad=g)
            for v, lay, g in zip((va, vb), (la, lb), grads))
    out = R.matmul(a, b)
    with R.no_grad():
        (a, b)[stepped].mul_(2.0)
    try:
        out.backward(R.ones_like(out))
    except InplaceModifiedError:
        return "raises"
    return [None if t.grad is None else t.grad.data for t in (a, b)]


@pytest.mark.parametrize("sa, sb", list(_pairs()), ids=str)
def test_matmul_saved_operands_match_torch(sa, sb):
    rng = np.random.default_rng(0)
    va, vb = rng.uniform(-1, 1, sa), rng.uniform(-1, 1, sb)
    for (na, ra, ta), (nb, rb, tb) in itertools.product(_layouts(len(sa)), _layouts(len(sb))):
        for grads, stepped in itertools.product(GRADS, (0, 1)):
            expected = _torch_outcome(va, vb, ta, tb, grads, stepped)
            got = _reference_outcome(va, vb, ra, rb, grads, stepped)
            where = f"a {na}, b {nb}, requires_grad {grads}, {'ab'[stepped]} written"
            if isinstance(expected, str) or isinstance(got, str):
                assert got == expected, where
                continue
            for e, g in zip(expected, got):
                assert (e is None) == (g is None), where
                if e is not None:
                    np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12, err_msg=where)
