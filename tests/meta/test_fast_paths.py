"""The fast paths decide exactly as the plain ones: the bulk comparison as value-by-value
`close`, and the builder's choices as the public strategies (valid programs either way)."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from gradspec.reference_adapter import ReferenceAdapter
from gradspec.compare import TOLERANCES, all_close, close
from gradspec.interpreter import run
from strategies import Config, choices, programs

QUICK = settings(max_examples=150, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))

# Magnitudes from 1e-3 to 1e3 (an array's scale is its largest), zeros and non-finite values.
ELEMENTS = st.one_of(st.floats(-1e3, 1e3), st.floats(-1e-3, 1e-3),
                     st.sampled_from([0.0, np.inf, -np.inf, np.nan]))


@st.composite
def _pairs(draw, dtype):
    """(expected, actual) arrays: equal, off by about the dtype's tolerance (relative to the
    element or to the array's largest), one element changed (to a non-finite value too), or
    anything."""
    rtol, atol = TOLERANCES[dtype]
    out = []
    for _ in range(draw(st.integers(0, 4))):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
        e = draw(hnp.arrays(np.float64, shape, elements=ELEMENTS, fill=st.nothing()))
        how = draw(st.sampled_from(["same", "near", "near", "one", "other", "shape"]))
        a = e.copy()
        if how == "near":  # c times one of the tolerance's terms
            c = draw(st.sampled_from([0.5, 1.5, 3.0]))
            scale = max(1.0, float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)))
            a = e * (1 + c * rtol) if draw(st.booleans()) else e + c * atol * scale
        elif how == "one" and e.size:
            a.flat[draw(st.integers(0, e.size - 1))] = draw(ELEMENTS)
        elif how == "other":
            a = draw(hnp.arrays(np.float64, shape, elements=ELEMENTS))
        elif how == "shape":
            a = np.zeros(shape + (1,))
        out.append((e, a))
    return out


@QUICK
@given(data=st.data(), dtype=st.sampled_from(sorted(TOLERANCES)))
def test_bulk_comparison_agrees_with_value_by_value(data, dtype):
    pairs = data.draw(_pairs(dtype))
    with np.errstate(all="ignore"):
        each = [close(a, e, dtype)[0] for e, a in pairs]
        assert [all_close([pair], dtype) for pair in pairs] == each
        assert all_close(pairs, dtype) == all(each)
        # Together, each array keeps its own scale:
        assert all_close([pair for pair, ok in zip(pairs, each) if ok], dtype)


def test_bulk_comparison_keeps_each_arrays_own_scale():
    """The absolute term scales with each array's largest value, not its neighbours'."""
    rtol, atol = TOLERANCES["float64"]
    big, small = np.array([1.0, 1e3]), np.array([0.5, -1e-3])
    big_off = big + 0.5 * atol * 1e3  # within big's tolerance; 500 times small's
    assert all_close([(big, big_off), (small, small)], "float64")
    assert all_close([(small, small), (big, big_off)], "float64")
    assert not all_close([(big, big), (small, small + 0.5 * atol * 1e3)], "float64")


def test_the_public_choices_build_valid_programs_too(monkeypatch):
    import strategies.builder
    monkeypatch.setattr(strategies.builder, "choices", choices.public_choices)
    reference = ReferenceAdapter()
    seen = []

    @settings(QUICK, max_examples=30)
    @given(program=programs(Config(layers=0.2, functions=0.2, max_actions=2), reference))
    def runs(program):
        trace = run(program, reference)
        assert trace.forward_error is None
        seen.append(len(program.steps))
    runs()
    assert max(seen) >= 3


def _same(a, b):
    """Exactly equal: the same keys in the same order, bit-identical arrays, Nones alike."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(a, b, equal_nan=True) and np.shape(a) == np.shape(b)
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(_same(getattr(a, f), getattr(b, f))
                                          for f in a.__dataclass_fields__)
    return a == b


def test_the_strategies_built_session_gives_the_trace_a_fresh_build_gives():
    """The check runs only the plan on the Session the strategies built while drawing: the
    reference's trace is exactly that of building the program anew (hooks, layers, Functions,
    errors, several actions, float32 included)."""
    from gradspec.interpreter import Session
    reference = ReferenceAdapter()
    config = Config(layers=0.3, functions=0.3, tensor_hooks=0.2, module_hooks=0.5,
                    retain_grad=0.2, detach=0.1, no_grad=0.1, max_actions=3, retain_graph=0.5,
                    zero_grad=0.3, functional_grad=0.3, multi_root=0.3, errors=0.2)
    reused = []

    @settings(QUICK, max_examples=150)
    @given(program=programs(config, reference))
    def same_trace(program):
        built = Session.taken_from(program, ReferenceAdapter())
        reused.append(built is not None)
        assert _same(run(program, reference, built=built), run(program, reference))
        assert Session.taken_from(program, reference) is None  # taken once
    same_trace()
    assert sum(reused) >= 0.9 * len(reused)
