"""Exceptions of the reference engine, one class per normalized error kind.

Why: the suite compares *error behaviour* across engines, so every error the reference raises
carries a stable `kind` string (the same strings adapters map their own exceptions to, see
`gradspec/adapter.py`). Messages follow torch's wording so users recognise them.
"""


class AutogradError(RuntimeError):
    """Base class; `kind` is the normalized error kind compared across engines."""

    kind = "autograd_error"


class NonScalarImplicitGradError(AutogradError):
    kind = "nonscalar_implicit_grad"


class GradShapeMismatchError(AutogradError):
    kind = "grad_shape_mismatch"


class GraphFreedError(AutogradError):
    kind = "graph_freed"


class NoGradFnError(AutogradError):
    kind = "no_grad_fn"


class CustomGradCountError(AutogradError):
    kind = "custom_grad_count"


class CustomGradShapeError(AutogradError):
    kind = "custom_grad_shape"


class UnusedInputError(AutogradError):
    kind = "unused_input"


class InputNoGradError(AutogradError):
    kind = "input_no_grad"


class HookOnNoGradError(AutogradError):
    kind = "hook_on_no_grad"


class InplaceModifiedError(AutogradError):
    kind = "inplace_modified"


class LeafInplaceError(AutogradError):
    kind = "leaf_inplace"


class InplaceOverlapError(AutogradError):
    kind = "inplace_overlap"


class InplaceShapeError(AutogradError):
    kind = "inplace_shape"


class NonLeafRequiresGradError(AutogradError):
    kind = "nonleaf_requires_grad"


class InferenceTensorError(AutogradError):
    kind = "inference_tensor"


class ModuleHookError(AutogradError):
    kind = "module_hook"


ALL_ERRORS = tuple(
    cls for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, AutogradError) and cls is not AutogradError
)
