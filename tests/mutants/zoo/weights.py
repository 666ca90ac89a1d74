"""The backward verb's arguments: gradient weights, several roots, an implicit gradient.
"""
import torch

from .base import Mutant
from .killers import ERRORS, MULTI_ROOT, WEIGHTS


class WeightsIgnored(Mutant):
    id = "weights-ignored"
    area = "gradient weights"
    description = "backward(roots, weights) differentiates as if every weight were all ones"
    killers = (WEIGHTS, MULTI_ROOT)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [None if w is None else torch.ones_like(w) for w in weights]
        super().backward(roots, weights, retain_graph, create_graph)


class WeightsTransposed(Mutant):
    id = "weights-transposed"
    area = "gradient weights"
    description = "a matrix gradient weight is read transposed (column-major)"
    killers = (WEIGHTS, MULTI_ROOT)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [w.mT.contiguous() if w is not None and w.dim() >= 2 else w for w in weights]
        super().backward(roots, weights, retain_graph, create_graph)


class FirstRootOnly(Mutant):
    id = "first-root-only"
    area = "several roots"
    description = "backward over several roots backpropagates only the first"
    killers = (MULTI_ROOT,)

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots[:1], weights[:1], retain_graph, create_graph)


class ImplicitOnesForNonscalar(Mutant):
    id = "implicit-nonscalar-ones"
    area = "errors"
    description = "an implicit gradient for a non-scalar root silently means ones (no error)"
    killers = (ERRORS,)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [torch.ones_like(r) if w is None and r.dim() else w
                   for r, w in zip(roots, weights)]
        super().backward(roots, weights, retain_graph, create_graph)
