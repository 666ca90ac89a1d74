"""Deliberately broken engines: the reference with exactly one realistic autograd bug each.

Each of `BROKEN` is a `ReferenceAdapter` (fast, NumPy only) with the bug of a torch mutant of
the zoo, its `twin` (sharing its code where the bug does not depend on the engine:
accumulation.OverwritesGrad, accumulation.ForcesRetainGraph).
tests/meta/test_broken_adapters.py installs each as the candidate and asserts that its twin's
killers fail, with a short, readable counterexample. If a suite stops catching its bug, the
suite (or its strategy) has lost power.

At the end: adapters that are incomplete (a missing method, an unknown capability), which
`adapters.registry.load` must refuse with a message naming the problem.
"""
import reference as R
from gradspec.adapter import Adapter
from gradspec.reference_adapter import ReferenceAdapter
from gradspec.vocabulary import INPLACE, MULTI_OUTPUT
from reference import ops as O

from .accumulation import ForcesRetainGraph, GradOverwritten, OverwritesGrad as _Overwrites
from .accumulation import RetainGraphAlways, RetainGraphNever
from .custom import CustomGradsSwapped
from .derivatives import SinSign
from .weights import WeightsIgnored


# ----- (a) a wrong vjp for one op ---------------------------------------------------------
class _SinWithWrongDerivative(R.autograd.Function):
    """sin(x) forward, but backward multiplies by -cos(x) (a sign slip in the derivative)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return O.sin(x)

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return O.mul(grad, O.neg(O.cos(x)))


class WrongSinVjp(ReferenceAdapter):
    """`sin` computes the right values but d sin(x)/dx = -cos(x)."""

    name = "broken-sin-vjp"
    twin = SinSign

    def op(self, name, *args, **params):
        if name == "sin":
            return _SinWithWrongDerivative.apply(*args)
        return super().op(name, *args, **params)


# ----- (b) gradient weights ignored -------------------------------------------------------
class IgnoresGradientWeights(ReferenceAdapter):
    """`backward(roots, weights)` differentiates as if every given weight were all ones."""

    name = "broken-ignores-weights"
    twin = WeightsIgnored

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [None if w is None else R.ones_like(w) for w in weights]
        super().backward(roots, weights, retain_graph, create_graph)


# ----- (c) .grad overwritten instead of accumulated ----------------------------------------
class OverwritesGrad(_Overwrites, ReferenceAdapter):
    """Each backward replaces a leaf's `.grad` by its new contribution instead of adding to it
    (a leaf that gets no contribution keeps its old `.grad`)."""

    name = "broken-overwrites-grad"
    twin = GradOverwritten


# ----- (d) retain_graph ignored -----------------------------------------------------------
class AlwaysRetainsGraph(ForcesRetainGraph, ReferenceAdapter):
    """retain_graph is always True: a second backward through freed buffers never fails."""

    name = "broken-always-retains"
    retain = True
    twin = RetainGraphAlways


class NeverRetainsGraph(AlwaysRetainsGraph):
    """retain_graph is always False: retain_graph=True is ignored and the next backward fails."""

    name = "broken-never-retains"
    retain = False
    twin = RetainGraphNever


# ----- (e) custom backward gradients routed to the wrong inputs ------------------------------
class SwapsCustomGrads(ReferenceAdapter):
    """A custom Function's backward results are routed to its inputs in reverse order."""

    name = "broken-swaps-custom-grads"
    twin = CustomGradsSwapped

    def custom_function(self, spec, forward_values, backward_values):
        def swapped(grads, saved, needs):
            result = backward_values(grads, saved, needs)
            return tuple(reversed(result)) if len(result) == 2 else result
        return super().custom_function(spec, forward_values, swapped)


BROKEN = (WrongSinVjp, IgnoresGradientWeights, OverwritesGrad, AlwaysRetainsGraph,
          NeverRetainsGraph, SwapsCustomGrads)


# ----- incomplete adapters (tests/meta/test_loading.py loads them by name) -------------------
class _Minimal(Adapter):
    """Everything `REQUIRED_METHODS` asks for except `backward`."""

    name = "incomplete"
    capabilities = frozenset({"float64"})
    ops = frozenset({"add"})

    def tensor(self, values, dtype, requires_grad):
        return R.tensor(values, requires_grad=requires_grad)

    def to_numpy(self, t):
        return t.data

    def requires_grad(self, t):
        return t.requires_grad

    def op(self, name, *args, **params):
        return O.add(*args)

    def read_grad(self, t):
        return t.grad


class NoBackward(_Minimal):
    """Declares capabilities, forgets `backward`."""

    capabilities = frozenset({"float64", "stateful_grad", "nonscalar_backward"})


class NoHookMethod(_Minimal):
    """Has `backward`, declares tensor hooks and layers but implements neither."""

    capabilities = frozenset({"float64", "tensor_hooks", "layers"})

    def backward(self, roots, weights, retain_graph, create_graph):
        R.autograd.backward(roots, weights, retain_graph=retain_graph)


class UnknownCapability(NoHookMethod):
    capabilities = frozenset({"float64", "time_travel"})


class NoOps(NoHookMethod):
    capabilities = frozenset({"float64"})
    ops = frozenset()


class InplaceWithoutMethod(NoHookMethod):
    """Declares `inplace` (and an in-place op) but implements no `inplace` method."""

    capabilities = frozenset({"float64", "stateful_grad", "inplace"})
    ops = frozenset({"add", "add_"})


class InplaceWithoutOps(ReferenceAdapter):
    """The reference with `inplace` declared but none of the in-place ops in `ops`: its suite
    would draw no in-place step and pass having checked nothing."""

    ops = ReferenceAdapter.ops - frozenset(INPLACE)


class MultiOutputWithoutOps(ReferenceAdapter):
    """`multi_output` declared, none of the multi-output ops in `ops`."""

    ops = ReferenceAdapter.ops - frozenset(MULTI_OUTPUT)


# ----- engines that cannot start (tests/meta/test_loading.py) ------------------------------
class EngineImportFails(NoHookMethod):
    """The constructor imports the engine, whose import fails (a broken install)."""

    def __init__(self):
        raise ImportError("simulated broken install: libengine.so: cannot open shared object")


class EngineStartFails(NoHookMethod):
    """The constructor raises something else than an ImportError."""

    def __init__(self):
        raise RuntimeError("simulated crash while starting the engine")


# ----- two bugs at once (--every-difference reports each) ----------------------------------
class WrongSinAndAlwaysRetains(WrongSinVjp, AlwaysRetainsGraph):
    """Both (a) and (d): a wrong gradient and a missing freed-graph error."""

    name = "broken-sin-and-retains"


# ----- a lazy engine whose backward fails only when its gradients are read ----------------
class FailsWhenRead(ReferenceAdapter):
    """The second backward's failure surfaces on reading `.grad`, as a lazy engine's does
    (tinygrad computes gradients when they are realized)."""

    name = "broken-fails-when-read"

    def __init__(self):
        self.backwards = 0

    def backward(self, roots, weights, retain_graph, create_graph):
        self.backwards += 1
        super().backward(roots, weights, retain_graph, create_graph)

    def read_grad(self, t):
        if self.backwards >= 2:
            raise RuntimeError("deferred failure")
        return super().read_grad(t)


# ----- a compiling engine: the forward steps handed over as one region ---------------------
class CompilesRegions(ReferenceAdapter):
    """Runs the forward region it is handed, counting the calls (Adapter.region's contract:
    `fn(*tensors) -> tuple of tensors`, every value out)."""

    name = "compiles-regions"

    def __init__(self):
        self.regions = []

    def region(self, fn, steps):
        self.regions.append(len(steps))

        def compiled(*tensors):
            return fn(*tensors)
        return compiled
