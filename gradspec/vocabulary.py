"""The op vocabulary shared by programs, strategies and adapters.

An op name here means the same thing on every backend: its torch spelling is in
`adapters/torch_ops.py`, its reference implementation in `adapters/reference.py`.
Params are plain, hashable Python values (a basic index is a tuple of ints and
('slice', start, stop, step) entries).
"""

UNARY = ("neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
         "reciprocal")
UNARY_PARAM = ("pow", "scale")  # pow(exponent=), scale(c=): x * c with a Python scalar
BINARY = ("add", "sub", "mul", "div", "maximum", "minimum")
REDUCTIONS = ("sum", "mean", "max", "logsumexp")  # dim=, keepdim=
SOFTMAX = ("softmax", "log_softmax")  # dim=
SHAPE = ("reshape", "transpose", "permute", "expand", "unsqueeze", "squeeze", "getitem",
         "index")
JOIN = ("cat", "stack")  # dim=, several tensors
OTHER = ("matmul", "linear", "where", "mse_loss", "cross_entropy")
PIECEWISE_CONSTANT = ("sign", "round")  # used inside custom Function forwards

ALL_OPS = frozenset(UNARY + UNARY_PARAM + BINARY + REDUCTIONS + SOFTMAX + SHAPE + JOIN + OTHER
                    + PIECEWISE_CONSTANT)

# Ops with several outputs (a `MultiOp` step names each): values and int64 indices (the second
# output, which never carries a gradient), or the pieces of a tensor along a dim.
INDEXED = ("max_dim", "min_dim", "sort", "topk")  # dim=; keepdim= / descending= / k=, largest=
PIECES = ("split", "chunk", "unbind")  # split_size= / chunks=, dim=
MULTI_OUTPUT = INDEXED + PIECES

# In-place ops (an `InPlace` step): `add_(other)`, `mul_(other)`, `clamp_(min=, max=)`,
# `relu_()`, `masked_fill_(mask=, value=)` and slice assignment `setitem` (`x[index] = v`, v a
# tensor operand or a float `value=`). Torch's view ops among SHAPE are views in the reference
# too: an in-place write into one reaches its base.
INPLACE = ("add_", "mul_", "clamp_", "relu_", "masked_fill_", "setitem")
VIEWS = ("reshape", "transpose", "permute", "expand", "unsqueeze", "squeeze", "getitem")


def n_outputs(op, shape, params):
    """How many tensors multi-output `op` returns on an input of `shape` (as torch counts)."""
    if op in INDEXED:
        return 2
    size = shape[params["dim"]]
    if op == "unbind":
        return size
    piece = params["split_size"] if op == "split" else -(-size // params["chunks"])
    return -(-size // piece)


def to_index(index):
    """A basic index as stored in params -> the Python index object."""
    return tuple(slice(*item[1:]) if isinstance(item, tuple) else item for item in index)


def index_source(index):
    """A basic index as source code: ((('slice', 0, 2, None)), 1) -> '0:2, 1'."""
    parts = []
    for item in index:
        if isinstance(item, tuple):
            start, stop, step = item[1:]
            s = f"{'' if start is None else start}:{'' if stop is None else stop}"
            parts.append(s + (f":{step}" if step is not None else ""))
        else:
            parts.append(str(item))
    return ", ".join(parts) if parts else "..."
