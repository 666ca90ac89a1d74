"""What the reference's matmul saves for backward, and so which later in-place write to an
operand makes that backward raise "modified by an inplace operation".

torch.matmul is a composite (aten/src/ATen/native/LinearAlgebra.cpp, _matmul_impl): dot, mv
and mm save their operands (or views of them: unsqueeze, t()), but a batched product folds the
larger operand into a matrix with `reshape`, or expands both operands to a common batch and
reshapes them for bmm, and a reshape that cannot view its input copies it: the node then
saves the copy, whose version counter no write to the operand bumps, holding the operand's
values as they were. The worked expectations below are torch 2.13's (tests/torch/
test_matmul_versions.py compares the two engines case by case); the gradients after a write
that does not raise are worked out with NumPy from the values before the write.
"""
import numpy as np
import pytest

import reference as R
from reference.errors import InplaceModifiedError
from reference.ops.linalg import saves_copies


def _leaf(shape, requires_grad=True, seed=0):
    values = np.random.default_rng(seed).uniform(-1, 1, shape).round(2)
    return R.tensor(values, requires_grad=requires_grad)


def _step(t):
    """An optimizer step on a leaf, as a post-accumulate hook takes it: in place, no_grad."""
    with R.no_grad():
        t.add_(R.ones_like(t), alpha=-0.5)


def _backward_after_step(a, b, stepped):
    out = R.matmul(a, b)
    before = (a.data.copy(), b.data.copy())
    _step(stepped)
    out.backward(R.ones_like(out))
    return before


# (a's shape, b's shape, which needs grad) -> torch saves a copy of (a, b)?
CASES = [
    ((3, 2), (2, 4), "ab", (False, False)),  # mm
    ((2,), (2, 4), "ab", (False, False)),  # unsqueeze(0).mm
    ((3, 2), (2,), "ab", (False, False)),  # mv
    ((2,), (2,), "ab", (False, False)),  # dot
    ((2, 3, 4), (4, 5), "ab", (False, False)),  # a folded to (6, 4): a view
    ((2, 3, 4), (4,), "ab", (False, False)),  # a folded, mv
    ((1, 2), (2, 2, 2), "ab", (False, True)),  # b.mT() folded to (4, 2): a copy
    ((2,), (2, 2, 2), "a", (False, True)),  # the same, with mv
    ((2, 1), (2, 1, 3), "ab", (False, False)),  # b.mT() of k = 1 folds to a view
    ((3, 4), (2, 4, 5), "b", (False, False)),  # a does not need grad: bmm, both viewed
    ((2, 3, 4), (2, 4, 5), "ab", (False, False)),  # bmm of equal batches
    ((1, 3, 4), (2, 4, 5), "ab", (False, True)),  # a's batch of one squeezed, then as (3, 4)
    ((2, 3, 4), (1, 4, 5), "ab", (False, False)),  # b's squeezed: a folded, b itself
    ((2, 3, 4), (1, 4, 5), "a", (False, False)),  # b needs no grad: bmm, b expanded (a view)
    ((3, 1, 2, 3), (1, 3, 3, 3), "ab", (True, True)),  # both expanded over two batch dims
]


@pytest.mark.parametrize("sa, sb, needs, copies", CASES)
def test_which_operand_is_saved_as_a_copy(sa, sb, needs, copies):
    a = _leaf(sa, "a" in needs)
    b = _leaf(sb, "b" in needs, seed=1)
    assert saves_copies(a, b) == copies


def test_broadcast_matmul_saves_a_copy_of_b_the_optimizer_step_leaves_valid():
    """(1, 2) @ (2, 2, 2), both leaves requiring grad: torch computes b.mT().reshape(4, 2) @
    a.t(), and the reshape copies b. A step of b after the forward does not make the backward
    raise, and a's gradient is the one of the values before the step."""
    a, b = _leaf((1, 2)), _leaf((2, 2, 2), seed=1)
    (_, b_before) = _backward_after_step(a, b, stepped=b)
    ones = np.ones((2, 1, 2))
    np.testing.assert_allclose(a.grad.data, (ones @ np.swapaxes(b_before, -1, -2)).sum(0))
    np.testing.assert_allclose(b.grad.data, np.broadcast_to(a.data.T @ ones[0], (2, 2, 2)))


def test_broadcast_matmul_saves_a_itself_whose_step_raises():
    """Same product: a is saved as a.t(), a view sharing its version counter."""
    a, b = _leaf((1, 2)), _leaf((2, 2, 2), seed=1)
    with pytest.raises(InplaceModifiedError):
        _backward_after_step(a, b, stepped=a)


@pytest.mark.parametrize("stepped", ["a", "b"])
def test_folded_matmul_saves_views_whose_step_raises(stepped):
    """(2, 3, 4) @ (4, 5): a.reshape(6, 4) is a view, b is saved itself: either step raises."""
    a, b = _leaf((2, 3, 4)), _leaf((4, 5), seed=1)
    with pytest.raises(InplaceModifiedError):
        _backward_after_step(a, b, stepped={"a": a, "b": b}[stepped])


def test_non_contiguous_operand_is_copied_by_bmm():
    """A (2, 3, 2, 4) operand whose batch dims cannot merge (laid out batch-transposed) times a
    (4, 5) that needs no grad: no fold, and its reshape to (6, 2, 4) for bmm copies it, so a
    write to it (through a detached alias) after the forward leaves the backward valid."""
    base = _leaf((3, 2, 2, 4), seed=2)
    a = R.ops.permute(base, (1, 0, 2, 3))  # (2, 3, 2, 4), not mergeable
    b = _leaf((4, 5), requires_grad=False, seed=3)
    assert saves_copies(a, b) == (True, False)
    out = R.matmul(a, b)
    alias = base.detach()
    with R.no_grad():
        alias.mul_(2.0)
    out.backward(R.ones_like(out))
    np.testing.assert_allclose(base.grad.data, np.broadcast_to(np.ones(5) @ b.data.T,
                                                               (3, 2, 2, 4)))


def test_saved_copy_still_carries_the_second_derivative():
    """The copy is a recorded clone: a gradient taken through the saved operand (create_graph)
    reaches it. d/db of sum(d(sum(a @ b))/da) for (1, 2) @ (2, 2, 2) is all ones."""
    a, b = _leaf((1, 2)), _leaf((2, 2, 2), seed=1)
    (ga,) = R.autograd.grad(R.sum(R.matmul(a, b)), (a,), create_graph=True)
    (gb,) = R.autograd.grad(R.sum(ga), (b,))
    np.testing.assert_allclose(gb.data, np.ones((2, 2, 2)))
