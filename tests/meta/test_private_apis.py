"""Hypothesis's and pytest's private APIs are speed-ups and conveniences, never needed:
with GRADSPEC_PRIVATE_APIS=0 none is used (strategies/hypothesis_private.py,
harness/pytest_private.py) and the suites pass the same."""
import os
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from harness import pytest_private
from strategies import choices, hypothesis_private

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_switch_turns_every_use_off(monkeypatch):
    seen = {}

    @st.composite
    def probe(draw):  # the draw a composite strategy gets, as the program builder does
        seen["on"] = hypothesis_private.fast_choices(draw)
        monkeypatch.setenv("GRADSPEC_PRIVATE_APIS", "0")
        seen["off"] = hypothesis_private.fast_choices(draw)
        integer, boolean = choices.choices(draw)  # the public ones, still working
        seen["public"] = (integer(0, 3), boolean(0.5))
        monkeypatch.delenv("GRADSPEC_PRIVATE_APIS")
        return 0

    @settings(max_examples=1, database=None)
    @given(probe())
    def draw(_):
        pass
    draw()
    assert seen["on"] is not None, "this Hypothesis has no draw_integer: nothing to switch off"
    assert seen["off"] is None and 0 <= seen["public"][0] <= 3
    monkeypatch.setenv("GRADSPEC_PRIVATE_APIS", "0")
    assert not hypothesis_private.pin_constant_pool()
    assert hypothesis_private.key_by_node([object()]) == 0
    assert not pytest_private.import_hypothesis_unrewritten()


def test_the_suites_pass_without_private_apis():
    env = dict(os.environ, GRADSPEC_PRIVATE_APIS="0")
    env = {k: v for k, v in env.items() if not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:randomly", "-p", "no:xdist",
         "-p", "no:cacheprovider", "--max-examples=8", "--backend=torch"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert " passed" in proc.stdout
