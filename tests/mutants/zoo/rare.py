"""Beyond the ci profile: bugs a campaign finds (`RARE`, not in `ZOO`).
"""
import weakref

import torch

from .base import OpMutant, vjp
from .killers import ACCUMULATION, CONTROL, RETAIN_GRAPH


# ===== 7. beyond the ci profile: bugs a campaign finds ======================================
# Not in ZOO (whose every mutant the ci profile must kill): each needs a rare conjunction of
# features that 60 derandomized programs per suite test almost never draw. The campaign
# (README, "Past one machine") is shown finding them; tests/mutants/test_zoo.py checks they
# are real bugs with a hand-written program.
BINARY_OPS = ("add", "sub", "mul", "div", "maximum", "minimum")


def broadcast_over_new_dims(shape, out, n=2):
    """Was an operand of `shape` broadcast to `out` over `n` or more new leading dims?
    (e.g. (4,) to (2, 3, 4), or a 0-d operand to a matrix)"""
    return len(out) - len(shape) >= n


class UnbroadcastBufferReused(OpMutant):
    id = "unbroadcast-buffer-reused"
    area = "broadcasting after a retained backward (rare)"
    description = ("a binary op sums the gradient of an operand broadcast over two or more new "
                   "leading dims (e.g. (4,) to (2, 3, 4)) into a scratch buffer kept on its "
                   "node; a second backward through the retained graph adds into the stale "
                   "buffer")
    killers = (ACCUMULATION, RETAIN_GRAPH, CONTROL)
    targets = BINARY_OPS

    def __init__(self):
        super().__init__()
        self._buffers = weakref.WeakKeyDictionary()  # per node (keyed by its forward)

    def applies(self, name, args, params):
        shapes = [tuple(a.shape) for a in args]
        out = tuple(torch.broadcast_shapes(*shapes))
        return any(broadcast_over_new_dims(s, out) for s in shapes)

    def saves_for(self, name):
        return name not in ("add", "sub")  # torch's add and sub nodes save no tensors

    def bad_vjp(self, name, params, xs, g, real):
        grads = vjp(real, xs, g)
        buffers = self._buffers.setdefault(real, {})
        for i, x in enumerate(xs):
            if broadcast_over_new_dims(tuple(x.shape), tuple(g.shape)):
                if i in buffers:
                    buffers[i] += grads[i]  # the scratch buffer is never zeroed
                else:
                    buffers[i] = grads[i].clone()
                grads[i] = buffers[i].clone()
        return grads


RARE = (UnbroadcastBufferReused,)
