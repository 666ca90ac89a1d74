"""Deviations: where an engine really differs from the reference, stated and kept visible.

Like array-api-tests' xfail files, one file per backend (`deviations/<backend>.py`; a long one
gathers parts split by concern from the folder beside it, `load_parts`) lists `Deviation`s: an
id, a one-line reason, the program that shows it (run by suites/test_deviations.py, which
reports an entry as stale once it no longer fails), and a predicate saying which mismatches it
explains. A property test whose failure is explained records the deviation (Hypothesis `event`)
instead of failing. A deviation that is an engine bug (not a documented design difference)
names its `finding`: a script to send upstream.
"""
import functools
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Callable

from gradspec.adapter import ERROR_KINDS
from gradspec.compare import TOLERANCES, compare
from gradspec.interpreter import build_until_error, run
from gradspec.program import (Backward, Call, CallFunction, Detach, Grad, GradStep, InPlace,
                              Leaf, MultiOp, Op, Program)
from gradspec.reference_adapter import ReferenceAdapter
from gradspec.tolerance import rounding_slack
from harness import backend

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deviations")


@dataclass(frozen=True)
class Deviation:
    id: str
    reason: str
    program: object  # gradspec.program.Program reproducing it on this engine alone
    applies: Callable  # (program, mismatch) -> bool: does this deviation explain it?
    parts: tuple = ()  # several deviations explaining one program together (harness/check.py)
    # An engine bug's standalone script in the engine's own API (a path from the repository's
    # root, findings/<engine>/<id>.py): it exits 1 while the bug reproduces and 0 once fixed.
    finding: str = ""
    # The dtypes it can show in (empty: any). A backend without them cannot show it, so its
    # program is not run there (a float64 rounding bug on a float32-only subclass).
    dtypes: tuple = ()

    def explains(self, program, mismatches):
        return bool(mismatches) and all(self.applies(program, m) for m in mismatches)


ROOT = os.path.dirname(HERE)
ENV = "GRADSPEC_DEVIATIONS"


class DeviationFileError(Exception):
    """A deviation file named by --deviations / GRADSPEC_DEVIATIONS that cannot be used."""


def own_file(backend_name):
    """deviations/<name>.py of a backend, or None."""
    path = os.path.join(HERE, backend_name.replace("-", "_") + ".py")
    return path if os.path.exists(path) else None


def default_files(backend_name, adapter_cls=None):
    """The files a backend is judged with unless told otherwise: the adapter class's
    `deviation_files` if it states them; else deviations/<name>.py; else, for an adapter
    that subclasses another (say torch in float32 only, out of tree), the nearest class's
    own file, the adapter's class first (an instance named after its options, such as
    torch-compile-inductor, is judged with its class's file): the same engine shows the same
    differences."""
    stated = getattr(adapter_cls, "deviation_files", None)
    if stated is not None:
        return [_resolve(p) for p in stated]
    own = own_file(backend_name)
    if own:
        return [own]
    for base in getattr(adapter_cls, "__mro__", ()):
        parent = vars(base).get("name")
        path = own_file(parent) if isinstance(parent, str) else None
        if path:
            return [path]
    return []


def split_paths(values):
    """--deviations given several times, each comma- or os.pathsep-separated -> paths."""
    return [p.strip() for v in values or () for p in v.replace(os.pathsep, ",").split(",")
            if p.strip()]


def files_for(backend_name, adapter_cls=None, given=()):
    """The deviation files, in order: the backend's defaults, then each `given` path
    (--deviations, GRADSPEC_DEVIATIONS); a `none` entry drops every file before it."""
    files = default_files(backend_name, adapter_cls)
    for p in given:
        if p == "none":
            files = []
        else:
            path = _resolve(p)
            if not os.path.isfile(path):
                raise DeviationFileError(f"deviation file {p!r} does not exist")
            files.append(path)
    return list(dict.fromkeys(files))


def _resolve(path):
    """A path as given (absolute, or relative to the working directory), else relative to
    the repository's root (where pytest runs from)."""
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.abspath(path)
    return os.path.join(ROOT, path)


def load_files(paths):
    """The deviations the files state, in order; an id stated twice keeps its first entry."""
    seen, out = set(), []
    for path in paths:
        for d in _load_file(path):
            if d.id not in seen:
                seen.add(d.id)
                out.append(d)
    return tuple(out)


def _load_file(path):
    name = os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(f"gradspec_deviations_{name}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except DeviationFileError:
        raise  # from a file it loads (a part, `load_parts`), which the error names
    except Exception as exc:
        raise DeviationFileError(f"deviation file {path}: {type(exc).__name__}: {exc}") from exc
    return _stated(module, path)


def _stated(module, path):
    found = getattr(module, "DEVIATIONS", None)
    if found is None:
        raise DeviationFileError(f"deviation file {path} defines no DEVIATIONS list")
    bad = [d for d in found if not isinstance(d, Deviation)]
    if bad:
        raise DeviationFileError(f"deviation file {path}: DEVIATIONS holds {bad[0]!r}, not a "
                                 f"harness.deviations.Deviation")
    return tuple(found)


def load_parts(path, names):
    """The deviations of a file split by concern, for it to state as its DEVIATIONS:
    `load_parts(__file__, ("backward", "hooks"))` in deviations/paddle.py reads
    deviations/paddle/backward.py, then deviations/paddle/hooks.py (each with its own
    DEVIATIONS list). The parts are modules of one package, so they import what they share
    from a module beside them (`from ._common import ...`); a part is not a deviation file of
    its own. An error names the part it is in, and an id stated twice both parts."""
    folder = os.path.splitext(os.path.abspath(path))[0]
    package = "gradspec_deviation_parts_" + os.path.basename(folder).replace("-", "_")
    spec = importlib.util.spec_from_loader(package, None, is_package=True)
    spec.submodule_search_locations.append(folder)
    sys.modules[package] = importlib.util.module_from_spec(spec)
    out, where = [], {}
    try:
        for name in names:
            part = os.path.join(folder, name + ".py")
            if not os.path.isfile(part):
                raise DeviationFileError(f"deviation file {path}: its part {part} does not exist")
            try:
                module = importlib.import_module(f"{package}.{name}")
            except Exception as exc:
                raise DeviationFileError(f"deviation file {_raised_in(exc, folder, part)}: "
                                         f"{type(exc).__name__}: {exc}") from exc
            for d in _stated(module, part):
                if d.id in where:
                    raise DeviationFileError(f"deviation {d.id!r} is stated twice: in "
                                             f"{where[d.id]} and in {part}")
                where[d.id] = part
                out.append(d)
    finally:  # loaded afresh each time, as a deviation file is
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]
    return out


def _raised_in(exc, folder, part):
    """The file of `folder` an exception was raised in (the module the parts share, say),
    else `part`, the one being loaded."""
    files = [t.tb_frame.f_code.co_filename for t in _frames(exc.__traceback__)]
    files.append(getattr(exc, "filename", None) or "")  # a SyntaxError's file
    inside = [f for f in files if f and os.path.dirname(os.path.abspath(f)) == folder]
    return inside[-1] if inside else part


def _frames(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def load(backend_name):
    """The deviations of `backend_name`'s own file, deviations/<name>.py (none if absent)."""
    path = own_file(backend_name)
    return _load_file(path) if path else ()


def for_backend(backend_name, adapter_cls=None, given=()):
    """(files, deviations) a backend is judged with: see `files_for`."""
    files = files_for(backend_name, adapter_cls, given)
    return files, load_files(files)


def shown(path):
    """A file's name for the report header: relative to the repository where it is inside."""
    rel = os.path.relpath(path, ROOT)
    return path if rel.startswith("..") else rel


def never(program, m):
    """The predicate of a crash the adapter keeps away (UnsupportedProgram before the engine
    runs the program): there is never a mismatch to explain; the entry keeps the finding
    stated, and test_deviations skips its program saying the finding checks the bug."""
    return False


def zeros_for_none(program, m):
    """A functional engine's answer for a leaf the roots do not depend on: zeros where torch
    (and the reference) say None, since a pure function's gradient is always an array."""
    return (m.kind in ("grad", "returned") and m.expected is None and m.actual is not None
            and is_zero(m.actual, program.dtype))


def is_zero(value, dtype):
    """Zero within the dtype's absolute tolerance (gradspec/compare.py's, at scale 1): an
    engine's derivative of a constant may round to 1e-16 instead of 0 (HIPS autograd's third
    derivative of abs: x/|x| differentiated gives (|x| - x*sign(x))/x², 8.9e-16 in float64)."""
    import numpy as np
    return bool(np.all(np.abs(np.asarray(value, dtype=np.float64)) <= TOLERANCES[dtype][1]))


# ----- what the predicates ask of the reference (shared by the deviation files) ------------
def reference_env(program):
    """Every value of the program as the reference computes it (name -> reference tensor:
    `.data`, `.requires_grad`); empty if the reference's forward raises."""
    env, failed = reference_forward(program)
    return env if failed is None else {}


@functools.lru_cache(maxsize=256)
def reference_forward(program):
    """The reference's values before its first forward error, and that step's index (None:
    none raised): where the reference raised, `reference_env` is empty."""
    try:
        return build_until_error(program, ReferenceAdapter())
    except Exception:  # noqa: BLE001 - leaves or layers it cannot make: nothing known
        return {}, 0


@functools.lru_cache(maxsize=64)
def engine_trace(program, adapter_cls):
    """The program's trace on the engine itself (a fresh `adapter_cls()`), for a predicate that
    asks what the engine raised at an action besides the mismatch it is shown; None where the
    engine raised outside the trace. Cached: a predicate is asked once a mismatch. Where the
    candidate is an `adapter_cls` itself, it is the one run (with its options).

    Under --isolate, where the candidate is such an engine, it runs in the candidate's worker
    process: a program the engine crashes on must not run here, where it would take the test
    run with it (a crash there is None: nothing known, nothing explained)."""
    runner = backend.isolated()
    if runner is not None and isinstance(backend.candidate(), adapter_cls):
        try:
            return runner.run(program)
        except Exception:  # noqa: BLE001 - a crash, or rejected
            return None
    candidate = backend.candidate_if_set()
    # The candidate itself where it is this engine with its options (torch.compile's
    # compiler, compiled autograd); a fresh default one otherwise.
    adapter = candidate if type(candidate) is adapter_cls else adapter_cls()
    try:
        return run(program, adapter, strict=False)
    except Exception:  # noqa: BLE001 - a crash elsewhere: nothing known, nothing explained
        return None


def engine_action(program, adapter_cls, action):
    """The engine's own ActionResult at plan[action] (`engine_trace`), or None where it did not
    get there: what a predicate asks when it needs what the engine raised or said there."""
    trace = engine_trace(program, adapter_cls)
    return trace.actions[action] if trace is not None and 0 <= action < len(
        trace.actions) else None


@functools.lru_cache(maxsize=64)
def differences_that_vanish(program, engine_cls, counterfactual_cls):
    """The mismatches (their `where`) that `engine_cls` shows on `program` and
    `counterfactual_cls` does not: a subclass of the engine's adapter with the one behaviour a
    deviation states changed to torch's (tinygrad with each .grad its own buffer, say). The
    most precise predicate there is: it explains exactly what that behaviour causes, and a
    difference the counterfactual still shows stays unexplained. Both are judged as `judge`
    judges, with the rounding slack where a value is off (a float32 counterfactual rounds
    too). Empty where either raised outside the trace."""
    try:
        expected = run(program, ReferenceAdapter())
        traces = (run(program, engine_cls(), strict=False),
                  run(program, counterfactual_cls(), strict=False))
        seen, apart = (compare(program, expected, t) for t in traces)
        if any(m.numeric for m in seen + apart):  # judged as `judge` does: rounding allowed
            slack = rounding_slack(program, ReferenceAdapter(), expected)
            seen, apart = (compare(program, expected, t, slack) for t in traces)
    except Exception:  # noqa: BLE001 - nothing known, nothing explained
        return frozenset()
    return frozenset(m.where for m in seen) - frozenset(m.where for m in apart)


def upstream(program, names):
    """`names` and the values they are computed from, through any step (the gradient flowing
    into them reaches these)."""
    deps = {}
    for s in program.steps:
        if isinstance(s, (Op, MultiOp, CallFunction)):
            for o in getattr(s, "outs", None) or (s.out,):
                deps[o] = set(s.args)
        elif isinstance(s, Call):
            layer = program.layer(s.layer)
            for o in s.outs:
                deps[o] = {a for a in s.args if a} | {q.name for q in layer.params}
        elif isinstance(s, GradStep):
            for o in s.outs:
                deps[o] = set(s.outputs) | set(s.inputs)
        elif isinstance(s, InPlace):
            deps[s.target] = deps.get(s.target, set()) | set(s.args)
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(deps.get(n, ()))
    return seen


def reference_shapes(program):
    return {name: t.data.shape for name, t in reference_env(program).items()}


@functools.lru_cache(maxsize=256)
def reference_errors(program):
    """The error kind (or None) of each plan action on the reference."""
    return tuple(a.error for a in run(program, ReferenceAdapter()).actions)


def reference_raised(program, action, kind):
    errors = reference_errors(program)
    return 0 <= action < len(errors) and errors[action] == kind


def leaves(*specs):
    """Leaves for a deviation's program: (name, shape, values, requires_grad) each."""
    return tuple(Leaf(n, s, v, rg) for n, s, v, rg in specs)


# ----- predicates every functional engine (jax.vjp, autograd.make_vjp) shares -------------
# ----- what the candidate raised: named helpers, not raw strings in every predicate --------
def raised_instead(m, expected, actual):
    """An error mismatch where the reference raised `expected` (an ERROR_KINDS key, or None
    for nothing) and the candidate `actual`: a kind, None, or an exception type's name for an
    error its adapter does not normalize (recorded as "unexpected <Type>")."""
    if m.kind != "error" or m.expected != expected:
        return False
    if actual is None or actual in _ERROR_KINDS():
        return m.actual == actual
    return m.actual == f"unexpected {actual}"


def message_says(m, *phrases):
    """Does the candidate's error message (whole, as the trace keeps it) contain each phrase?"""
    return bool(m.message) and all(p in m.message for p in phrases)


def _ERROR_KINDS():
    return ERROR_KINDS


def nothing_returned(value):
    """Is a trace value the empty tuple a raising action leaves? (`value == ()` is ambiguous
    for an array, and an engine's answer may be one.)"""
    return isinstance(value, tuple) and not value


def all_zero(values):
    import numpy as np
    return all(v is not None and not np.any(np.asarray(v)) for v in values)


def no_error_for_root_without_grad(program, m):
    """torch raised no_grad_fn; the functional engine ran, and its gradients there are zeros
    (a pure function's root always has a gradient)."""
    if m.kind == "error":
        return m.expected == "no_grad_fn" and m.actual is None
    if not reference_raised(program, m.action, "no_grad_fn"):
        return False
    if m.kind == "grad":
        return zeros_for_none(program, m)
    return m.kind == "returned" and nothing_returned(m.expected) and all_zero(m.actual)


def action_roots(action):
    """The roots a Backward differentiates, or a Grad's outputs."""
    return action.roots if isinstance(action, Backward) else action.outputs


def implicit_grad_needs_0d(program, m):
    """The engine's implicit gradient (jax.grad, torch.func.grad) raised
    nonscalar_implicit_grad on a one-element root that is not 0-d, which torch accepts
    (numel() == 1); its gradients are then missing. Checked before anything runs, so it also
    stands where the reference raised a later error."""
    if not 0 <= m.action < len(program.plan):
        return False
    action, env = program.plan[m.action], reference_env(program)
    if not isinstance(action, (Backward, Grad)) or not any(
            w is None and r in env and env[r].data.ndim > 0 and env[r].data.size == 1
            for r, w in zip(action_roots(action), action.weights)):
        return False
    if m.kind == "error":
        return m.actual == "nonscalar_implicit_grad"
    return m.kind in ("grad", "returned") and (m.actual is None or nothing_returned(m.actual))


def implicit_checked_before_weights(program, m):
    """Two wrong roots in one call: a weight of the wrong shape, and a later non-scalar root
    with an implicit gradient. torch reports the first root's error; an adapter that asks the
    engine's implicit gradient (jax.grad, torch.func.grad) about the implicit root before the
    vjp checks the weights meets that one first."""
    import numpy as np
    if not (raised_instead(m, "grad_shape_mismatch", "nonscalar_implicit_grad")
            and 0 <= m.action < len(program.plan)):
        return False
    action, env = program.plan[m.action], reference_env(program)
    pairs = [(tuple(env[r].data.shape) if r in env else (), w)
             for r, w in zip(action_roots(action), action.weights)]
    return (any(w is None and s != () for s, w in pairs)
            and any(w is not None and np.shape(w) != s for s, w in pairs))


def no_error_for_unused_input(program, m):
    """torch raised unused_input (grad() without allow_unused); the functional engine
    returned gradients (zeros) instead."""
    if m.kind == "error":
        return m.expected == "unused_input" and m.actual is None
    return (m.kind == "returned" and nothing_returned(m.expected)
            and reference_raised(program, m.action, "unused_input"))


def functional_deviations(engine, vjp_name, note=""):
    """The three differences every functional engine shows (a pure function's gradient is
    always an array), as `engine`-prefixed entries; `note` adds to the root entry's reason."""
    a, b = leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True))
    return [
        Deviation(
            id=f"{engine}-zeros-for-unused",
            reason="the vjp of a pure function w.r.t. an input the roots do not depend on is an "
                   "array of zeros, where torch leaves .grad None (or returns None with "
                   "allow_unused=True)",
            program=Program(dtype="float64", leaves=(a, b), steps=(Op("t1", "neg", ("a",)),),
                            plan=(Backward(("t1",), (None,)),)),
            applies=zeros_for_none,
        ),
        Deviation(
            id=f"{engine}-no-error-for-root-without-grad",
            reason="a root that depends on no differentiated input (detached, computed under "
                   f"no_grad, or from leaves that do not require grad) gets zero gradients from "
                   f"{vjp_name}{note}, where torch raises (the root does not require grad)",
            program=Program(dtype="float64", leaves=(a,), steps=(Detach("d1", "a"),),
                            plan=(Backward(("d1",), (None,)),)),
            applies=no_error_for_root_without_grad,
        ),
        Deviation(
            id=f"{engine}-no-error-for-unused-input",
            reason=f"{vjp_name} w.r.t. an input the outputs do not use returns zeros, where "
                   "torch's autograd.grad raises without allow_unused=True",
            program=Program(dtype="float64", leaves=(a, b), steps=(Op("t1", "neg", ("b",)),),
                            plan=(Grad(("t1",), ("a",), (None,)),)),
            applies=no_error_for_unused_input,
        ),
    ]
