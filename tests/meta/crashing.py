"""Engines that crash or hang, for tests/meta/test_isolate.py: the reference (its worker starts
in a fraction of a second, where torch's takes two) with one fatal op each, and the torch
script a failure report prints (as if the engine had torch's API).

Each crashes on an op that random programs of the broadcasting suite often run, and only on
a tensor of more than one element, so that Hypothesis has something to shrink: the report
shows a small program, not the first one drawn.
"""
import ctypes
import os
import time

from gradspec.reference_adapter import ReferenceAdapter
from adapters.templates import TemplateOps
from adapters.torch_ops import INPLACE_TEMPLATES, TORCH_TEMPLATES


class _TorchSpelling:
    """What adapters/torch_script.py reads from an adapter: the templates' text (no torch)."""
    op = TemplateOps(TORCH_TEMPLATES, {})
    inplace_ops = TemplateOps(INPLACE_TEMPLATES, {})


class _Fatal(ReferenceAdapter):
    fatal_op = "exp"

    def op(self, name, *args, **params):
        if name == self.fatal_op and any(a.data.size > 1 for a in args):
            self.die()
        return super().op(name, *args, **params)

    def die(self):
        raise NotImplementedError

    def render_script(self, program):
        from adapters.torch_script import render
        return render(program, _TorchSpelling)


class AbortingAdapter(_Fatal):
    """`exp` of more than one element calls abort(): SIGABRT, as a failed C assertion does."""
    name = "aborting"

    def die(self):
        os.abort()


class SegfaultingAdapter(_Fatal):
    """`exp` of more than one element reads address 0: SIGSEGV."""
    name = "segfaulting"

    def die(self):
        ctypes.string_at(0)


class HangingAdapter(_Fatal):
    """`tanh` of more than one element never returns (a deadlock)."""
    name = "hanging"
    fatal_op = "tanh"

    def die(self):
        time.sleep(3600)


class ExitingAdapter(_Fatal):
    """`exp` of more than one element exits the process with status 3 (an engine calling
    exit() on an internal error)."""
    name = "exiting"

    def die(self):
        os._exit(3)



class RaisingAdapter(ReferenceAdapter):
    """Reading a forward value raises ValueError: an exception outside the interpreter's steps
    and actions, which the worker sends back to be judged as in process."""
    name = "raising"

    def to_numpy(self, t):
        raise ValueError("no values today")
