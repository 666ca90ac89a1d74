"""Arbitration: when candidate and reference disagree on a gradient, which one do finite
differences side with?

The reference is trusted because it is checked against finite differences; a mismatch is
arbitrated the same way, so that a report says "finite differences agree with the reference
(2.0); torch gave 4.0" and a failure where they side with the candidate is reported loudly as
a bug of ours. Central differences in float64 on the program's function of its inputs, run on
the reference's forward (no autograd involved), with Richardson extrapolation and its own
error estimate; for a later backward, on that backward's contribution (the change it makes to
`.grad`).

A gradient is the derivative of the program's function only where autograd was asked for
that: values that do not require grad (detach, no_grad, inference_mode) are held at their
unperturbed values, as autograd treats them. Where the program asks for something else (a
custom backward rule, a hook that rescales gradients, gradients of gradients used through
`.grad`), finite differences cannot arbitrate, and the verdict says why.
"""
import re
from dataclasses import dataclass, field

import numpy as np

from gradspec import program as P

ENGINE, ORACLE, TOLERANCE, NEITHER, UNARBITRATED = (
    "engine bug", "oracle gap", "tolerance", "neither", "not arbitrated")


@dataclass
class Ruling:
    """One mismatch's arbitration."""
    where: str
    side: str  # ENGINE (FD agree with the reference) / ORACLE / TOLERANCE / NEITHER / UNARBITRATED
    text: str


@dataclass
class Verdict:
    """All of one failure's rulings, and the class a campaign files it under."""
    rulings: list = field(default_factory=list)

    @property
    def kind(self):
        sides = {r.side for r in self.rulings}
        for side in (ORACLE, ENGINE, NEITHER, TOLERANCE):
            if side in sides:
                return side
        return UNARBITRATED

    def lines(self, candidate_name):
        head = {ORACLE: "ORACLE GAP: finite differences side with "
                        f"{candidate_name}, not with gradspec's reference. This is a bug of "
                        "gradspec's, not of the engine: please report it.",
                ENGINE: f"finite differences side with the reference: {candidate_name} "
                        "computes a wrong gradient.",
                NEITHER: "finite differences agree with neither side.",
                TOLERANCE: "finite differences cannot tell the two apart: the difference is "
                           "within their precision (a tolerance question).",
                UNARBITRATED: "finite differences cannot arbitrate these differences."}[self.kind]
        return ["Arbitration: " + head] + [f"  {r.where}: {r.text}" for r in self.rulings]


def arbitrate(program, judgement, candidate_name="the candidate"):
    """A Verdict on each mismatch of `judgement` (harness.check.Judgement)."""
    why_not = _unarbitrable(program)
    fd = _FiniteDifferences(program)
    rulings = []
    for m in judgement.mismatches:
        where = _label(m)
        if m.kind == "grad_aliasing":
            rulings.append(Ruling(where, UNARBITRATED, "no value to differentiate: two leaves' "
                                  ".grad sharing memory is wrong whatever their values"))
            continue
        if m.kind not in ("grad", "returned", "retained"):
            rulings.append(Ruling(where, UNARBITRATED,
                                  f"not a gradient value ({m.kind or 'an error'})"))
            continue
        if why_not:
            rulings.append(Ruling(where, UNARBITRATED, why_not))
            continue
        try:
            rulings.append(_rule(program, judgement, m, where, fd, candidate_name))
        except _Unarbitrable as exc:
            rulings.append(Ruling(where, UNARBITRATED, str(exc)))
        except Exception as exc:  # noqa: BLE001 - the report must come out whatever happens
            rulings.append(Ruling(where, UNARBITRATED, f"arbitration failed: "
                                                       f"{type(exc).__name__}: {exc}"))
    return Verdict(rulings)


def _label(m):
    """A short name for what a mismatch is about (its `where` repeats the whole action)."""
    if m.kind in ("grad", "retained"):
        return f"plan[{m.action}] {m.name}.grad" + (" (retained)" if m.kind == "retained" else "")
    if m.kind == "grad_aliasing":
        return f"plan[{m.action}] " + " and ".join(f"{n}.grad" for n in m.name.split(","))
    if m.kind == "hook" and m.action >= 0:  # "after plan[i] (Backward(...)) <the hook call>"
        return f"plan[{m.action}] " + m.where.rsplit(") ", 1)[-1]
    if m.kind == "returned":
        return f"plan[{m.action}] returned{m.where.rsplit('returned grads', 1)[-1]}"
    return m.where if len(m.where) < 60 else m.where[:57] + "..."


class _Unarbitrable(Exception):
    pass


def _unarbitrable(program):
    """Why no gradient of this program is a derivative finite differences can check, or ''."""
    for step in program.steps:
        if isinstance(step, P.CallFunction):
            return "a custom Function's backward is a rule of its own, not a derivative"
        if isinstance(step, (P.TensorHook, P.ModuleHook)) and step.scale is not None:
            return "a hook rescales gradients"
        if isinstance(step, P.PostAccumulateHook) and (step.clear or step.lr is not None):
            return "a post-accumulate hook changes .grad or the leaf during backward"
        if isinstance(step, P.RequiresGrad):
            return "requires_grad_ switches a leaf during the forward"
    return ""


def _rule(program, judgement, m, where, fd, name):
    action = program.plan[m.action]
    for side, trace in (("the reference", judgement.expected), (name, judgement.actual)):
        raised = trace.actions[m.action].error if m.action < len(trace.actions) else None
        if raised:  # its .grad is what earlier actions left: no derivative to check it by
            raise _Unarbitrable(f"plan[{m.action}] raised on {side} ({raised})")
    if m.kind == "returned" and isinstance(action, P.Grad) and not action.create_graph:
        roots, weights = action.outputs, action.weights
    elif m.kind != "returned" and isinstance(action, P.Backward) and not action.create_graph:
        roots, weights = action.roots, action.weights
    else:
        raise _Unarbitrable(f"plan[{m.action}] is not a plain backward (for .grad) or grad() "
                            "(for what it returns)")
    if m.kind == "returned":
        k = re.fullmatch(r"\[(\d+)\]", m.where.rsplit("returned grads", 1)[-1])
        if k is None:
            raise _Unarbitrable("not one returned gradient")
        k = int(k.group(1))
        wrt, expected, actual, before_e, before_a = action.inputs[k], m.expected, m.actual, 0, 0
    else:
        wrt, expected, actual = m.name, m.expected, m.actual
        before_e, before_a = _before(judgement, m)
    if expected is None or actual is None:
        raise _Unarbitrable("one side has no gradient (None)")
    derivative, error = fd.gradient(roots, weights, wrt)
    ref = np.asarray(expected, dtype=np.float64) - before_e
    cand = np.asarray(actual, dtype=np.float64) - before_a
    if ref.shape != derivative.shape or cand.shape != derivative.shape:
        raise _Unarbitrable(f"shapes differ (reference {ref.shape}, {name} {cand.shape})")
    return _side(where, derivative, error, ref, cand, name,
                 contribution=bool(np.any(before_e) or np.any(before_a)))


def _before(judgement, m):
    """Each side's .grad of `m.name` before action `m.action` (a later backward is judged by
    the contribution it adds); zeros where it was None."""
    if m.action == 0:
        return 0, 0
    kind = "grads" if m.kind == "grad" else "retained"
    prev_e = getattr(judgement.expected.actions[m.action - 1], kind).get(m.name)
    prev_a = getattr(judgement.actual.actions[m.action - 1], kind).get(m.name)
    if judgement.expected.actions[m.action - 1].error or judgement.actual.actions[m.action - 1].error:
        raise _Unarbitrable("the previous action raised: its state is unspecified")
    return (0 if prev_e is None else np.asarray(prev_e, dtype=np.float64),
            0 if prev_a is None else np.asarray(prev_a, dtype=np.float64))


def _side(where, derivative, error, ref, cand, name, contribution):
    gap = float(np.max(np.abs(ref - cand)))
    # Agreement: within three times the extrapolation's own error estimate, plus 1e-7 of the
    # derivative's scale (central differences on a float64 forward resolve ~1e-10 relative;
    # the floor keeps a clean cancellation to 0 from asking for more).
    slack = 3 * error + 1e-7 * max(1.0, float(np.max(np.abs(derivative), initial=0)))
    d_ref = float(np.max(np.abs(ref - derivative)))
    d_cand = float(np.max(np.abs(cand - derivative)))
    what = "this backward's contribution" if contribution else "the gradient"
    numbers = (f"finite differences give {what} as {_fmt(derivative)} (±{float(np.max(error)):.2g}); "
               f"the reference: {_fmt(ref)}; {name}: {_fmt(cand)}")
    ref_ok, cand_ok = bool(np.all(np.abs(ref - derivative) <= slack)), \
        bool(np.all(np.abs(cand - derivative) <= slack))
    if ref_ok and cand_ok or gap <= float(np.max(slack)):
        return Ruling(where, TOLERANCE, f"the sides differ by {gap:.3g}, within the finite "
                                        f"differences' precision; {numbers}")
    if ref_ok:
        return Ruling(where, ENGINE, f"finite differences agree with the reference "
                                     f"(off by {d_ref:.2g}), not with {name} (off by "
                                     f"{d_cand:.2g}): {numbers}")
    if cand_ok:
        return Ruling(where, ORACLE, f"finite differences agree with {name} (off by "
                                     f"{d_cand:.2g}), NOT with the reference (off by "
                                     f"{d_ref:.2g}): {numbers}")
    return Ruling(where, NEITHER, f"finite differences agree with neither (reference off by "
                                  f"{d_ref:.2g}, {name} off by {d_cand:.2g}): {numbers}")


def _fmt(a):
    return np.array2string(np.asarray(a), precision=6, separator=", ", threshold=12)


class _FiniteDifferences:
    """Derivatives of sum_i <w_i, root_i> with respect to one named value, by perturbing it
    in the reference's forward (float64, whatever the program's dtype)."""

    def __init__(self, program):
        self.program = program
        self._base = None
        self.inplace = any(isinstance(s, P.InPlace) for s in program.steps)

    def base(self):
        if self._base is None:
            self._base = self._forward({})
        return self._base

    def _forward(self, overrides):
        """The program's values with `overrides` {name: array} in place of what the steps
        (or the leaves) give, and the values that do not require grad held at the base run's
        (autograd treats them as constants)."""
        import reference as R
        from gradspec.reference_adapter import ReferenceAdapter
        from gradspec.interpreter import Session
        s = Session(ReferenceAdapter(), "float64")
        s.program = self.program
        frozen = self._base.frozen if self._base is not None else {}
        for leaf in self.program.leaves:
            value = overrides.get(leaf.name)
            s.add_leaf(leaf, None if value is None else
                       R.tensor(value, requires_grad=leaf.requires_grad))
        for layer in self.program.layers:
            s.add_layer(layer, {p.name: overrides[p.name] for p in layer.params
                                if p.name in overrides})
        for spec in self.program.functions:
            s.add_function(spec)
        leaf_names = {leaf.name for leaf in self.program.all_leaves()}
        for step in self.program.steps:
            s.step(step)
            for out in _outs(step):
                if out in overrides and out not in leaf_names:
                    s.env[out] = R.tensor(overrides[out], requires_grad=True)
                elif out in frozen:
                    s.env[out] = R.tensor(frozen[out])
        s.frozen = frozen or self._constants(s, leaf_names)
        return s

    def _constants(self, s, leaf_names):
        """The values autograd treats as constants though they may depend on a perturbed
        input. With in-place steps (whose targets alias other values) only those cut from the
        graph by the program (detach, grad modes) count: holding them would break the
        aliasing, and the gradient() check refuses; the rest come from constant leaves."""
        if self.inplace:
            cut = {o for step in self.program.steps for o in _outs(step)
                   if isinstance(step, P.Detach) or getattr(step, "contexts", ())}
            return {n: None for n in cut}
        return {n: np.array(t.data, copy=True) for n, t in s.env.items()
                if n not in leaf_names and not t.requires_grad}

    def _objective(self, roots, weights, overrides):
        s = self._forward(overrides)
        total = 0.0
        for r, w in zip(roots, weights):
            value = np.asarray(s.env[r].data, dtype=np.float64)
            total += float(np.sum(value * (1.0 if w is None else np.asarray(w, dtype=np.float64))))
        return total

    def gradient(self, roots, weights, wrt):
        """(derivative, error estimate) arrays shaped like `wrt`."""
        base = self.base()
        if self.inplace and (base.frozen or wrt not in base.leaves):
            raise _Unarbitrable("in-place writes with values held constant or perturbed "
                                "midway: the perturbed forward would not be the program's")
        if wrt not in base.env:
            raise _Unarbitrable(f"{wrt!r} is not a value of the program")
        x0 = np.array(base.env[wrt].data, dtype=np.float64, copy=True)
        derivative, error = np.zeros_like(x0), np.zeros_like(x0)
        for i in np.ndindex(x0.shape):
            # Steps h and h/2, relative to the element's size: Richardson's combination
            # cancels the h^2 term; the two estimates' difference bounds what is left.
            h = 1e-4 * max(1.0, abs(float(x0[i])))
            d1, r1 = self._central(roots, weights, wrt, x0, i, h)
            d2, r2 = self._central(roots, weights, wrt, x0, i, h / 2)
            derivative[i] = (4 * d2 - d1) / 3
            error[i] = abs(d2 - d1) / 3 + r1 + r2
        return derivative, error

    def _central(self, roots, weights, wrt, x0, i, h):
        plus, minus = x0.copy(), x0.copy()
        plus[i] += h
        minus[i] -= h
        with np.errstate(all="ignore"):
            f_plus = self._objective(roots, weights, {wrt: plus})
            f_minus = self._objective(roots, weights, {wrt: minus})
        # The rounding of two float64 forwards (a few ulps of each), divided by the step.
        rounding = 8 * np.finfo(np.float64).eps * (abs(f_plus) + abs(f_minus)) / (2 * h)
        return (f_plus - f_minus) / (2 * h), rounding


def _outs(step):
    if hasattr(step, "outs"):
        return step.outs
    return (step.out,) if hasattr(step, "out") else ()
