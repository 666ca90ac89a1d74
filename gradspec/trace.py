"""Traces: what happened when a program ran on one engine, as plain NumPy data."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


MESSAGE_LINES, MESSAGE_CHARS = 20, 2000  # how much of an engine's error message a trace keeps


def first_line(exc):
    """The first non-blank line of `exc`'s message, or its type's name when there is none (a
    bare `assert False`): for one-line displays."""
    return next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def error_message(exc):
    """`exc`'s whole message as a trace keeps it (the first MESSAGE_LINES lines, at most
    MESSAGE_CHARS characters), or its type's name when it is empty."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    if len(lines) > MESSAGE_LINES:
        lines = lines[:MESSAGE_LINES] + [f"... ({len(lines) - MESSAGE_LINES} more lines)"]
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + " ..."


@dataclass
class HookCall:
    """One call of a hook: `target` is a tensor name or a layer name; `values` the arrays
    received (a tensor hook: one; a module hook: grad_input then grad_output), None kept."""
    target: str
    kind: str  # "tensor" | "module"
    values: tuple


@dataclass
class ActionResult:
    """The outcome of one plan action and the state right after it."""
    index: int
    error: Optional[str] = None  # normalized error kind, or None
    message: str = ""  # the engine's message for it (error_message: several lines, bounded)
    returned: Optional[tuple] = None  # grad(): the gradients returned
    grads: dict = field(default_factory=dict)  # leaf name -> array | None
    retained: dict = field(default_factory=dict)  # retained non-leaf name -> array | None
    nonleaf: dict = field(default_factory=dict)  # other non-leaf name -> its .grad (None)
    hooks: list = field(default_factory=list)  # HookCall, in call order
    grad_requires_grad: dict = field(default_factory=dict)  # leaf -> does its .grad? (create_graph)
    # Pairs of leaves (sorted names, pairs sorted) whose .grad share memory, so that an in-place
    # update of one changes the other; read where the adapter has `shares_storage`.
    grad_aliases: tuple = ()


@dataclass
class Trace:
    backend: str
    forward: dict = field(default_factory=dict)  # value name -> array
    requires_grad: dict = field(default_factory=dict)  # value name -> bool
    forward_error: Optional[str] = None
    forward_message: str = ""
    forward_hooks: list = field(default_factory=list)
    shares_storage: dict = field(default_factory=dict)  # detach() output -> shares memory?
    actions: list = field(default_factory=list)

    def summary(self):
        lines = [f"[{self.backend}]"]
        if self.forward_error:
            lines.append(f"  forward raised {self.forward_error}: "
                         + self.forward_message.replace("\n", "\n    "))
        for a in self.actions:
            lines.append(f"  action {a.index}: " + (f"raised {a.error}" if a.error else "ok"))
            for name, g in a.grads.items():
                lines.append(f"    {name}.grad = {_fmt(g)}")
        return "\n".join(lines)


def _fmt(a):
    if a is None:
        return "None"
    return np.array2string(np.asarray(a), precision=6, separator=", ")
