"""The program strategy: valid programs, every op reachable, values in domain, short shrinks."""
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.interpreter import run
from gradspec.vocabulary import ALL_OPS, MULTI_OUTPUT, PIECEWISE_CONSTANT
from harness.deviations import upstream
from strategies import Config, programs
from strategies.op_args import MAX_ABS

REFERENCE = ReferenceAdapter()
OPS = sorted(ALL_OPS - set(PIECEWISE_CONSTANT))

EVERYTHING = Config(layers=0.3, functions=0.3, tensor_hooks=0.2, module_hooks=0.5,
                    retain_grad=0.2, detach=0.1, no_grad=0.1, multi_output=0.1, max_actions=3,
                    retain_graph=0.5,
                    zero_grad=0.3, functional_grad=0.3, multi_root=0.3, errors=0.2)
# Nothing that may legitimately raise: one action, no functional grad, no deliberate errors.
NO_ERRORS = Config(layers=0.3, functions=0.3, tensor_hooks=0.2, module_hooks=0.5,
                   retain_grad=0.2, detach=0.1, no_grad=0.1, multi_output=0.1, multi_root=0.3)
CONFIGS = {"default": Config(), "everything": EVERYTHING, "no-errors": NO_ERRORS,
           "broadcast": Config(broadcast=0.9, max_steps=10)}


def quick(**changes):
    """Derandomized, small budgets, no explain phase: these tests check the tooling."""
    changes.setdefault("phases", (Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))
    return settings(derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), **changes)


def _op_outputs(program):
    return [s.out for s in program.steps if isinstance(s, P.Op)]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_programs_run_on_the_reference_and_stay_in_domain(name):
    @quick(max_examples=40)
    @given(program=programs(CONFIGS[name], REFERENCE))
    def runs(program):
        trace = run(program, REFERENCE)  # re-raises anything that is not a normalized error
        assert trace.forward_error is None, trace.forward_message
        for value_name, value in trace.forward.items():
            assert np.all(np.isfinite(value)), f"{value_name} = {value}"
        for out in _op_outputs(program):
            assert np.abs(trace.forward[out]).max(initial=0.0) < MAX_ABS, out
        for action in trace.actions:
            for g in list(action.grads.values()) + list(action.retained.values()) + list(
                    action.returned or ()):
                assert g is None or np.all(np.isfinite(g)), action
        if name != "everything":  # the others draw nothing that may legitimately raise
            assert [a.error for a in trace.actions] == [None] * len(trace.actions), \
                [(a.error, a.message) for a in trace.actions]
    runs()


@pytest.mark.parametrize("op", OPS + list(MULTI_OUTPUT))
def test_the_focus_op_always_appears(op):
    seen_params = set()

    @quick(max_examples=12)
    @given(program=programs(Config(focus_op=op, max_steps=4), REFERENCE))
    def uses_it(program):
        steps = [s for s in program.steps if isinstance(s, (P.Op, P.MultiOp)) and s.op == op]
        assert steps, f"focus op {op!r} missing from\n{program}"
        seen_params.update(s.params for s in steps)
    uses_it()
    assert seen_params


def test_every_op_of_the_vocabulary_is_drawn_without_a_focus():
    """Without a focus op, a few hundred programs use every op (nothing is unreachable)."""
    seen = set()

    @quick(max_examples=300)
    @given(program=programs(Config(max_steps=10), REFERENCE))
    def collect(program):
        seen.update(s.op for s in program.steps if isinstance(s, P.Op))
    collect()
    assert set(OPS) - seen == set()


def _has_mul(program):
    return any(isinstance(s, P.Op) and s.op == "mul" for s in program.steps)


@pytest.mark.parametrize("config", [Config(), EVERYTHING], ids=["default", "everything"])
def test_a_counterexample_shrinks_to_a_short_program(config):
    program = find(programs(config, REFERENCE), _has_mul,
                   settings=quick(max_examples=300))
    assert _has_mul(program)
    assert len(program.steps) <= 2, program
    assert len(program.plan) == 1 and not program.layers and not program.functions, program
    assert program.dtype == "float64"
    assert all(len(leaf.values) <= 2 for leaf in program.leaves), program


def test_a_failing_property_reports_the_shrunk_program():
    """What a suite user sees: the final falsifying program is short and printed as source."""
    failing = []

    @quick(max_examples=200)
    @given(program=programs(EVERYTHING.but(focus_op="mul"), REFERENCE))
    def no_mul(program):
        if _has_mul(program):
            failing.append(program)
            raise AssertionError(f"uses mul:\n{program}")

    with pytest.raises(AssertionError) as info:
        no_mul()
    shrunk = failing[-1]
    assert len(shrunk.steps) <= 2
    assert shrunk.to_source() in str(info.value)
    notes = "\n".join(getattr(info.value, "__notes__", []))
    # Hypothesis says "Falsifying example" (6.15x) or "Failing test case" (6.17x).
    assert "no_mul(" in notes and ("Falsifying example" in notes or "Failing test case" in notes)


def test_programs_respect_the_adapter_capabilities():
    class Limited(ReferenceAdapter):
        name = "limited"
        capabilities = frozenset({"float32", "stateful_grad"})
        ops = frozenset({"add", "mul", "exp", "sum"})

    config = EVERYTHING.but(weights=1.0, max_steps=6)

    @quick(max_examples=40)
    @given(program=programs(config, Limited()))
    def limited(program):
        assert program.dtype == "float32"
        assert not program.layers and not program.functions
        kinds = {type(s) for s in program.steps} | {type(a) for a in program.plan}
        assert kinds <= {P.Op, P.Backward, P.ZeroGrad}, kinds
        assert {s.op for s in program.steps} <= Limited.ops
        for action in program.plan:  # one root; a weight only for a scalar (0-d) root
            if isinstance(action, P.Backward):
                assert len(action.roots) == 1
                assert all(w is None or np.ndim(w) == 0 for w in action.weights), action
    limited()


def test_no_action_goes_through_a_freed_graph_the_backend_cannot_handle():
    """A backend with neither retain_graph nor error_kinds cannot keep a graph for a second
    backward nor raise torch's freed-graph error: the in-place suite (two actions allowed)
    draws it no action after one that freed the graph."""
    from suites.test_inplace import INPLACE

    class NoRetainGraph(ReferenceAdapter):
        name = "no-retain-graph"
        capabilities = ReferenceAdapter.capabilities - {"retain_graph", "error_kinds"}

    inplace_steps = []

    @quick(max_examples=60)
    @given(program=programs(INPLACE, NoRetainGraph()))
    def respects(program):
        inplace_steps.extend(s for s in program.steps if isinstance(s, P.InPlace))
        for i, action in enumerate(program.plan[:-1]):
            freed = not action.retain_graph and not getattr(action, "create_graph", False)
            assert isinstance(action, P.Functional) or not freed, program
        trace = run(program, REFERENCE)
        assert "graph_freed" not in [a.error for a in trace.actions], program
    respects()
    assert inplace_steps  # the suite still draws its in-place ops


def test_seed_zero_values_are_simple():
    """Shrunk programs carry readable leaves: two decimals, away from zero."""
    from strategies.values import expand
    values = expand(0, (2, 3))
    assert values == (0.5, -0.75, 1.0, -1.25, 1.5, -0.5)
    for seed in (1, 12345, 2**32 - 1):
        vals = np.array(expand(seed, (50,)))
        assert np.all(np.abs(vals) >= 0.1) and np.all(np.round(vals, 2) == vals)
        assert np.all(np.array(expand(seed, (50,), positive=True)) > 0)


def test_small_leaves_get_the_same_values_from_python_ints():
    """expand() computes small leaves in Python ints: exactly the values of the NumPy path,
    so the programs a seed gives do not depend on the leaf's size crossing the threshold."""
    from strategies.values import SMALL, _expand, expand
    rnd = np.random.default_rng(0)
    for seed in [1, 2, 2**32 - 1] + [int(s) for s in rnd.integers(1, 2**32, 200)]:
        for n in range(SMALL + 1):
            for positive in (False, True):
                assert expand(seed, (n,), positive=positive) == \
                    _expand(seed, n, positive, 1.0, 0), (seed, n, positive)


def _upstream(program, name):
    """Every value `name` was computed from, through any step (not `name` itself)."""
    return upstream(program, {name}) - {name}


@quick(max_examples=400)
@given(programs(Config(higher_order=0.7, max_steps=8, weights=0.5), REFERENCE))
def test_no_gradient_is_taken_wrt_a_value_inside_an_earlier_gradient(program):
    """`grad(t5 wrt t1)` where t5 = t1 + sum(g*g) and g = grad(t1 = prod(a) wrt a): g's graph
    may read prod's node (torch divides its output by a) or not (the reference multiplies the
    other factors), so what reaches t1 through g, with a held still, is the engine's choice.
    The strategy draws no input strictly inside an earlier gradient d(outputs)/dx behind it
    (computed from x, the outputs computed from it); at x or above every engine agrees."""
    steps = [s for s in program.steps if isinstance(s, P.GradStep)]
    for k, later in enumerate(steps):
        behind = set().union(*(_upstream(program, o) | {o} for o in later.outputs))
        for earlier in steps[:k]:
            region = set().union(*(_upstream(program, o) | {o} for o in earlier.outputs))
            for g, x in zip(earlier.outs, earlier.inputs):
                if g in behind:
                    inside = {n for n in region if x in _upstream(program, n)}
                    assert not set(later.inputs) & inside, program


@quick(max_examples=300)
@given(programs(Config(functional_api=1.0, ops=frozenset({"floor_divide", "mul", "add", "sin"}),
                       max_steps=6), REFERENCE))
def test_no_functional_input_feeds_an_op_without_a_derivative(program):
    """floor_divide is drawn only on operands that need no gradient; a functional jacobian of
    the forward as a function of such a leaf would differentiate it (torch raises, other
    engines give zeros). No Functional action takes one as an input."""
    for action in program.plan:
        if not isinstance(action, P.Functional):
            continue
        behind = _upstream(program, action.output) | {action.output}
        for s in program.steps:
            if isinstance(s, P.Op) and s.op == "floor_divide" and s.out in behind:
                feeding = set().union(*(_upstream(program, a) | {a} for a in s.args))
                assert not set(action.inputs) & feeding, program
