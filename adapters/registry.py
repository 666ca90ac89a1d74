"""Backend names -> adapters, and loading `package.module:Class` for any other adapter."""
import importlib

from gradspec.adapter import check_adapter

BUILTIN = {
    "torch": ("adapters.torch_adapter", "TorchAdapter", {}),
    "torch-cuda": ("adapters.torch_adapter", "TorchAdapter", {"device": "cuda"}),
    "reference": ("gradspec.reference_adapter", "ReferenceAdapter", {}),
    "jax": ("adapters.jax_adapter", "JaxAdapter", {}),
    "autograd": ("adapters.autograd_adapter", "AutogradAdapter", {}),
    "mygrad": ("adapters.mygrad_adapter", "MyGradAdapter", {}),
    "tinygrad": ("adapters.tinygrad_adapter", "TinygradAdapter", {}),
    "torch-func": ("adapters.torch_func_adapter", "TorchFuncAdapter", {}),
    "torch-compile": ("adapters.torch_compile_adapter", "TorchCompileAdapter", {}),
    "torch-compile-inductor": ("adapters.torch_compile_adapter", "TorchCompileAdapter",
                               {"compiler": "inductor"}),
    "torch-compile-ca": ("adapters.torch_compile_adapter", "TorchCompileAdapter",
                         {"compiled_autograd": True}),
    "torch-compile-inductor-ca": ("adapters.torch_compile_adapter", "TorchCompileAdapter",
                                  {"compiler": "inductor", "compiled_autograd": True}),
    "torch-func-compile": ("adapters.torch_func_compile_adapter", "TorchFuncCompileAdapter",
                           {}),
    "paddle": ("adapters.paddle_adapter", "PaddleAdapter", {}),
    "tensorflow": ("adapters.tensorflow_adapter", "TensorFlowAdapter", {}),
}
PACKAGES = {"torch": "torch", "torch-cuda": "torch", "torch-func": "torch",
            "torch-compile": "torch", "torch-compile-inductor": "torch",
            "torch-compile-ca": "torch", "torch-func-compile": "torch", "torch-compile-inductor-ca": "torch", "jax": "jax",
            "autograd": "autograd",
            "mygrad": "mygrad", "tinygrad": "tinygrad", "paddle": "paddle",
            "tensorflow": "tensorflow"}
# Distributions whose import name differs: the first installed one gives the version.
DISTRIBUTIONS = {"paddle": ("paddlepaddle", "paddlepaddle-gpu"),
                 "tensorflow": ("tensorflow", "tensorflow-cpu")}


class BackendError(Exception):
    """A backend that cannot be loaded: unknown name, incomplete adapter (a usage error)."""


class BackendUnavailable(BackendError):
    """A known backend that cannot run here (package not installed or failing to import, no
    GPU): the run stops with this message, or with --allow-unavailable
    (GRADSPEC_ALLOW_UNAVAILABLE=1) its suites are skipped with it."""


def adapter_class(spec):
    """The adapter class `spec` names and its constructor's arguments, imported but not
    instantiated: the engine itself is imported by the constructor (an adapter module imports
    only gradspec's own code), so this costs milliseconds where loading torch takes a second.
    Raises the errors `load` raises for a name or package that is wrong."""
    if spec in BUILTIN:
        module_name, cls_name, kwargs = BUILTIN[spec]
    elif ":" in spec:
        module_name, cls_name = spec.split(":", 1)
        kwargs = {}
    else:
        raise BackendError(
            f"unknown backend {spec!r}: use one of {', '.join(sorted(BUILTIN))} "
            f"or 'package.module:AdapterClass'")
    package = PACKAGES.get(spec)
    if package is not None and importlib.util.find_spec(package) is None:
        raise BackendUnavailable(f"backend {spec!r} needs the {package!r} package, which is "
                                 f"not installed here (pip install {package})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name and not _is_part_of(module_name,
                                                                                  exc.name):
            # The adapter's module is there; a package it imports (its engine) is not.
            raise BackendUnavailable(
                f"backend {spec!r} needs the {exc.name!r} package, which is not installed "
                f"here ({module_name!r} imports it)") from exc
        raise BackendError(f"backend {spec!r}: cannot import {module_name!r}: {exc}") from exc
    except Exception as exc:  # a broken adapter module: one sentence, not a traceback
        raise BackendError(f"backend {spec!r}: importing {module_name!r} raised "
                           f"{type(exc).__name__}: {exc}") from exc
    cls = getattr(module, cls_name, None)
    if cls is None:
        raise BackendError(f"backend {spec!r}: module {module_name!r} has no {cls_name!r}")
    return cls, kwargs


def _is_part_of(module_name, name):
    """Is `name` the module `module_name` or one of its parent packages?"""
    return module_name == name or module_name.startswith(name + ".")


def engine_version(spec):
    """The installed version of the package a built-in backend runs on, read from the
    package's metadata without importing it; None for the reference and unknown adapters."""
    package = PACKAGES.get(spec)
    if package is None:
        return None
    from importlib import metadata
    for dist in DISTRIBUTIONS.get(package, (package,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return None


def load(spec):
    """`torch`, `reference`, or `package.module:AdapterClass` -> a checked adapter instance."""
    cls, kwargs = adapter_class(spec)
    from gradspec.adapter import UnsupportedProgram
    try:
        adapter = cls(**kwargs)
    except UnsupportedProgram as exc:  # e.g. torch-cuda on a machine without a GPU
        raise BackendUnavailable(f"backend {spec!r} cannot run here: {exc}") from exc
    except Exception as exc:  # the constructor imports the engine: a broken install
        package = PACKAGES.get(spec) or getattr(exc, "name", None)
        engine = f" (package {package!r})" if package else ""
        what = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ImportError):  # the engine (or a library it needs) cannot load
            raise BackendUnavailable(f"backend {spec!r} cannot run here: importing its "
                                     f"engine{engine} failed: {what}") from exc
        raise BackendError(f"backend {spec!r}: starting {cls.__module__}.{cls.__name__}"
                           f"{engine} raised {what}") from exc
    try:
        check_adapter(adapter)
    except TypeError as exc:
        raise BackendError(str(exc)) from exc
    return adapter
