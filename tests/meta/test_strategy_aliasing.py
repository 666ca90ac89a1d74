"""The in-place strategy never draws a write whose tensor operand shares memory with what it
writes other than element for element, unless torch refuses the write at once (its overlap
check tells, or the target is a leaf's memory: the forward then raises there): torch leaves
the result of such a write unspecified (it depends on the order its kernel walks memory in:
tests/torch/test_inplace_aliasing.py). 1000 programs: the strategy's filter switched off,
this budget finds one."""
import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.interpreter import build
from gradspec.vocabulary import to_index
from reference.errors import InplaceOverlapError, LeafInplaceError
from strategies import programs
from suites.test_inplace import INPLACE

REFERENCE = ReferenceAdapter()


def _aliasing(env, step):
    """The operands of in-place `step` that share memory with the region it writes, in
    another layout."""
    v = env[step.target].data
    if step.op == "setitem":
        written = v[tuple(to_index(dict(step.params)["index"])) + (Ellipsis,)]
        operands = [env[a].data for a in step.args if env[a].data.ndim]  # 0-d: a fill
    else:
        written, operands = v, [env[a].data for a in step.args]
    def same(o):
        return (o.__array_interface__["data"] == written.__array_interface__["data"]
                and o.shape == written.shape and o.strides == written.strides)
    return [o for o in operands if np.shares_memory(written, o) and not same(o)]


@settings(max_examples=1000, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(program=programs(INPLACE.but(inplace=0.9, inplace_views=0.9, detach=0.3), REFERENCE))
def test_no_inplace_operand_aliases_the_written_memory(program):
    for i, step in enumerate(program.steps):
        if not isinstance(step, P.InPlace) or not step.args:
            continue
        env = build(dataclasses.replace(program, steps=program.steps[:i], plan=()), REFERENCE).env
        if _aliasing(env, step):  # only where torch refuses: the forward raises there
            try:
                build(dataclasses.replace(program, steps=program.steps[:i + 1], plan=()),
                      REFERENCE)
            except (InplaceOverlapError, LeafInplaceError):
                pass  # torch refuses at once: an overlap it can tell, or a leaf's memory
            else:
                raise AssertionError(f"{step} writes through an aliasing operand, unrefused")
