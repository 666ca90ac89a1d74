"""The program builder: draws a program step by step while running it on the reference.

Running each step as it is drawn tells the builder every value's shape, values and
`requires_grad`, so later draws stay valid by construction (a log only where its input is
positive, a binary op only on broadcastable shapes). Structure is drawn before values where
possible and choices shrink towards the first option, so counterexamples shrink to short
chains of simple ops.
"""
from functools import lru_cache

import numpy as np

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.interpreter import Session, build
from gradspec.vocabulary import SHRINK_ORDER

from .choices import choices
from .values import SEED_MAX, expand

_REFERENCE = ReferenceAdapter()


class Builder:
    def __init__(self, draw, config):
        self.draw, self.cfg = draw, config
        self.integer, self._boolean = choices(draw)
        self.dtype = self.pick(config.dtypes)
        self.session = Session(_REFERENCE, self.dtype)
        self.leaves, self.layers, self.functions, self.steps = [], [], [], []
        self.values = []  # names of all float tensor values, in creation order
        self.inference = []  # values made in inference_mode (only ever an op's first operand)
        self.ordered_ops = _ordered(config.ops)  # the config's ops in the order they shrink to
        self.counter = 0
        self.stopped = False  # the last step raises in the forward: no step may follow it

    # ----- drawing helpers (all shrink towards the first / "off" choice) --------------------
    # `integer(lo, hi)` (set in __init__) draws one integer, shrinking towards lo (towards 0
    # when lo < 0 <= hi).
    def chance(self, p):
        """True with probability `p`; shrinks to False."""
        if p <= 0:
            return False
        if p >= 1:
            return True
        return self._boolean(p)

    def seed(self):
        """A seed for NumPy to expand into values (see values.py); shrinks to 0."""
        return self.integer(0, SEED_MAX)

    def distinct(self, k, lo, hi):
        """k distinct integers in [lo, hi], each taken from those left; shrinks to lo, lo+1..."""
        left = list(range(lo, hi + 1))
        return tuple(left.pop(self.integer(0, len(left) - 1)) for _ in range(k))

    def permutation(self, n):
        """A permutation of range(n) (Fisher-Yates); shrinks to the identity."""
        items = list(range(n))
        for i in range(n - 1):
            j = self.integer(i, n - 1)
            items[i], items[j] = items[j], items[i]
        return tuple(items)

    def integers(self, lo, hi, min_size, max_size):
        """A list of integers in [lo, hi]: its length first, then the items."""
        n = self.integer(min_size, max_size) if max_size > min_size else min_size
        return [self.integer(lo, hi) for _ in range(n)]

    def can(self, capability):
        """Does the backend under test declare `capability`? (Unknown backend: yes.)"""
        return not self.cfg.caps or capability in self.cfg.caps

    def pick(self, items):
        items = list(items)
        return items[self.integer(0, len(items) - 1)] if len(items) > 1 else items[0]

    def pick_recent(self, names):
        """Most recent first: chains of ops shrink to the straight line."""
        names = list(names)
        return names[-1 - self.integer(0, len(names) - 1)]

    def rng(self):
        return np.random.default_rng(self.seed())

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ----- a step drawn, then left out -------------------------------------------------------
    def checkpoint(self):
        """Where the program stands now, for `rollback`."""
        return (len(self.leaves), len(self.layers), len(self.functions), len(self.steps),
                len(self.values))

    def rollback(self, mark):
        """Leave out everything drawn since `checkpoint` returned `mark`: its steps, leaves,
        layers and Functions, and the values they made. What the left-out step did to the
        values kept (a hook, a flag) is undone by building the kept program again."""
        n_leaves, n_layers, n_functions, n_steps, n_values = mark
        del self.leaves[n_leaves:], self.layers[n_layers:], self.functions[n_functions:]
        del self.steps[n_steps:], self.values[n_values:]
        self.session = build(self._program(()), _REFERENCE)

    # ----- values ------------------------------------------------------------------------
    def value(self, name):
        return self.session.env[name].data

    def tensor(self, name):
        return self.session.env[name]

    def requires_grad(self, name):
        return self.session.env[name].requires_grad

    def new_leaf(self, shape, requires_grad=None, positive=False, scale=1.0):
        if requires_grad is None:
            requires_grad = not self.chance(0.2)
        name = "abcdefghijklmnopqrsuvwxyz"[len(self.leaves)] if len(self.leaves) < 25 \
            else self.fresh("leaf")
        values = expand(self.seed(), shape, positive=positive, scale=scale,
                        salt=3 * len(self.leaves))
        leaf = P.Leaf(name, tuple(shape), values, requires_grad)
        self.leaves.append(leaf)
        self.session.add_leaf(leaf)
        self.values.append(name)
        return name

    def draw_shape(self, max_rank=3, min_rank=0):
        rank = self.integer(min_rank, max_rank)
        if rank >= 2 and self.chance(0.5):
            # Distinct sizes: a square matrix hides a transposed gradient, and equal sizes
            # hide a reduction over the wrong axis.
            return self.distinct(rank, 1, 4)
        return tuple(self.integer(1, 4) for _ in range(rank))

    def broadcast_variant(self, shape):
        """A shape that broadcasts with `shape`: leading dims dropped, some dims set to 1."""
        if not self.chance(self.cfg.broadcast):
            return shape
        drop = self.integer(0, len(shape))
        return tuple(1 if self.chance(0.4) else s for s in shape[drop:])

    def operand_like(self, x, broadcast):
        """A second operand for `x`: `x` itself, an existing value of a compatible shape, or
        a new leaf."""
        shape = self.value(x).shape
        if self.chance(0.15):
            return x  # the same tensor twice in one op: both gradient paths must add up
        ok = [n for n in self.values if n != x and (
            _broadcastable(self.value(n).shape, shape) if broadcast
            else self.value(n).shape == shape)]
        if ok and self.chance(0.4):
            return self.pick_recent(ok)
        return self.new_leaf(self.broadcast_variant(shape) if broadcast else shape)

    def operand_of_shape(self, shape, scale=1.0):
        ok = [n for n in self.values if self.value(n).shape == tuple(shape)]
        if ok and self.chance(0.3):
            return self.pick_recent(ok)
        return self.new_leaf(shape, scale=scale)

    # ----- steps -------------------------------------------------------------------------
    def add_step(self, step, outs):
        """Run `step` on the reference; keep it only if it worked and stayed finite."""
        self.session.step(step)
        self.steps.append(step)
        self.values.extend(outs)

    def program(self, plan):
        """The program drawn, with the reference Session that built it (the check runs the
        plan on it instead of building the program again)."""
        program = self._program(plan)
        self.session.attach_to(program)
        return program

    def _program(self, plan):
        return P.Program(dtype=self.dtype, leaves=tuple(self.leaves), steps=tuple(self.steps),
                         plan=tuple(plan), layers=tuple(self.layers),
                         functions=tuple(self.functions))


@lru_cache(maxsize=None)
def _ordered(ops):
    return tuple(op for op in SHRINK_ORDER if op in ops)


def _broadcastable(a, b):
    """Do shapes `a` and `b` broadcast together (NumPy's rule, without building the result)?"""
    return all(x == y or x == 1 or y == 1 for x, y in zip(reversed(a), reversed(b)))
