"""Params as the programs store them, and as the repro scripts print them.

Params are plain, hashable Python values: a basic index is a tuple of ints and
('slice', start, stop, step) entries; a boolean or float array is nested tuples.
"""


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


def literal(value):
    """Python source for a param value (tuples of bools/ints become lists for tensor())."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple) and value and isinstance(value[0], (tuple, bool, float)):
        return repr(_lists(value))
    return repr(value)


def target_literal(params):
    """A cross_entropy target as source: a list of class indices (batched) or one index."""
    target = params["target"]
    return repr(list(target) if isinstance(target, tuple) else target)


def nested(arr):
    """A NumPy array as nested tuples (a hashable param)."""
    return tuple(nested(a) for a in arr) if arr.ndim else bool(arr)


def _lists(v):
    return [_lists(x) for x in v] if isinstance(v, tuple) else v
