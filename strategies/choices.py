"""The small choices a program is built from, drawn at the cost of the choice itself.

A program of ten ops takes some seventy choices (an op, an operand, a flag, a size). Through
`draw(st.integers(a, b))` each costs a strategy lookup, validation and a span of its own,
several times the choice itself. The test case's `draw_integer` and `draw_boolean` are what
`st.integers` and `st.booleans` call underneath (with the same bounds, the same choices and
the same shrinking: towards the lower bound, towards False), so the builder calls them
directly (strategies/hypothesis_private.py). A Hypothesis without them, or
GRADSPEC_PRIVATE_APIS=0, gets the public strategies instead (a boolean as an integer under a
threshold), slower but drawing from the same distributions.
"""
from functools import lru_cache

from hypothesis import strategies as st

from .hypothesis_private import fast_choices


@lru_cache(maxsize=None)
def _integers(lo, hi):
    return st.integers(lo, hi)


def choices(draw):
    """(integer(lo, hi), boolean(p)) for the test case behind `draw`: the test case's own
    draws where Hypothesis's internals allow (strategies/hypothesis_private.py), else the
    public strategies.

    No spans are opened around a step's choices: the generate phase then mutates programs by
    copying one step's choices over another's, and most such copies are thrown away (they
    cost half again the generation time for a shrink that measured no better)."""
    return fast_choices(draw) or public_choices(draw)


def public_choices(draw):
    """The same choices through public strategies (slower; used where the test case has no
    `draw_integer`/`draw_boolean`, and by the test that both ways build valid programs)."""
    return (lambda lo, hi: draw(_integers(lo, hi)),
            lambda p: draw(_integers(0, 999)) >= 1000 - round(1000 * p))
