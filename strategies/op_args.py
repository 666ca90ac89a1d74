"""How each op of the vocabulary gets its operands and params, inside its smooth domain.

`draw_op_args(b, op, x)` returns (args, params) for applying `op` to value `x` (plus any
operands it draws or creates), or None when `x` cannot take that op. Domains are enforced by
construction on the actual values (the builder knows them): no filtering, no `assume`.
"""
from functools import lru_cache

import numpy as np

# Margins: a kink or tie closer than this to a value is avoided. 1e-3 is far beyond float32
# rounding of the forward values (~1e-6 relative), so both engines take the same branch.
KINK = 1e-3
# Denominators, log and sqrt arguments stay above this, bounding derivatives by ~1/0.05^2.
POSITIVE = 0.05
MAX_ABS = 1e4  # outputs beyond this make float32 comparisons meaningless; the op is not used

ORDER = ("add", "mul", "sub", "neg", "sum", "exp", "tanh", "sigmoid", "sin", "cos", "scale",
         "mean", "div", "pow", "reciprocal", "log", "sqrt", "abs", "relu", "maximum", "minimum",
         "matmul", "linear", "max", "logsumexp", "softmax", "log_softmax", "reshape",
         "transpose", "permute", "expand", "unsqueeze", "squeeze", "getitem", "index", "cat",
         "stack", "where", "mse_loss", "cross_entropy")


SMALL = 32  # elements up to which a Python pass beats NumPy's per-call cost (values are finite)
DOMAIN_OPS = ("log", "sqrt", "reciprocal", "relu", "abs", "exp")


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
    return {"log": lo > POSITIVE, "sqrt": lo > POSITIVE, "reciprocal": small > 0.1,
            "relu": small > KINK, "abs": small > KINK, "exp": hi < 5}


def applicable(op, v, domain=None):
    """Can value `v` be the first operand of `op` (shape-wise and domain-wise)? `domain` is
    `domains(v)` when the caller has it."""
    if op in DOMAIN_OPS:
        return (domain or domains(v))[op]
    return _shape_ok(op, v.shape)


def _shape_ok(op, shape):
    nd = len(shape)
    if op in ("max", "softmax", "log_softmax", "getitem", "index", "cat", "matmul", "linear"):
        return nd >= 1
    if op in ("transpose", "permute"):
        return nd >= 2
    if op == "squeeze":
        return 1 in shape
    if op == "cross_entropy":
        return nd in (1, 2) and shape[-1] >= 2
    return True


def applicable_ops(ops, v):
    """The ops of `ops` (a tuple, kept in order) that value `v` can be the first operand of."""
    domain = domains(v)
    return _applicable_ops(ops, v.shape, tuple(domain[op] for op in DOMAIN_OPS))


@lru_cache(maxsize=4096)
def _applicable_ops(ops, shape, domain):
    ok = dict(zip(DOMAIN_OPS, domain))
    return tuple(op for op in ops if (ok[op] if op in ok else _shape_ok(op, shape)))


def _dims(b, nd):
    """A dim argument: an int, or a tuple of distinct axes."""
    if nd == 0:
        return 0
    if b.chance(0.3) and nd >= 2:
        return tuple(sorted(b.distinct(b.integer(1, nd), 0, nd - 1)))
    return b.integer(-nd, nd - 1)


def draw_op_args(b, op, x):
    v = b.value(x)
    shape, nd = v.shape, v.ndim
    if op in ("neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
              "reciprocal"):
        return (x,), {}
    if op == "pow":
        exps = [2.0, 3.0] + ([0.5, 1.5] if v.min() > POSITIVE else []) + (
            [-1.0] if np.abs(v).min() > 0.1 else [])
        return (x,), {"exponent": b.pick(exps)}
    if op == "scale":
        return (x,), {"c": b.pick([2.0, -0.5, 3.0, 0.1])}
    if op in ("add", "sub", "mul", "div", "maximum", "minimum", "where"):
        y = b.operand_like(x, broadcast=True)
        w = b.value(y)
        if op == "div" and np.abs(w).min() <= 0.1:
            return None
        if op in ("maximum", "minimum") and np.abs(v - w).min() <= KINK:
            return None
        if op == "where":
            out_shape = np.broadcast_shapes(shape, w.shape)
            cond = b.rng().random(out_shape) < 0.5
            return (x, y), {"condition": _nested(cond)}
        return (x, y), {}
    if op in ("sum", "mean", "logsumexp"):
        return (x,), {"dim": _dims(b, nd), "keepdim": b.chance(0.5)}
    if op == "max":
        dim = b.integer(-nd, nd - 1)
        if shape[dim] > 1 and np.diff(np.sort(v, axis=dim), axis=dim).min() <= KINK:
            return None
        return (x,), {"dim": dim, "keepdim": b.chance(0.5)}
    if op in ("softmax", "log_softmax"):
        return (x,), {"dim": b.integer(-nd, nd - 1)}
    if op == "reshape":
        n = v.size
        # Reshapes that regroup elements first (the reversed shape of a non-square matrix
        # looks like a transpose but is not one); flattening and size-1 dims after.
        regroup = [o for o in [tuple(reversed(shape))] + (
            [(2, n // 2)] if n % 2 == 0 and n > 2 else []) if o != shape]
        options = regroup + [o for o in [(n,), shape + (1,), (1,) + shape] if o != shape]
        return (x,), {"shape": b.pick(regroup if regroup and b.chance(0.5) else options)}
    if op == "transpose":
        d0 = b.integer(0, nd - 1)
        d1 = b.integer(0, nd - 1)
        return (x,), {"dim0": d0, "dim1": d1}
    if op == "permute":
        if nd >= 2 and b.chance(0.7):
            # Every axis moves (a rotation): with fixed points a permutation of three axes
            # is a transpose, and its own inverse.
            k = b.integer(1, nd - 1)
            return (x,), {"dims": tuple((i + k) % nd for i in range(nd))}
        return (x,), {"dims": b.permutation(nd)}
    if op == "expand":
        target = tuple(3 if s == 1 and b.chance(0.5) else s for s in shape)
        if b.chance(0.5) or target == shape:
            target = (2,) + target
        return (x,), {"shape": target}
    if op == "unsqueeze":
        return (x,), {"dim": b.integer(-nd - 1, nd)}
    if op == "squeeze":
        return (x,), {"dim": b.pick([i for i, s in enumerate(shape) if s == 1])}
    if op == "getitem":
        return (x,), {"index": _basic_index(b, shape)}
    if op == "index":
        dim = b.integer(0, nd - 1)
        size = shape[dim]
        idx = b.integers(0, size - 1, min_size=1, max_size=4)
        return (x,), {"indices": tuple(idx), "dim": dim}
    if op in ("cat", "stack"):
        dim = b.integer(0, nd - 1 if op == "cat" else nd)
        if op == "cat" and b.chance(0.5):
            other_shape = shape[:dim] + (b.integer(1, 3),) + shape[dim + 1:]
            y = b.operand_of_shape(other_shape)
        else:
            y = b.operand_like(x, broadcast=False)
        return (x, y), {"dim": dim}
    if op == "matmul":
        k = shape[-1]
        p = b.integer(1, 3)
        if nd == 1:
            other = b.pick([(k,), (k, p), (2, k, p)])
        else:
            other = b.pick([(k, p), (k,)] + ([shape[:-2] + (k, p)] if nd >= 3 else [])
                           + ([(2,) + shape[:-2] + (k, p)] if nd == 2 else []))
        return (x, b.operand_of_shape(other, scale=0.5)), {}
    if op == "linear":
        out = b.integer(1, 3)
        w = b.operand_of_shape((out, shape[-1]), scale=0.5)
        args = (x, w) + ((b.operand_of_shape((out,)),) if b.chance(0.6) else ())
        return args, {}
    if op == "mse_loss":
        return (x, b.operand_like(x, broadcast=False)), {}
    if op == "cross_entropy":
        c = shape[-1]
        if nd == 2:
            target = tuple(b.integers(0, c - 1, shape[0], shape[0]))
        else:
            target = b.integer(0, c - 1)
        return (x,), {"target": target}
    raise ValueError(f"no argument rule for op {op!r}")


def _basic_index(b, shape):
    items = []
    for size in shape[:b.integer(1, len(shape))]:
        if b.chance(0.4):
            items.append(b.integer(-size, size - 1))
        elif size >= 3 and b.chance(0.4):
            # A strided slice of at least two elements (with one, it is a plain slice).
            start = b.integer(0, size - 3)
            stop = b.integer(start + 3, size)
            items.append(("slice", start, stop, 2))
        else:
            start = b.integer(0, size - 1)
            stop = b.integer(start + 1, size)
            items.append(("slice", start, stop, None))
    return tuple(items)


def _nested(arr):
    return tuple(_nested(a) for a in arr) if arr.ndim else bool(arr)


def output_ok(arr):
    """Non-empty, finite and below MAX_ABS (one reduction: a NaN or inf fails the bound)."""
    return arr.size > 0 and bool(np.abs(arr).max() < MAX_ABS)
