"""What the reference's int-index ops and einsum do where a vjp is easy to get wrong, against
hand-computed derivatives, and the two places the strategies keep away from.

Repeated indices are no kink (these ops are linear), only the classic bug site: a backward
that assigns where it should add keeps one of the repeats' gradients. The strategies draw
repeats often; these tests state the rule on small cases. embedding's padding_idx and a
scatter_add src larger than its index are not drawn: the first is a rule (its row gets no
gradient), not the derivative finite differences would check; the second's backward fails in
torch (pytorch#27614). Both are stated here, as torch 2.13 does them (or should).
"""
import numpy as np
import pytest

import reference as R
from reference import autograd, ops


def leaf(values):
    return R.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def grads(y, xs, w=None):
    """d<w, y>/dx for each x (w: ones), recorded so that it can be differentiated again."""
    w = R.tensor(np.ones(y.shape) if w is None else np.asarray(w, dtype=np.float64))
    return autograd.grad([y], list(xs), [w], create_graph=True, allow_unused=True)


# ----- repeated indices add up ------------------------------------------------------------------
def test_a_repeated_index_adds_its_gradients():
    """Each read of x[i] sends its gradient back to x[i]: read twice, x[i] gets the sum."""
    x = leaf([1.0, 2.0, 3.0])
    w = [1.0, 10.0, 100.0]
    expected = [11.0, 0.0, 100.0]
    (g,) = grads(ops.gather_op(x, 0, [0, 0, 2]), [x], w)
    np.testing.assert_array_equal(g.data, expected)
    (g,) = grads(ops.index_select(x, 0, [0, 0, 2]), [x], w)
    np.testing.assert_array_equal(g.data, expected)
    weight = leaf([[1.0, 2.0], [3.0, 4.0]])
    (g,) = grads(ops.embedding([[1, 1], [0, 1]], weight), [weight],
                 [[[1.0, 2.0], [10.0, 20.0]], [[5.0, 6.0], [100.0, 200.0]]])
    np.testing.assert_array_equal(g.data, [[5.0, 6.0], [111.0, 222.0]])


def test_scatter_add_and_index_add_send_each_source_its_own_gradient():
    """Sources added at one index each get that index's gradient (a gather of g), and x gets
    g whole: every element of x is in the output once."""
    x, src = leaf([0.0, 0.0, 0.0]), leaf([1.0, 2.0, 3.0])
    w = [1.0, 10.0, 100.0]
    y = ops.scatter_add(x, 0, [2, 2, 0], src)
    np.testing.assert_array_equal(y.data, [3.0, 0.0, 3.0])
    gx, gs = grads(y, [x, src], w)
    np.testing.assert_array_equal(gx.data, w)
    np.testing.assert_array_equal(gs.data, [100.0, 100.0, 1.0])
    y = ops.index_add(x, 0, [2, 2, 0], src, alpha=2.0)
    np.testing.assert_array_equal(y.data, [6.0, 0.0, 6.0])
    gx, gs = grads(y, [x, src], w)
    np.testing.assert_array_equal(gx.data, w)
    np.testing.assert_array_equal(gs.data, [200.0, 200.0, 2.0])


def test_the_scatter_of_a_gather_is_differentiated_again_as_a_gather():
    """gather's vjp (a scatter-add of g) is linear in g, and its own vjp gathers: the gradient
    of <v, grad> w.r.t. the weights w is v read at the index (repeats too)."""
    x = leaf([1.0, 2.0, 3.0])
    w = leaf([1.0, 10.0, 100.0])
    (g,) = autograd.grad([ops.gather_op(x, 0, [0, 0, 2])], [x], [w], create_graph=True)
    (gw,) = autograd.grad([g], [w], [R.tensor(np.array([1.0, 2.0, 3.0]))])
    np.testing.assert_array_equal(gw.data, [1.0, 1.0, 3.0])


def test_an_index_smaller_than_x_off_its_dim_leaves_the_rest_a_zero_gradient():
    """torch's gather and scatter take an index shorter than x on the other dims (only its
    leading block is read): the elements of x beyond it get zero."""
    x = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = ops.gather_op(x, 1, [[2, 2]])
    np.testing.assert_array_equal(y.data, [[3.0, 3.0]])
    (g,) = grads(y, [x], [[1.0, 10.0]])
    np.testing.assert_array_equal(g.data, [[0.0, 0.0, 11.0], [0.0, 0.0, 0.0]])


# ----- einsum: a repeated letter is a diagonal ----------------------------------------------------
def test_einsum_diagonal_gradient_lies_on_the_diagonal():
    """"ii->i" reads the diagonal only: its gradient is diag(w), zero off the diagonal; the
    trace "ii->" gets the identity; "ii,i->i" gets diag(w * v) and, for v, w * diag(x)."""
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    (g,) = grads(ops.einsum("ii->i", x), [x], [1.0, 10.0])
    np.testing.assert_array_equal(g.data, [[1.0, 0.0], [0.0, 10.0]])
    (g,) = grads(ops.einsum("ii->", x), [x])
    np.testing.assert_array_equal(g.data, np.eye(2))
    v = leaf([2.0, 3.0])
    gx, gv = grads(ops.einsum("ii,i->i", x, v), [x, v], [1.0, 10.0])
    np.testing.assert_array_equal(gx.data, [[2.0, 0.0], [0.0, 30.0]])
    np.testing.assert_array_equal(gv.data, [1.0, 40.0])


def test_einsum_broadcasts_back_a_letter_only_its_operand_has():
    """"ij->j" sums i away: each x[i, j] gets w[j]; "ij,jk->ik" is x @ y's gradient."""
    x = leaf([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    (g,) = grads(ops.einsum("ij->j", x), [x], [1.0, 10.0])
    np.testing.assert_array_equal(g.data, [[1.0, 10.0]] * 3)
    y = leaf([[1.0], [-1.0]])
    w = np.array([[1.0], [2.0], [3.0]])
    gx, gy = grads(ops.einsum("ij,jk->ik", x, y), [x, y], w)
    np.testing.assert_array_equal(gx.data, w @ y.data.T)
    np.testing.assert_array_equal(gy.data, x.data.T @ w)


# ----- not drawn: padding_idx, a src larger than the index ------------------------------------------
def test_embedding_padding_row_gets_no_gradient_in_either_order():
    """torch's embedding_dense_backward skips the positions holding padding_idx (its double
    backward masks them again): the padding row's value is read, its gradient is zero, though
    the derivative is not. A negative padding_idx counts from the end."""
    weight = leaf([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ids = [[2, 0], [2, 1]]
    w = np.arange(8.0).reshape(2, 2, 2)
    for pad in (2, -1):
        y = ops.embedding(ids, weight, padding_idx=pad)
        np.testing.assert_array_equal(y.data, weight.data[np.array(ids)])
        (g,) = grads(y, [weight], w)
        np.testing.assert_array_equal(g.data, [[2.0, 3.0], [6.0, 7.0], [0.0, 0.0]])
    wt = leaf(w)
    (g,) = autograd.grad([ops.embedding(ids, weight, padding_idx=2)], [weight], [wt],
                         create_graph=True)
    (gw,) = autograd.grad([g], [wt], [R.tensor(np.ones((3, 2)))])
    np.testing.assert_array_equal(gw.data, [[[0.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]]])


def test_scatter_add_src_larger_than_index_gets_zeros_beyond_it():
    """torch allows index.size(d) <= src.size(d): only src's leading block is added, so the
    rest of src has zero derivative. torch 2.13's backward returns the block's shape instead
    and fails ("invalid gradient"; pytorch#27614, open), so the strategies draw src as large as
    the index; the reference gives the derivative."""
    x, src = leaf([0.0, 0.0, 0.0]), leaf([1.0, 2.0, 3.0, 4.0])
    y = ops.scatter_add(x, 0, [0, 2], src)
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 2.0])
    gx, gs = grads(y, [x, src], [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(gs.data, [1.0, 100.0, 0.0, 0.0])


def test_torch_agrees_on_padding_idx():
    """The padding convention above is torch's (first and second order)."""
    torch = pytest.importorskip("torch")
    weight = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64,
                          requires_grad=True)
    wt = torch.tensor(np.arange(8.0).reshape(2, 2, 2), requires_grad=True)
    y = torch.nn.functional.embedding(torch.tensor([[2, 0], [2, 1]]), weight, padding_idx=-1)
    (g,) = torch.autograd.grad(y, weight, wt, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [[2.0, 3.0], [6.0, 7.0], [0.0, 0.0]])
    (gw,) = torch.autograd.grad(g, wt, torch.ones(3, 2, dtype=torch.float64))
    np.testing.assert_array_equal(gw.numpy(), [[[0.0, 0.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]]])
