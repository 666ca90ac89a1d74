"""The reference's in-place ops and views against finite differences: random programs drawn
by the in-place suite's own strategy (writes into non-leaf values, through views into their
bases, slice assignment), as functions of their leaves. First derivatives (the backward a
plan runs) and second ones (the recorded backward of CopySlices and its region ops) must
match central differences. Programs whose backward raises (a saved tensor modified), detach
and no_grad (which finite differences see through) are left out."""
import numpy as np
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from gradspec.reference_adapter import ReferenceAdapter
from gradspec.interpreter import build
from reference.errors import AutogradError
from strategies import programs
from suites.test_inplace import INPLACE
from finite_diff import analytic_vjp, assert_close_to_fd, numerical_vjp
from test_higher_order_fd import check_second_derivatives

REFERENCE = ReferenceAdapter()
PROGRAMS = INPLACE.but(dtypes=("float64",), detach=0.0, no_grad=0.0, forward_errors=0.0,
                       max_actions=1, multi_root=0.0, inplace=0.6)
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def _function(program):
    names = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    action = program.plan[0]

    def f(*xs):
        env = build(program, REFERENCE, bound=dict(zip(names, xs))).env
        return env[action.roots[0]]
    return f, names, action


@SETTINGS
@given(program=programs(PROGRAMS, REFERENCE))
def test_first_derivatives_through_inplace_writes(program):
    f, names, action = _function(program)
    by_name = {leaf.name: leaf for leaf in program.all_leaves()}
    arrays = [by_name[n].array("float64") for n in names]
    # An implicit weight (None) is drawn for a 0-d root only (these programs make no errors).
    w = np.ones(()) if action.weights[0] is None else np.asarray(action.weights[0])
    try:
        analytic = analytic_vjp(f, arrays, w)
    except AutogradError:
        assume(False)  # a saved tensor modified in place: nothing to differentiate
    numeric = numerical_vjp(f, arrays, w)
    # Central differences of <w, f> in float64: truncation and rounding stay below 1e-6
    # relative to the largest element (the leaves' values are two-decimal numbers ~1).
    assert_close_to_fd(names, analytic, numeric, rtol=1e-5, atol=1e-6,
                       what=f": reference vs central differences\n{program}")


@SETTINGS
@given(program=programs(PROGRAMS, REFERENCE), data=st.data())
def test_second_derivatives_through_inplace_writes(program, data):
    size = sum(leaf.array("float64").size for leaf in program.all_leaves() if leaf.requires_grad)
    v = data.draw(st.lists(st.sampled_from([-1.0, -0.5, 0.5, 1.0, 2.0]), min_size=size,
                           max_size=size), label="v")
    try:
        check_second_derivatives(program, np.array(v))
    except AutogradError:
        assume(False)
