"""In-place ops and views: the version counter, the recorded history, writes through views,
the leaf check.
"""
import torch

from .base import Mutant
from .killers import INPLACE


# ===== harder semantics: in-place ops and views =============================================
class _SavedByReference(torch.autograd.graph.saved_tensors_hooks):
    """Saved tensors kept as the tensors themselves, not as versioned SavedVariables."""

    def __init__(self):
        super().__init__(lambda t: t, lambda t: t)


class VersionNeverChecked(Mutant):
    id = "inplace-version-never-checked"
    area = "in-place ops (version counter)"
    description = ("a saved tensor's version is never checked: a backward through a node whose "
                   "saved tensor was since modified in place uses the new values instead of "
                   "raising")
    killers = (INPLACE,)

    def __init__(self):
        super().__init__()
        op, inplace = self.op, self.inplace_ops
        self.op = _Wrapped(op, _SavedByReference)
        self.inplace_ops = _Wrapped(inplace, _SavedByReference)


class _Wrapped:
    """Ops run inside a context manager (made fresh for each call)."""

    def __init__(self, ops, context):
        self.ops, self.context = ops, context

    def __call__(self, name, *args, **params):
        with self.context():
            return self.ops(name, *args, **params)

    def source(self, *a):
        return self.ops.source(*a)


class InplaceNotRecorded(Mutant):
    id = "inplace-not-recorded"
    area = "in-place ops (history)"
    description = ("an in-place op changes the values (and the version) but not the history: "
                   "gradients flow as if the tensor still held what it held before, and an "
                   "operand gets none")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        if torch.is_grad_enabled() and target.requires_grad and target.is_leaf:
            return super().inplace(name, target, *args, **params)  # still refused at once
        with torch.no_grad():
            return super().inplace(name, target, *args, **params)


class ViewWriteNotReachingBase(Mutant):
    id = "inplace-view-write-copied"
    area = "in-place ops (views)"
    description = ("a write into a view goes to a copy of the view: the base (and its other "
                   "views) never see it, nor get its gradient")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        if target._is_view() and not (target.requires_grad and target._base.is_leaf):
            target = target.clone()
        return super().inplace(name, target, *args, **params)


class LeafInplaceAllowed(Mutant):
    id = "leaf-inplace-allowed"
    area = "in-place ops (leaf check)"
    description = ("an in-place op on a leaf that requires grad (or on a view of one) is "
                   "carried out silently, unrecorded, instead of raising")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        base = target._base if target._is_view() else target
        if torch.is_grad_enabled() and base.requires_grad and base.is_leaf:
            with torch.no_grad():
                return super().inplace(name, target, *args, **params)
        return super().inplace(name, target, *args, **params)
