"""Hypothesis strategies for programs. `programs(config, adapter)` is the entry point."""
from .config import Config
from .programs import programs

__all__ = ["Config", "programs"]
