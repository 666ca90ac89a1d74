"""Traces: what happened when a program ran on one engine, as plain NumPy data."""
from dataclasses import dataclass, field
from typing import Optional

import numpy as np


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
    message: str = ""
    returned: Optional[tuple] = None  # grad(): the gradients returned
    grads: dict = field(default_factory=dict)  # leaf name -> array | None
    retained: dict = field(default_factory=dict)  # retained non-leaf name -> array | None
    nonleaf: dict = field(default_factory=dict)  # other non-leaf name -> its .grad (None)
    hooks: list = field(default_factory=list)  # HookCall, in call order
    grad_requires_grad: dict = field(default_factory=dict)  # leaf -> does its .grad? (create_graph)


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
            lines.append(f"  forward raised {self.forward_error}: {self.forward_message}")
        for a in self.actions:
            lines.append(f"  action {a.index}: " + (f"raised {a.error}" if a.error else "ok"))
            for name, g in a.grads.items():
                lines.append(f"    {name}.grad = {_fmt(g)}")
        return "\n".join(lines)


def _fmt(a):
    if a is None:
        return "None"
    return np.array2string(np.asarray(a), precision=6, separator=", ")
