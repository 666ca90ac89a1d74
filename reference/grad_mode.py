"""Grad modes: whether operations are recorded into the graph.

Why a module of its own: the engine switches recording off while it runs vjps (unless
`create_graph=True`), which is what makes higher-order gradients fall out of the same vjps.
"""
import contextlib
import threading

class _State(threading.local):
    """Per thread, as torch's grad mode is; the class attributes are each thread's defaults
    (read on every op: plain attributes, no getattr with a default)."""
    enabled = True
    inference = False


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def is_inference_mode_enabled() -> bool:
    return _state.inference


def is_recording() -> bool:
    """Are ops recorded now? Grad mode on and not in inference mode (where `enable_grad`
    turns grad mode back on, yet nothing is recorded, as in torch)."""
    return _state.enabled and not _state.inference


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


class inference_mode(contextlib.ContextDecorator):
    """Like `torch.inference_mode()`: grad mode off, and every tensor made inside is an
    *inference tensor*, which a recorded op may not save for backward later."""

    def __enter__(self):
        self.prev = is_grad_enabled(), is_inference_mode_enabled()
        _set(False)
        _state.inference = True
        return self

    def __exit__(self, *exc):
        _set(self.prev[0])
        _state.inference = self.prev[1]
        return False
