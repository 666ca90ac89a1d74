"""Where the nn ops have a convention rather than a derivative, what the reference does, and
that the strategies keep away from it.

max_pool2d at a tie: the max is not differentiable there, and engines pick differently (one
element of the tie, or a split). torch's CPU kernel scans each window row-major and keeps a
new max only when it is strictly greater (`val > maxval`), so the whole gradient goes to the
first max in the window; its saved indices say which. The reference does the same (np.argmax
returns the first), and the draw rule keeps every window's two largest values more than
KINK apart, so no drawn program depends on it.

The norms: the statistics are the batch's own, with the biased variance (divided by n, not
n - 1; torch uses n - 1 only for the running variance, which these ops do not keep), and the
draw rules keep every normalized group's spread above SPREAD.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import reference
from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.interpreter import build
from gradspec.vocabulary import KINK
from gradspec.vocabulary.nn import SPREAD, _geometry
from reference import autograd, ops
from reference.ops.nn import window_values
from strategies import Config, programs

REFERENCE = ReferenceAdapter()
# A 3x3 input with ties: the 2x2 window at the top left holds 3 twice, at (0, 1) and (1, 0).
TIED = np.array([[[[1.0, 3.0, 0.0],
                   [3.0, 2.0, 3.0],
                   [0.0, 1.0, 3.0]]]])


def _max_pool_grad(x, **params):
    t = reference.tensor(x, requires_grad=True)
    out = ops.max_pool2d(t, **params)
    (g,) = autograd.grad(ops.sum(out), [t])
    return out.data, g.data


def test_max_pool_sends_a_tie_gradient_to_the_first_max_in_the_window():
    out, g = _max_pool_grad(TIED, kernel_size=2, stride=1)
    assert out.tolist() == [[[[3.0, 3.0], [3.0, 3.0]]]]
    # Windows (row-major): top left -> (0, 1); top right (3, 0, 2, 3) -> (0, 1) again; bottom
    # left (3, 2, 0, 1) -> (1, 0); bottom right (2, 3, 1, 3) -> (1, 2). Overlaps add up.
    assert g.tolist() == [[[[0.0, 2.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]]]


def test_max_pool_padding_never_takes_the_gradient():
    """Padding reads as -inf: an all-negative window at the border still sends its gradient
    to an element of the input."""
    x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    out, g = _max_pool_grad(x, kernel_size=2, stride=1, padding=1)
    assert out.tolist() == [[[[-1.0, -1.0, -2.0], [-1.0, -1.0, -2.0], [-3.0, -3.0, -4.0]]]]
    assert g.tolist() == [[[[4.0, 2.0], [2.0, 1.0]]]]


def test_the_tie_convention_is_torchs():
    """What torch does with the same input (skipped where torch is not installed)."""
    torch = pytest.importorskip("torch")
    x = torch.tensor(TIED, requires_grad=True)
    torch.nn.functional.max_pool2d(x, kernel_size=2, stride=1).sum().backward()
    assert x.grad.tolist() == _max_pool_grad(TIED, kernel_size=2, stride=1)[1].tolist()


def test_batch_norm_normalizes_with_the_biased_variance():
    x = np.array([[1.0], [2.0], [4.0]])  # one channel, three samples: variance 14/9
    out = ops.batch_norm(reference.tensor(x), eps=0.0).data
    np.testing.assert_allclose(out, (x - 7 / 3) / np.sqrt(14 / 9))


def _inputs_of(op, n):
    """The first operand of every `op` step in `n` programs drawn around it."""
    seen = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs(Config(dtypes=("float64",), max_steps=4, focus_op=op), REFERENCE))
    def collect(program):
        env = build(program, REFERENCE).env
        seen.extend((env[s.args[0]].data, dict(s.params)) for s in program.steps
                    if isinstance(s, P.Op) and s.op == op)
    collect()
    assert seen
    return seen


def test_the_strategies_never_draw_a_max_pool_tie():
    for x, params in _inputs_of("max_pool2d", 60):
        top = np.sort(window_values(x, *_geometry(params), fill=-np.inf), axis=-1)
        if top.shape[-1] > 1:
            assert (top[..., -1] - top[..., -2]).min() > KINK, (x, params)


@pytest.mark.parametrize("op", ["layer_norm", "batch_norm"])
def test_the_strategies_keep_each_normalized_group_spread(op):
    for x, params in _inputs_of(op, 40):
        dims = (tuple(range(x.ndim - len(params["normalized_shape"]), x.ndim))
                if op == "layer_norm" else (0,) + tuple(range(2, x.ndim)))
        assert x.std(axis=dims).min() > SPREAD, (x, params)
