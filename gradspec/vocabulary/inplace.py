"""In-place ops (an `InPlace` step): `target.<op>(*args, **params)`, or `target[index] = v`.

Each modifies its target, the first operand, and returns it. The reference runs them as
torch's methods on its own tensors (reference/_methods.py). What targets, views and operands
an in-place step writes through is in strategies/inplace_steps.py: drawing one is about the
target's aliasing more than about the op.
"""
import numpy as np

from .params import index_source, literal, to_index
from .record import OpSpec, Statement


def _setitem(target, *args, index, value=None):
    target[to_index(index)] = args[0] if args else value
    return target


def _setitem_torch(args, params):
    value = args[1] if len(args) > 1 else literal(params["value"])
    return f"{args[0]}[{index_source(params['index'])}] = {value}"


def _masked_fill(target, mask, value):
    return target.masked_fill_(np.array(mask, dtype=bool), value)


OPS = (
    OpSpec("add_", "inplace", lambda t, y: t.add_(y), "{0}.add_({1})"),
    OpSpec("mul_", "inplace", lambda t, y: t.mul_(y), "{0}.mul_({1})"),
    OpSpec("clamp_", "inplace", lambda t, min, max: t.clamp_(min=min, max=max),
           "{0}.clamp_(min={min}, max={max})"),
    OpSpec("relu_", "inplace", lambda t: t.relu_(), "{0}.relu_()"),
    OpSpec("masked_fill_", "inplace", _masked_fill,
           "{0}.masked_fill_(torch.tensor({mask}), {value})"),
    OpSpec("setitem", "inplace", _setitem, Statement(_setitem_torch),
           doc="`t[index] = other` or `t[index] = value`"),
)
