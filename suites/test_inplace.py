"""In-place ops and views: `add_`, `mul_`, `clamp_`, `relu_`, `masked_fill_` and slice
assignment on non-leaf tensors, on views of them (the write reaches the base, whose history
becomes CopySlices) and on detached aliases; a tensor saved for backward and then modified
raises "modified by an inplace operation" when that backward runs, and only then; a leaf that
requires grad (or a view of one, or an expanded tensor) raises at once."""
import pytest
from hypothesis import given

from strategies.config import Config as _Defaults

from .conformance import Config, conforms, programs_for

# matmul and linear are composites in torch: whether their output is a view (of an internal
# product: (1, 1) @ (2, 1, 1) returns one, which may not be written where it was made under
# no_grad) depends on the operands' ranks and layouts. That is torch's implementation, not its
# semantics: they are left out here (every other suite covers their gradients). What matmul
# saves (an operand, or a reshaped copy of it, which a later write to the operand leaves
# valid) is modelled (reference/ops/linalg.py) and met in test_hooks_since's optimizer steps.
COMPOSITES = frozenset({"matmul", "linear"})
INPLACE = Config(ops=_Defaults().ops - COMPOSITES, inplace=0.45, inplace_views=0.5, detach=0.08, no_grad=0.1,
                 forward_errors=0.3, max_steps=8, max_actions=2, retain_graph=0.5,
                 weights=0.6, multi_root=0.2)


@pytest.mark.needs("inplace")
@given(program=programs_for(INPLACE))
def test_inplace_ops_and_views(program):
    conforms(program)
