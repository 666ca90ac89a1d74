"""How an op of the vocabulary gets its operands and params, inside its smooth domain: the
strategy side of the op records (gradspec/vocabulary/record.py).

`draw_op_args(b, op, x)` returns (args, params) for applying `op` to value `x` (plus any
operands it draws or creates), or None when `x` cannot take that op. Domains are enforced by
construction on the actual values (the builder knows them): no filtering, no `assume`.
"""
from functools import lru_cache

import numpy as np

from gradspec.vocabulary import MAX_ABS, SPECS

SMALL = 32  # elements up to which a Python pass beats NumPy's per-call cost (values are finite)
DOMAIN_OPS = tuple(name for name, spec in SPECS.items() if spec.domain is not None)


def domains(v):
    """{op: is array `v` inside the smooth domain of unary op} for the ops with a domain,
    from one pass over `v`."""
    if v.size == 0:
        return dict.fromkeys(DOMAIN_OPS, False)
    if v.size <= SMALL:  # three NumPy reductions cost more than a Python pass here
        flat = v.ravel().tolist()
        lo, hi, small = min(flat), max(flat), min(map(abs, flat))
    else:
        lo, hi, small = float(v.min()), float(v.max()), float(np.abs(v).min())
    return {op: SPECS[op].domain.holds(lo, hi, small) for op in DOMAIN_OPS}


def applicable(op, v, domain=None):
    """Can value `v` be the first operand of `op` (shape-wise and domain-wise)? `domain` is
    `domains(v)` when the caller has it."""
    if op in DOMAIN_OPS:
        return (domain or domains(v))[op] and SPECS[op].applies_to_shape(v.shape)
    return SPECS[op].applies_to_shape(v.shape)


def applicable_ops(ops, v):
    """The ops of `ops` (a tuple, kept in order) that value `v` can be the first operand of."""
    domain = domains(v)
    return _applicable_ops(ops, v.shape, tuple(domain[op] for op in DOMAIN_OPS))


@lru_cache(maxsize=4096)
def _applicable_ops(ops, shape, domain):
    ok = dict(zip(DOMAIN_OPS, domain))
    return tuple(op for op in ops
                 if ok.get(op, True) and SPECS[op].applies_to_shape(shape))


def draw_op_args(b, op, x):
    spec = SPECS.get(op)
    if spec is None:
        raise ValueError(f"no argument rule for op {op!r}")
    return spec.draw(b, x)


def output_ok(arr):
    """Non-empty, finite and below MAX_ABS (one reduction: a NaN or inf fails the bound)."""
    return arr.size > 0 and bool(np.abs(arr).max() < MAX_ABS)
