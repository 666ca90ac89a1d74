"""Grad modes: whether operations are recorded into the graph.

Why a module of its own: the engine switches recording off while it runs vjps (unless
`create_graph=True`), which is what makes higher-order gradients fall out of the same vjps.
"""
import contextlib
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = bool(enabled)


class set_grad_enabled(contextlib.ContextDecorator):
    """Like `torch.set_grad_enabled`: usable as a function, a context manager or a decorator."""

    def __init__(self, mode: bool):
        self.prev = is_grad_enabled()
        self.mode = bool(mode)
        _set(self.mode)

    def __enter__(self):
        _set(self.mode)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False


class no_grad(contextlib.ContextDecorator):
    def __enter__(self):
        self.prev = is_grad_enabled()
        _set(False)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False


class enable_grad(contextlib.ContextDecorator):
    def __enter__(self):
        self.prev = is_grad_enabled()
        _set(True)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False
