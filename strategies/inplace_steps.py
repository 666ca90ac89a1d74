"""Drawing an in-place step: `add_`, `mul_`, `clamp_`, `relu_`, `masked_fill_` or slice
assignment, on a non-leaf value, a view of one, or a detached alias.

The builder runs each step on the reference, whose tensors are torch-like (views alias their
base, a version counter is shared), so which later backward raises "modified by an inplace
operation" is decided there, not here: this module only keeps draws valid (shapes that
broadcast into the target, no kink at a clamp bound or at relu's zero) and away from what
torch forbids for reasons beside the point (writes into the pieces of split/chunk/unbind).
"""
import numpy as np

from gradspec import program as P
from gradspec.vocabulary import INPLACE, KINK, PIECES, SPECS, VIEWS, to_index
from gradspec.vocabulary.draws import basic_index
from gradspec.vocabulary.params import nested

from reference.errors import InplaceOverlapError, LeafInplaceError
from reference.inplace import repeats_memory

from .op_args import applicable, draw_op_args, output_ok
from .values import expand

# View ops an in-place target is often taken through (expand is left to the error case: a
# write into an expanded tensor raises in torch).
TARGET_VIEWS = ("getitem", "transpose", "unsqueeze", "reshape", "permute", "squeeze")
FILL_VALUES = (0.0, 1.5, -2.0)


def inplace_step(b):
    """One in-place op on a drawn target; sometimes first a view of the target is taken, so
    that the write goes through the view into its base."""
    ops = [op for op in INPLACE if op in b.cfg.inplace_ops]
    if not ops:
        return False
    mark = b.checkpoint()
    errors = b.chance(b.cfg.forward_errors * 0.3)
    targets = _leaf_targets(b) if errors else _targets(b)
    if not targets:
        return False
    x = b.pick_recent(targets)
    if not errors and b.chance(b.cfg.inplace_views):
        x = _view_of(b, x) or x
    if repeats_memory(b.value(x)):
        # torch lets masked_fill_ write into an expanded tensor (deprecated; which write wins
        # is unspecified): only the ops that refuse are drawn there.
        ops = [op for op in ops if op != "masked_fill_"]
        if not ops:
            b.rollback(mark)
            return False
    op = b.pick(ops)
    drawn = _draw(b, op, x)
    if drawn is None:
        b.rollback(mark)
        return False
    args, params = drawn
    step = P.InPlace(x, op, tuple(args), tuple(sorted(params.items())))
    aliased = _aliased_operand(b, x, op, args, params)
    try:
        b.session.step(step)
    except (LeafInplaceError, InplaceOverlapError):
        # torch raises at once (also where an operand overlaps the target's memory in part):
        # sometimes the program ends there, its forward raising that error.
        if not errors and not b.chance(b.cfg.forward_errors):
            b.rollback(mark)
            return False
        b.steps.append(step)
        b.stopped = True
        return True
    if aliased or not output_ok(b.value(x)):
        b.rollback(mark)
        return False
    b.steps.append(step)
    return True


def _aliased_operand(b, x, op, args, params):
    """Does a tensor operand of in-place `op` on `x` share memory with what it writes, other
    than element for element (the same addresses in the same layout, as in `x.add_(x)`)?

    torch refuses that only where its overlap check can tell (both dense: a partial overlap
    raises, which the reference models and the caller keeps as an error case). Where either is
    not dense (a strided slice: `d.add_(d[0:3:2, -2])`) the check gives up and the kernel reads
    elements it may already have written: the result depends on the order it walks memory in
    (the target's layout, its size, threads), which torch leaves unspecified ("Please clone()
    the tensor before performing the operation"). Such draws are left out unless torch raises.
    A 0-d value assigned to a slice is read once before the fill (torch's fill_): not aliased."""
    v = b.value(x)
    if op == "setitem":
        written = v[tuple(to_index(dict(params)["index"])) + (Ellipsis,)]  # a view, even 0-d
        operands = [b.value(a) for a in args if b.value(a).ndim]
    else:
        written, operands = v, [b.value(a) for a in args]
    return any(np.shares_memory(written, o) and not _same_elements(written, o)
               for o in operands)


def _same_elements(a, b):
    """The same memory in the same layout: each element read where it is written."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides)


def _root(t):
    return t if t._base is None else t._base


def _excluded(b):
    """Roots of tensors torch will not let a write reach through (split/chunk/unbind pieces
    are views of their input that may not be modified, nor their base be; linear's output),
    the outputs of layers and custom Functions, and tensors a hook or retain_grad is on
    (torch moves some of those to the new version, not others)."""
    roots, names = [], set()
    for s in b.steps:
        if isinstance(s, P.MultiOp) and s.op in PIECES:
            roots.append(_root(b.tensor(s.args[0])))
            names.update(s.outs)
        elif isinstance(s, P.Op) and s.op == "linear":
            # torch's linear of a 1-d or 3-d input returns a view of an internal matrix (a
            # write into it goes through CopySlices, and one made under no_grad may not be
            # written at all): an implementation detail the reference does not copy.
            roots.append(_root(b.tensor(s.out)))
        elif isinstance(s, (P.Call, P.CallFunction, P.GradStep)):
            names.update(s.outs)
        elif isinstance(s, (P.TensorHook, P.RetainGrad)):
            names.add(s.target)
    return roots, names


def layout_unsure(b):
    """Values whose memory layout in torch may differ from the reference's.

    torch lays an op's output out like its operands (a sum of a transposed tensor is
    transposed), NumPy does not always; the two agree where every operand is C-contiguous in
    both. A view's layout follows its base's, a detached alias's its source's. Where layouts
    may differ, so may whether a reshape is a view and whether an operand overlaps its target
    in part: the strategy keeps in-place ops and reshapes off those values. So too for an
    op whose output torch may make a view of its own internal result (einsum)."""
    unsure = set()
    for s in b.steps:
        if isinstance(s, P.Op) and SPECS[s.op].may_be_view:
            unsure.add(s.out)
            continue
        if isinstance(s, P.Op):
            ins, outs = s.args, (s.out,)
        elif isinstance(s, (P.MultiOp, P.Call, P.CallFunction)):
            ins, outs = s.args, s.outs
        elif isinstance(s, P.GradStep):
            ins, outs = s.outputs + s.inputs, s.outs
        elif isinstance(s, P.Detach):  # an alias of src's memory, laid out as src is
            if s.src in unsure:
                unsure.add(s.out)
            continue
        else:
            continue
        ins = [a for a in ins if a is not None]
        if isinstance(s, P.Op) and s.op in VIEWS:
            bad = any(a in unsure for a in ins)
        else:
            bad = any(a in unsure or not b.tensor(a).data.flags.c_contiguous for a in ins)
        if bad:
            unsure.update(outs)
    return unsure


def _writable(b):
    """(name, tensor) of the values a write may be drawn on at all (see _excluded)."""
    roots, names = _excluded(b)
    names = names | layout_unsure(b)
    for n in b.values:
        t = b.tensor(n)
        if not (n in names or t.is_inference() or any(_root(t) is r for r in roots)):
            yield n, t


def _refused(t):
    """Does torch refuse a write into `t` at once: a leaf that requires grad, a view of one,
    or an expanded tensor?"""
    base = _root(t)
    return base.is_leaf and base.requires_grad or repeats_memory(t.data)


def _targets(b):
    """Values an in-place op may write to without raising at once."""
    return [n for n, t in _writable(b) if not _refused(t)]


def _leaf_targets(b):
    """The error cases: a leaf that requires grad, a view of one, an expanded tensor."""
    return [n for n, t in _writable(b) if _refused(t)]


def _view_of(b, x):
    """A view of `x` (a new value), by a view op that applies to it; None if none does."""
    v = b.value(x)
    ops = [op for op in TARGET_VIEWS if op in b.cfg.ops and applicable(op, v)]
    if x in layout_unsure(b):
        ops = [op for op in ops if op != "reshape"]
    if not ops:
        return None
    op = b.pick(ops)
    drawn = draw_op_args(b, op, x)
    if drawn is None:
        return None
    args, params = drawn
    out = b.fresh("v")
    b.add_step(P.Op(out, op, tuple(args), tuple(sorted(params.items()))), (out,))
    if b.tensor(out)._base is None:  # a reshape that had to copy: not a view after all
        return out if b.chance(0.5) else None
    return out


def _draw(b, op, x):
    """(args, params) of in-place `op` on target `x`, or None where no valid draw exists."""
    v = b.value(x)
    shape = v.shape
    if op in ("add_", "mul_"):
        return (_operand_into(b, x, shape),), {}
    if op == "relu_":
        return ((), {}) if v.size and np.abs(v).min() > KINK else None
    if op == "clamp_":
        bounds = _clamp_bounds(b, v)
        return None if bounds is None else ((), {"min": bounds[0], "max": bounds[1]})
    if op == "masked_fill_":
        flags = np.array(expand(b.seed(), shape, salt=11)).reshape(shape) > 0
        return (), {"mask": nested(flags), "value": b.pick(FILL_VALUES)}
    if op == "setitem":
        if not shape:
            return None
        index = basic_index(b, shape)
        region = v[to_index(index)].shape
        if b.chance(0.3):
            return (), {"index": index, "value": b.pick(FILL_VALUES)}
        return (_operand_into(b, None, region),), {"index": index}
    raise ValueError(f"no rule for in-place op {op!r}")


def _operand_into(b, x, shape):
    """An operand whose shape broadcasts into `shape` (an in-place op cannot grow its target):
    the target itself sometimes, an existing value, or a new leaf."""
    if x is not None and b.chance(0.1):
        return x  # x.mul_(x): the op saves x, which it then modifies
    ok = [n for n in b.values if n != x and _broadcasts_into(b.value(n).shape, shape)]
    if ok and b.chance(0.4):
        return b.pick_recent(ok)
    return b.new_leaf(b.broadcast_variant(tuple(shape)))


def _broadcasts_into(small, shape):
    return len(small) <= len(shape) and all(
        s == t or s == 1 for s, t in zip(reversed(small), reversed(shape)))


def _clamp_bounds(b, v):
    """(min, max), each a round number at least KINK away from every value (the derivative
    jumps there), drawn so that some values are clamped."""
    grid = [-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5]
    flat = v.reshape(-1)
    ok = [g for g in grid if np.abs(flat - g).min() > KINK]
    if not ok:
        return None
    lo = b.pick(ok)
    highs = [g for g in ok if g >= lo]
    return lo, b.pick(highs)

