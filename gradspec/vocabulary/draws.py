"""Draw rules shared by several ops' records (the builder protocol is in record.py)."""


def dims(b, nd):
    """A dim argument: an int, or a tuple of distinct axes."""
    if nd == 0:
        return 0
    if b.chance(0.3) and nd >= 2:
        return tuple(sorted(b.distinct(b.integer(1, nd), 0, nd - 1)))
    return b.integer(-nd, nd - 1)


def dim(b, nd, extra=0):
    """One axis of a rank-`nd` value, negative or not (`extra` more at the end: a new axis)."""
    return b.integer(-nd - extra, nd - 1 + extra)


def basic_index(b, shape):
    """A basic index over the leading axes: ints, plain slices and strided slices."""
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


def positive_leaf(b, min_rank):
    """A fresh leaf of positive values (the input a focus op with a positive domain needs)."""
    return b.new_leaf(b.draw_shape(min_rank=min_rank), positive=True)
