"""The small choices a program is built from, drawn at the cost of the choice itself.

A program of ten ops takes some seventy choices (an op, an operand, a flag, a size). Through
`draw(st.integers(a, b))` each costs a strategy lookup, validation and a span of its own,
several times the choice itself. The test case's `draw_integer` and `draw_boolean` are what
`st.integers` and `st.booleans` call underneath (with the same bounds, the same choices and
the same shrinking: towards the lower bound, towards False), so the builder calls them
directly. A Hypothesis without them gets the public strategies instead (a boolean as an
integer under a threshold), slower but drawing from the same distributions.
"""
from functools import lru_cache

from hypothesis import strategies as st


@lru_cache(maxsize=None)
def _integers(lo, hi):
    return st.integers(lo, hi)


def choices(draw):
    """(integer(lo, hi), boolean(p)) for the test case behind `draw`.

    No spans are opened around a step's choices: the generate phase then mutates programs by
    copying one step's choices over another's, and most such copies are thrown away (they
    cost half again the generation time for a shrink that measured no better)."""
    data = getattr(draw, "__self__", None)
    integer = getattr(data, "draw_integer", None)
    boolean = getattr(data, "draw_boolean", None)
    if integer is None or boolean is None:
        return public_choices(draw)
    return integer, boolean


def public_choices(draw):
    """The same choices through public strategies (slower; used where the test case has no
    `draw_integer`/`draw_boolean`, and by the test that both ways build valid programs)."""
    return (lambda lo, hi: draw(_integers(lo, hi)),
            lambda p: draw(_integers(0, 999)) >= 1000 - round(1000 * p))


_original = None  # Hypothesis's own _get_local_constants, kept by the first pin


def _providers():
    """Hypothesis's provider module, if it has the constant pool this module pins."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without providers
        return None
    if not callable(getattr(providers, "_get_local_constants", None)) or \
            not hasattr(providers, "Constants"):
        return None
    return providers


def _use_local_constants(providers, get):
    providers._get_local_constants = get
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if cache is not None and hasattr(cache, "cache"):
        cache.cache.clear()  # permitted constants computed from the previous pool


def pin_constant_pool():
    """Keep a derandomized test's programs a function of the test alone.

    Hypothesis (6.131 and later) now and then draws an integer found as a literal in the
    "local" modules imported so far, instead of a random one. Which of our modules are
    imported depends on what pytest collected and on which tests ran before in the same
    process (script rendering, the other engines' adapters are imported lazily), so the same
    test id could draw other programs serially, under `-n 2` or alone: a CI failure might not
    replay. The pool is pinned to Hypothesis's own constants; our literals (sizes, indices,
    magic numbers of the reference) are no better choices than any other integer.

    This reaches into Hypothesis's internals (there is no setting for it); where they differ,
    nothing is changed and False is returned (tests/meta/test_determinism.py then says so)."""
    providers = _providers()
    if providers is None:
        return False
    global _original
    if _original is None:
        _original = providers._get_local_constants
    empty = providers.Constants()
    _use_local_constants(providers, lambda: empty)
    return True


def unpin_constant_pool():
    """Hypothesis's own pool again (the control of tests/meta/test_determinism.py)."""
    providers = _providers()
    if providers is not None and _original is not None:
        _use_local_constants(providers, _original)

