"""Every use of Hypothesis's private internals, in one place, each with a public fallback.

gradspec reaches past Hypothesis's public API for three things:
- speed: the test case's `draw_integer`/`draw_boolean` (what `st.integers`/`st.booleans` call
  underneath), drawn directly, several times cheaper than a strategy lookup a choice
  (strategies/choices.py);
- determinism: the "local constants" pool pinned to Hypothesis's own constants, so that a
  derandomized test draws the same programs whatever modules were imported before it
  (`pin_constant_pool`);
- replay: one example-database key per pytest node, as HypoFuzz keys what it finds
  (`key_by_node`);
- a repeatable campaign: the random source each non-derandomized test draws its seed from,
  seeded (`seed_test_seeds`); `--hypothesis-seed` would repeat one seed for every test and
  turn the example database off, so that a failure found would not be kept.

`GRADSPEC_PRIVATE_APIS=0` turns all four off: the public strategies draw the same
distributions, slower; a derandomized program may then depend on import order; a campaign's
failure replays under its own test's key only; a plain-Hypothesis campaign's seed repeats
nothing. tests/meta/test_private_apis.py runs suites
that way. Where a Hypothesis release changes these internals, each use finds nothing and
falls back (tests/meta/test_determinism.py says when the pin no longer applies).
"""
from gradspec.private_apis import enabled  # the one switch, GRADSPEC_PRIVATE_APIS


# ----- speed: the test case's own choice draws ----------------------------------------------
def fast_choices(draw):
    """(draw_integer, draw_boolean) of the test case behind `draw`, or None."""
    if not enabled():
        return None
    data = getattr(draw, "__self__", None)
    integer = getattr(data, "draw_integer", None)
    boolean = getattr(data, "draw_boolean", None)
    return None if integer is None or boolean is None else (integer, boolean)


# ----- determinism: the constant pool -------------------------------------------------------
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

    There is no setting for it; where the internals differ (or GRADSPEC_PRIVATE_APIS=0),
    nothing is changed and False is returned."""
    providers = _providers() if enabled() else None
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


def local_constants():
    """The pool Hypothesis draws local constants from now (for the determinism test)."""
    providers = _providers()
    return None if providers is None else providers._get_local_constants()


# ----- replay: one database key per pytest node ---------------------------------------------
def key_by_node(items):
    """Give each Hypothesis test among pytest `items` its node id as its database key, as
    HypoFuzz keys what it finds: a failure a campaign found then replays under plain pytest.
    Returns how many were keyed (0 where the internals differ or GRADSPEC_PRIVATE_APIS=0)."""
    if not enabled():
        return 0
    try:
        from hypothesis.internal.detection import is_hypothesis_test
    except ImportError:  # pragma: no cover
        return 0
    keyed = 0
    for item in items:
        obj = getattr(item, "obj", None)
        inner = getattr(getattr(obj, "hypothesis", None), "inner_test", None)
        if is_hypothesis_test(obj) and inner is not None:
            inner._hypothesis_internal_add_digest = item.nodeid.encode()
            keyed += 1
    return keyed


# ----- a repeatable campaign: the source of each test's seed ---------------------------------
def seed_test_seeds(seed):
    """Seed the random source each non-derandomized test of this process takes its seed from
    (Hypothesis's per-thread global Random), so a run of tests in one order repeats. Returns
    whether it could."""
    if not enabled():
        return False
    from random import Random
    try:
        from hypothesis import core
        local = core.threadlocal
        getattr(local, "_hypothesis_global_random")
    except (ImportError, AttributeError):
        return False
    local._hypothesis_global_random = Random(seed)
    return True
