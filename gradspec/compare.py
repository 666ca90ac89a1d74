"""Comparing a candidate's trace with the reference's: values, None-ness, errors, hooks.

Tolerances are part of the contract; each one is explained where it is defined.
"""
from dataclasses import dataclass

import numpy as np

from .program import ZeroGrad

# float64: both engines compute the same formulas in double precision; they differ only in
# summation order and libm rounding, a few ulps per op, amplified by at most the condition
# numbers the strategies allow (values bounded, denominators away from zero): torch and the
# reference were measured within 1e-12 (scaled) over 1000 programs per suite test. 1e-8
# relative is ~10^7 ulps of headroom for that, and below float32's rounding (6e-8), so it
# catches a derivative computed in float32 inside a float64 engine, not only a 1e-4 error.
# The absolute term is scaled by the array's largest magnitude: cancellation in a sum leaves an
# element an error relative to the *terms*, not to itself.
TOLERANCES = {
    "float64": (1e-8, 1e-9),
    # float32: eps is 1.2e-7; a chain of ~10 ops with modest condition numbers loses up to
    # ~1e-4 relative against the float64 oracle, so we allow 2e-3 (a wrong derivative is off
    # by O(1), far outside it).
    "float32": (2e-3, 1e-4),
}


@dataclass
class Mismatch:
    where: str
    expected: object
    actual: object
    detail: str = ""
    # Structured location, for deviation predicates: what differs (forward, requires_grad,
    # error, returned, grad, retained, nonleaf_grad, hook, grad_aliasing), the value's name
    # (grad_aliasing: the two leaves, "a,b"), and the plan action index.
    kind: str = ""
    name: str = ""
    action: int = -1
    numeric: bool = False  # values of the same shape outside the tolerance (not None-ness)
    message: str = ""  # an error mismatch: the candidate's whole error message (if it raised)
    # A `.grad` that already differed after plan[since] is judged by what this action added
    # on each side: `change` is (the reference's, the candidate's); expected/actual stay the
    # values. -1 / None for a value judged as it stands.
    since: int = -1
    change: tuple = None

    def __str__(self):
        text = (f"{self.where}: {self.detail}\n    expected (reference): {_fmt(self.expected)}"
                f"\n    actual   (candidate): {_fmt(self.actual)}")
        if self.change is not None:
            text += (f"\n    reference's change:    {_fmt(self.change[0])}"
                     f"\n    candidate's change:    {_fmt(self.change[1])}")
        return text


def _fmt(v):
    if v is None or isinstance(v, (str, bool)):
        return repr(v)
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ")"
    return np.array2string(np.asarray(v), precision=8, separator=", ", threshold=60)


def close(actual, expected, dtype, slack=None):
    """(ok, detail) for two arrays under the dtype's tolerance, plus `slack` (an absolute
    error allowed per element: the rounding the reference's noisy runs show)."""
    rtol, atol = TOLERANCES[dtype]
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return _close(a, e, rtol, atol, slack)


def _close(a, e, rtol, atol, slack=None):
    if a.shape != e.shape:
        return False, f"shape {a.shape} != expected {e.shape}"
    if a.size == 0:
        return True, ""
    if not np.all(np.isfinite(a) == np.isfinite(e)):
        return False, "non-finite values differ"
    scale = max(1.0, float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0)))
    err = np.abs(a - e)
    bound = atol * scale + rtol * np.abs(e)
    if slack is not None and np.shape(slack) in ((), e.shape):
        bound = bound + slack
    finite = np.isfinite(e)
    bad = finite & (err > bound)
    if np.any(bad):
        rel = float(np.max(err[finite] / np.maximum(np.abs(e[finite]), atol * scale)))
        return False, f"max abs diff {float(np.max(err[finite])):.3g}, max rel {rel:.3g} " \
                      f"(rtol {rtol:g}, atol {atol:g}*{scale:.3g})"
    return True, ""


def _none_differs(where, expected, actual, out):
    """Handle a None on either side (a mismatch unless both are None); True if there was one."""
    if expected is None or actual is None:
        if (expected is None) != (actual is None):
            out.append(Mismatch(where, expected, actual,
                                "None vs a tensor (None and zeros are different answers)"))
        return True
    return False


class _Exact:
    """Compares each pair of values where it is met, with the detail a report needs.

    `slack`: {where: extra absolute error allowed per element} (gradspec/tolerance.py)."""

    def __init__(self, dtype, slack=None):
        self.dtype, self.slack = dtype, slack or {}

    def __call__(self, where, expected, actual, out):
        if _none_differs(where, expected, actual, out):
            return
        ok, detail = close(actual, expected, self.dtype, self.slack.get(where))
        if not ok:
            out.append(Mismatch(where, expected, actual, detail,
                                numeric=np.shape(expected) == np.shape(actual)))

    def differs(self, where, expected, actual):
        scratch = []
        self(where, expected, actual, scratch)
        return bool(scratch)

    def change(self, where, before, now, since, out):
        """Compare what one action added to a `.grad` that already differed after plan[since]
        (`before`, `now`: (reference, candidate) values there and here). False where the
        change is not a difference of two arrays (a reset to None, a new shape): the caller
        then compares the values as they stand."""
        de, da = _change(before[0], now[0]), _change(before[1], now[1])
        if de is _RESET or da is _RESET or before[2] is None:
            return False
        if de is None and da is None:
            return True  # neither side changed it: the earlier difference, carried
        de = np.zeros_like(da) if de is None else de
        da = np.zeros_like(de) if da is None else da
        slack = [self.slack[w] for w in (where, before[2]) if w in self.slack]
        # The change is a difference of two values: each one's rounding allowance counts.
        ok, detail = close(da, de, self.dtype, sum(slack) if slack else None)
        if not ok:
            out.append(Mismatch(
                f"{where}, changed by this action", now[0], now[1],
                f"it already differed after plan[{since}]; this action changed it by a "
                f"different amount: {detail}", numeric=True, since=since, change=(de, da)))
        return True


_RESET = object()  # a .grad set back to None, or replaced by one of another shape


def _change(before, now):
    """What an action added to a `.grad`: None if it stayed None, else an array."""
    if now is None:
        return None if before is None else _RESET
    now = np.asarray(now, dtype=np.float64)
    if before is None:
        return now
    before = np.asarray(before, dtype=np.float64)
    if before.shape != now.shape:
        return _RESET
    with np.errstate(invalid="ignore"):
        return now - before


class _Spread:
    """Keeps, per value, the largest element-wise distance of noisy runs from the exact one."""

    def __init__(self, spread):
        self.spread = spread

    def __call__(self, where, expected, noisy, out):
        if expected is None or noisy is None:
            return
        e, n = np.asarray(expected, dtype=np.float64), np.asarray(noisy, dtype=np.float64)
        if e.shape != n.shape:
            return
        with np.errstate(invalid="ignore"):
            d = np.where(np.isfinite(e) & np.isfinite(n), np.abs(n - e), 0.0)
        self.spread[where] = np.maximum(self.spread.get(where, 0.0), d)


def spread_walk(program, expected, noisy, spread):
    """Fold a noisy reference run's distance from `expected` into `spread` {where: array}."""
    _walk(program, expected, noisy, _Spread(spread), labels=True)


class _Collect:
    """Keeps each pair of values, to be compared all at once by `all_close`."""

    def __init__(self):
        self.pairs = []

    def __call__(self, where, expected, actual, out):
        if not _none_differs(where, expected, actual, out):
            self.pairs.append((expected, actual))


def all_close(pairs, dtype):
    """Does every (expected, actual) pair pass `close`? One NumPy pass over all of them.

    Element for element the same test as `_close` (each array's own scale, non-finite values
    where the other has them); it says only whether all pass, not which or by how much."""
    rtol, atol = TOLERANCES[dtype]
    es, acts = [], []
    for e, a in pairs:
        e, a = np.asarray(e, dtype=np.float64), np.asarray(a, dtype=np.float64)
        if e.shape != a.shape:
            return False
        if e.size:
            es.append(e.ravel())
            acts.append(a.ravel())
    if not es:
        return True
    sizes = [e.size for e in es]
    e, a = np.concatenate(es), np.concatenate(acts)
    finite = np.isfinite(e)
    if not np.array_equal(finite, np.isfinite(a)):
        return False
    magnitude = np.abs(e, where=finite, out=np.zeros_like(e))
    starts = np.cumsum([0] + sizes[:-1])
    scale = np.repeat(np.maximum(np.maximum.reduceat(magnitude, starts), 1.0), sizes)
    with np.errstate(invalid="ignore"):
        bad = finite & (np.abs(a - e) > atol * scale + rtol * magnitude)
    return not bad.any()


def _values(where, expected, actual, value, out):
    if len(expected) != len(actual):
        out.append(Mismatch(where, expected, actual,
                            f"{len(actual)} values, expected {len(expected)}"))
        return
    for k, (e, a) in enumerate(zip(expected, actual)):
        if isinstance(e, tuple) or isinstance(a, tuple):
            _values(f"{where}[{k}]", e or (), a or (), value, out)
        else:
            value(f"{where}[{k}]", e, a, out)


def _hooks(where, expected, actual, value, out):
    """Per hooked tensor/module: the same calls, in the same order, with the same values."""
    def group(calls):
        g = {}
        for c in calls:
            g.setdefault((c.kind, c.target), []).append(c.values)
        return g
    ge, ga = group(expected), group(actual)
    for key in sorted(set(ge) | set(ga)):
        e, a = ge.get(key, []), ga.get(key, [])
        label = f"{where} {key[0]} hook on {key[1]!r}"
        if len(e) != len(a):
            out.append(Mismatch(label, f"{len(e)} calls", f"{len(a)} calls", "call count"))
            continue
        for n, (ve, va) in enumerate(zip(e, a)):
            _values(f"{label} call {n}", ve, va, value, out)


# Errors raised before the engine runs any node leave every `.grad` untouched. Any other error
# stops a backward midway, and which nodes ran before it depends on how an engine splits ops
# into nodes (torch's linear is one addmm node, the reference's an add and a matmul): the
# state it leaves is unspecified, so once both engines raised one, later state is not compared.
PRE_RUN_ERRORS = {"nonscalar_implicit_grad", "grad_shape_mismatch", "no_grad_fn",
                  "input_no_grad"}


def _tag(out, start, kind, name="", action=-1):
    for m in out[start:]:
        if not m.kind:
            m.kind, m.name, m.action = kind, name, action


def compare(program, expected, actual, slack=None):
    """All differences between the reference trace `expected` and the candidate's `actual`.

    A first walk only collects the pairs of values and compares them in one NumPy pass; where
    anything differs, a second walk compares each value where it is met and says how.
    `slack`: extra allowed error per value (gradspec/tolerance.py rounding_slack)."""
    if slack is None:
        collect = _Collect()
        out = _walk(program, expected, actual, collect, labels=False)
        if not out and all_close(collect.pairs, program.dtype):
            return out
    return _walk(program, expected, actual, _Exact(program.dtype, slack), labels=True)


def _walk(program, expected, actual, value, labels):
    """Every comparison of the two traces, in report order; `value(where, e, a, out)` compares
    one pair of values. Without `labels` the plan actions are not printed into `where`."""
    out = []
    if expected.forward_error or actual.forward_error:
        if expected.forward_error != actual.forward_error:
            out.append(Mismatch("forward", expected.forward_error, actual.forward_error,
                                _error_detail("error kind during the forward steps",
                                              actual.forward_message), kind="error",
                                message=actual.forward_message))
        return out
    for name, e in expected.forward.items():
        n = len(out)
        value(f"forward value {name}", e, actual.forward.get(name), out)
        _tag(out, n, "forward", name)
        if name in actual.requires_grad and \
                expected.requires_grad[name] != actual.requires_grad[name]:
            out.append(Mismatch(f"{name}.requires_grad", expected.requires_grad[name],
                                actual.requires_grad.get(name), "requires_grad differs",
                                kind="requires_grad", name=name))
    for name, shares in expected.shares_storage.items():
        if name in actual.shares_storage and actual.shares_storage[name] != shares:
            out.append(Mismatch(f"{name} (a detach()) shares memory with its source", shares,
                                actual.shares_storage[name], "storage sharing differs",
                                kind="storage", name=name))
    n = len(out)
    _hooks("forward", expected.forward_hooks, actual.forward_hooks, value, out)
    _tag(out, n, "hook")
    unspecified = retained_unspecified = False  # set once a backward failed midway in both
    carried = {}  # (kind, name) -> (since, reference, candidate, where): see _state
    for ae, aa in zip(expected.actions, actual.actions):
        i = ae.index
        step = f"after plan[{i}] ({_short(program.plan[i])})" if labels else f"plan[{i}]"
        if ae.error != aa.error:
            out.append(Mismatch(step, ae.error, aa.error,
                                _error_detail("error kind differs", aa.message),
                                kind="error", action=i, message=aa.message))
        if ae.error and ae.error == aa.error and ae.error not in PRE_RUN_ERRORS:
            unspecified = retained_unspecified = True
        elif isinstance(program.plan[i], ZeroGrad) and program.plan[i].set_to_none:
            unspecified = False  # every leaf's .grad is None again (retained grads are not)
        if unspecified:
            carried = {}
            continue
        if ae.returned is not None or aa.returned is not None:
            n = len(out)
            _values(f"{step} returned grads", ae.returned or (), aa.returned or (), value, out)
            _tag(out, n, "returned", action=i)
        for name in ae.grads:
            n = len(out)
            _state(value, carried, ("grad", name), f"{step} {name}.grad", i, ae.grads[name],
                   aa.grads.get(name), out)
            _tag(out, n, "grad", name, i)
        _grad_aliases(step, i, ae.grad_aliases, aa.grad_aliases, out)
        for name, rg in ae.grad_requires_grad.items():
            if name in aa.grad_requires_grad and aa.grad_requires_grad[name] != rg:
                out.append(Mismatch(f"{step} {name}.grad.requires_grad", rg,
                                    aa.grad_requires_grad[name],
                                    "whether .grad requires grad differs",
                                    kind="grad_requires_grad", name=name, action=i))
        if retained_unspecified:
            carried = {k: v for k, v in carried.items() if k[0] != "retained"}
        for name in () if retained_unspecified else ae.retained:
            n = len(out)
            _state(value, carried, ("retained", name), f"{step} {name}.grad (retained)", i,
                   ae.retained[name], aa.retained.get(name), out)
            _tag(out, n, "retained", name, i)
        for name in () if retained_unspecified else ae.nonleaf:
            n = len(out)
            value(f"{step} {name}.grad (a non-leaf without retain_grad)", ae.nonleaf[name],
                  aa.nonleaf.get(name), out)
            _tag(out, n, "nonleaf_grad", name, i)
        n = len(out)
        _hooks(step, ae.hooks, aa.hooks, value, out)
        _tag(out, n, "hook", action=i)
    return out


def _state(value, carried, key, where, i, expected, actual, out):
    """A `.grad` after plan[i]: compared as it stands; or, where it already differed after an
    earlier action, by what plan[i] added on each side. So an earlier difference (an explained
    deviation, say) is not reported again at every later action, and cannot hide a later,
    different one: an action that adds something else than the reference is its own mismatch.
    `carried[key]`: (the action where the difference began or None, and the values and
    `where` after the previous action). Only the exact walk knows a difference at once; the
    others compare values as they stand."""
    differs, change = getattr(value, "differs", None), getattr(value, "change", None)
    since, *before = carried.get(key, (None, None, None, None))
    if differs is None or not differs(where, expected, actual):
        value(where, expected, actual, out)
        carried[key] = (None, expected, actual, where)
        return
    if since is None or not change(where, before, (expected, actual), since, out):
        n = len(out)
        value(where, expected, actual, out)
        since = i
        if before[2] is not None:  # what this action added, for a deviation's predicate
            for m in out[n:]:
                m.change = _changes(before, expected, actual)
    carried[key] = (since, expected, actual, where)


def _changes(before, expected, actual):
    """(the reference's, the candidate's) change of a value since `before`; None where either
    is not a difference of two arrays."""
    de, da = _change(before[0], expected), _change(before[1], actual)
    return None if de is _RESET or da is _RESET else (de, da)


def _grad_aliases(step, i, expected, actual, out):
    """Pairs of leaves whose .grad share memory on one engine only (the reference never has
    any: each .grad is its own buffer). Equal values now, they part at the next in-place
    update, so this is reported where it starts, before any value differs."""
    for pair in sorted(set(expected) ^ set(actual)):
        a, b = pair
        out.append(Mismatch(
            f"{step} {a}.grad and {b}.grad share memory" if pair in actual else
            f"{step} {a}.grad and {b}.grad share memory on the reference only",
            pair in expected, pair in actual, "an in-place update of one changes the other",
            kind="grad_aliasing", name=f"{a},{b}", action=i))


def _error_detail(what, message):
    """`what`, then the candidate's error message, whole and indented on the lines below (an
    engine's message often says what matters after its first line)."""
    if not message:
        return what
    return f"{what}; the candidate's message:\n" + "\n".join(
        f"      {line}" for line in message.splitlines())


def _short(action):
    text = repr(action)
    return text if len(text) < 120 else text[:117] + "..."
