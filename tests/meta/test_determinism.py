"""A derandomized test draws the same programs whatever else the process imported.

Hypothesis sometimes draws an integer literal of the "local" modules imported so far; the
conftest pins that pool (strategies/hypothesis_private.py: pin_constant_pool), so a test id replays the
same programs serially, under `-n 2` and alone. Here a fresh local module full of new literals
is imported between two runs of one derandomized test: pinned, the programs are the same; with
Hypothesis's own pool (the control), the same import changes them.
"""
import importlib
import sys

from hypothesis import given

from strategies import Config, programs
from strategies.hypothesis_private import local_constants, pin_constant_pool, unpin_constant_pool
from tests.meta.test_strategies import REFERENCE, quick

CONFIG = Config(min_steps=3, max_steps=6)


def _drawn():
    """The programs (as source) one derandomized test draws."""
    seen = []

    @quick(max_examples=40)
    @given(program=programs(CONFIG, REFERENCE))
    def draw(program):
        seen.append(program.to_source())
    draw()
    return seen


def _import_literals(tmp_path, name):
    """Import a new local module whose literals are integers no other module has (each
    name its own: the pool never forgets a literal it has seen)."""
    start = 1_000_003 + 10_000_019 * (sum(map(ord, name)) % 401)
    literals = ", ".join(str(start + 7919 * i) for i in range(300))
    (tmp_path / f"{name}.py").write_text(f"LITERALS = ({literals})\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))


def test_the_pool_is_pinned_in_this_process():
    assert pin_constant_pool(), "this Hypothesis has no _get_local_constants to pin"
    assert not any(local_constants().set_for_type("integer"))


def test_importing_a_module_with_new_literals_changes_no_program(tmp_path):
    assert pin_constant_pool()
    before = _drawn()
    _import_literals(tmp_path, "gradspec_pool_literals_pinned")
    assert _drawn() == before


def test_without_the_pin_the_same_import_changes_the_programs(tmp_path):
    """The control: Hypothesis's own pool takes the new literals in, and programs change."""
    unpin_constant_pool()
    try:
        before = _drawn()
        _import_literals(tmp_path, "gradspec_pool_literals_unpinned")
        after = _drawn()
    finally:
        assert pin_constant_pool()
    assert after != before, "no constant was drawn: this test shows nothing"
