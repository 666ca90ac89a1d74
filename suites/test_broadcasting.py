"""Broadcasting in the forward pass means summing back to each input's shape in backward."""
from hypothesis import given

from gradspec.vocabulary import BINARY

from .conformance import Config, conforms, programs_for

BROADCAST = Config(broadcast=0.9, ops=frozenset(BINARY + ("where", "sum", "exp", "tanh")),
                   max_steps=6)


@given(program=programs_for(BROADCAST))
def test_broadcasting_reduces_back(program):
    conforms(program)
