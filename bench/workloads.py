"""What the benchmark runs, each as one Hypothesis test run under the `ci` profile:

- every property test of the suites (`test_ops` as one row over all its ops);
- programs of about ten ops (the issue's target): the default Config with 8 to 12 steps;
- the same programs with the candidate in its worker process (`--isolate`): what crash
  isolation costs;
- the bound: the choices those programs drew, drawn again by Hypothesis with nothing else
  done (the most a suite drawing them can check a second);
- the baseline: the straightforward hand-written Hypothesis test the issue describes (1-3
  leaves drawn with `hypothesis.extra.numpy.arrays`, 1-10 elementwise ops, torch forward and
  backward, the forward checked against NumPy), and its generation alone;
- Hypothesis's own floor: `@given(st.integers())` doing nothing.

Everything here must be built after `conftest` is imported (it registers and loads the
profile that `@given` reads).
"""
import importlib
import pathlib
from dataclasses import dataclass, field

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

ROOT = pathlib.Path(__file__).resolve().parent.parent


@dataclass
class Workload:
    name: str
    run: object  # runs the test once; returns the number of examples it checked (or None)
    kind: str  # "suite", "target", "baseline"
    parts: list = field(default_factory=list)  # test_ops: one name per op
    runner: object = None  # the isolated row: the worker, whose CPU time counts too


def _needs(test, caps):
    """The capabilities a suite test's `needs` marks ask for that `caps` lacks."""
    missing = []
    for mark in getattr(test, "pytestmark", ()):
        if mark.name == "needs":
            missing += [c for c in mark.args if c not in caps]
    return missing


def suite_workloads(candidate):
    """Every property test of suites/, in file order; test_ops as one workload."""
    out = []
    for path in sorted((ROOT / "suites").glob("test_*.py")):
        module = importlib.import_module(f"suites.{path.stem}")
        for name, test in vars(module).items():
            if not name.startswith("test_") or not callable(test):
                continue
            if _needs(test, candidate.capabilities):
                continue
            if getattr(test, "is_hypothesis_test", False):
                out.append(Workload(f"{path.stem}::{name}", test, "suite"))
            elif path.stem == "test_ops" and name == "test_op":
                ops = [op for op in module.OPS if op in candidate.ops]
                out.append(Workload("test_ops::test_op[*]", _each(test, ops), "suite",
                                    parts=ops))
    return out


def _each(test, params):
    def run_all():
        for p in params:
            test(p)
    return run_all


def target_workload():
    from suites.conformance import Config, conforms, programs_for

    ten_ops = Config(min_steps=8, max_steps=12)

    @given(program=programs_for(ten_ops))
    def about_ten_ops(program):
        conforms(program)
    return Workload("target: default Config, 8-12 steps", about_ten_ops, "target")


ISOLATED = "isolated: the target, candidate in a worker (--isolate)"


def isolated_workload(target, spec, name):
    """The target's test again (derandomized: the same programs) with the candidate run by its
    worker process, as `pytest --isolate` runs it. The worker starts in the untimed round."""
    from harness import backend as current
    from harness.isolate import IsolatedCandidate
    runner = IsolatedCandidate(spec, name=name)

    def run():
        current.set_isolated(runner)
        try:
            return target.run()
        finally:
            current.set_isolated(None)
    return Workload(ISOLATED, run, "isolated", runner=runner)


# ----- the bound: Hypothesis drawing the target's choices and nothing else ----------------------
def recorded_choices(workload):
    """The choices each program of `workload` drew through the builder, in order, one list
    per program: ("i", (lo, hi)) or ("b", (p,)). Runs the workload once (untimed)."""
    import strategies.builder as builder
    original, programs = builder.choices, []

    def recording(draw):
        integer, boolean = original(draw)
        drawn = []
        programs.append(drawn)

        def recorded_integer(*args):
            drawn.append(("i", args))
            return integer(*args)

        def recorded_boolean(*args):
            drawn.append(("b", args))
            return boolean(*args)
        return recorded_integer, recorded_boolean
    builder.choices = recording
    try:
        workload.run()
    finally:
        builder.choices = original
    return [drawn for drawn in programs if drawn]


def choices_workload(recorded):
    """Each example draws, from the test case as the builder does, the same choices (kinds and
    bounds, in order) as one of the target's programs, and does nothing else: Hypothesis's own
    cost of such a program. No suite drawing these programs checks more of them a second."""
    from strategies.choices import choices
    calls = [0]

    @st.composite
    def the_same_choices(draw):
        integer, boolean = choices(draw)
        for kind, args in recorded[integer(0, len(recorded) - 1)]:
            (integer if kind == "i" else boolean)(*args)

    @given(the_same_choices())
    def choices_alone(_):
        calls[0] += 1

    mean = sum(map(len, recorded)) / len(recorded)
    return Workload(f"{BOUND} ({mean:.0f} a program)", _counted(calls, choices_alone),
                    "baseline")


BOUND = "bound: the target's choices alone"


def _counted(calls, test):
    """A run of `test` that returns the examples it checked (the test counts into `calls`)."""
    def run():
        calls[0] = 0
        test()
        return calls[0]
    return run


# ----- the baseline: a straightforward hand-written composite ---------------------------------
def _torch_ops():
    import torch
    return {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "neg": torch.neg,
            "tanh": torch.tanh, "sin": torch.sin, "cos": torch.cos, "sigmoid": torch.sigmoid}


NUMPY_OPS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "neg": np.negative,
             "tanh": np.tanh, "sin": np.sin, "cos": np.cos,
             "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a))}
ARITY = {"add": 2, "sub": 2, "mul": 2}


@st.composite
def straightforward_programs(draw):
    """1-3 leaves of one shape with `arrays` (`array_shapes()` as it comes: 1-3 dims of 1-6),
    then 1-10 elementwise ops on earlier values."""
    shape = draw(hnp.array_shapes())
    leaves = [draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 2)))
              for _ in range(draw(st.integers(1, 3)))]
    ops, n_values = [], len(leaves)
    for _ in range(draw(st.integers(1, 10))):
        name = draw(st.sampled_from(sorted(NUMPY_OPS)))
        args = [draw(st.integers(0, n_values - 1)) for _ in range(ARITY.get(name, 1))]
        ops.append((name, args))
        n_values += 1
    return leaves, ops


def baseline_workloads():
    import torch
    torch_ops = _torch_ops()
    calls = [0]

    @given(program=straightforward_programs())
    def straightforward(program):
        calls[0] += 1
        leaves, ops = program
        tensors = [torch.tensor(a, requires_grad=True) for a in leaves]
        values, arrays = list(tensors), list(leaves)
        for name, args in ops:
            values.append(torch_ops[name](*[values[i] for i in args]))
            arrays.append(NUMPY_OPS[name](*[arrays[i] for i in args]))
        values[-1].sum().backward()
        np.testing.assert_allclose(values[-1].detach().numpy(), arrays[-1], rtol=1e-10)
        for t in tensors:
            assert t.grad is None or bool(torch.isfinite(t.grad).all())

    @given(program=straightforward_programs())
    def generation_only(program):
        calls[0] += 1

    @given(x=st.integers())
    def hypothesis_floor(x):
        calls[0] += 1

    return [Workload("baseline: straightforward composite (issue)",
                     _counted(calls, straightforward), "baseline"),
            Workload("baseline: its generation alone", _counted(calls, generation_only),
                     "baseline"),
            Workload("floor: @given(st.integers())", _counted(calls, hypothesis_floor),
                     "baseline")]
