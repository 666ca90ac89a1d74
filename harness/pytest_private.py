"""Every use of pytest's private internals, in one place (the Hypothesis ones are in
strategies/hypothesis_private.py).

One: pytest rewrites the asserts of every module of a plugin's distribution when it is
imported, Hypothesis's eighty, in every process (each xdist worker too), about a second each
time. Hypothesis's asserts are its own invariants, which need no pytest introspection, so the
conftest, the first to import it, has it imported as it is. `GRADSPEC_PRIVATE_APIS=0` turns
this off (tests/meta/test_private_apis.py runs suites that way); where pytest's hook has
another shape, it is left alone.
"""
import sys

from gradspec.private_apis import enabled  # the one switch, GRADSPEC_PRIVATE_APIS


def import_hypothesis_unrewritten():
    """Import Hypothesis without pytest's assert rewriting; True if it was done so."""
    if not enabled():
        return False
    hook = next((h for h in sys.meta_path if type(h).__name__ == "AssertionRewritingHook"),
                None)
    marked = getattr(hook, "_must_rewrite", None)
    if not (isinstance(marked, set) and "hypothesis" in marked):
        return False
    marked.discard("hypothesis")
    try:
        import hypothesis.strategies  # noqa: F401 - imported here, unrewritten
    finally:
        marked.add("hypothesis")
    return True
