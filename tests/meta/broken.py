"""Moved to tests/mutants/zoo/broken.py. Only the names tests/infra still loads as backends
(`--backend tests.meta.broken:WrongSinVjp`) stay here; once it names the new module, this
file can go."""
from tests.mutants.zoo.broken import IgnoresGradientWeights, WrongSinVjp

__all__ = ["IgnoresGradientWeights", "WrongSinVjp"]
