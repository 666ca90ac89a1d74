"""The exception an adapter raises for a program it cannot express, defined below adapters/ so
the pipeline (harness/check.py) need not import upward; gradspec/adapter.py re-exports it."""


class UnsupportedProgram(Exception):
    """Raised by an adapter for a program it cannot express (from any method, a plan action's
    included): the suites reject that example and go on with others; a hand-written
    program's test is skipped with the reason."""
