"""The op vocabulary of the reference engine. One place per op: forward and vjp side by side.

Every vjp is written with these same ops, so the backward pass can itself be recorded
(`create_graph=True`) and differentiated again.

Each op module lists the ops it defines in its `__all__`; this package exports them all, so a
new op is one function (and one `__all__` entry) in its module. The modules in layer order:
an op module imports only from the ones before it below
(tests/reference/test_import_layers.py).
"""
from . import shape, elementwise, reduction, linalg, losses, multi, binary, indexing, nn
from .shape import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .multi import *  # noqa: F401,F403
from .binary import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

__all__ = [*shape.__all__, *elementwise.__all__, *reduction.__all__, *linalg.__all__,
           *losses.__all__, *multi.__all__, *binary.__all__,
           *indexing.__all__, *nn.__all__]
