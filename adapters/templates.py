"""Ops as code templates: the same text is executed in-process and printed in repro scripts.

An adapter for an engine with a Python API maps each op name to a template (a format string
over `{0}`, `{1}`, `{args}` and the op's params, or a function `(args, params) -> str`). Each
distinct (op, params) is compiled once into a lambda, so running it costs one call; and the
script a user gets on failure contains exactly the code that ran.
"""
from gradspec.vocabulary import index_source


def literal(value):
    """Python source for a param value (tuples of bools/ints become lists for tensor())."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple) and value and isinstance(value[0], (tuple, bool, float)):
        return repr(_lists(value))
    return repr(value)


def target_literal(params):
    """A cross_entropy target as source: a list of class indices (batched) or one index."""
    target = params["target"]
    return repr(list(target) if isinstance(target, tuple) else target)


def _lists(v):
    return [_lists(x) for x in v] if isinstance(v, tuple) else v


class TemplateOps:
    def __init__(self, templates, namespace):
        self.templates = templates
        self.namespace = namespace
        self._compiled = {}

    def source(self, name, arg_sources, params):
        """The code of one op application, args given as source strings."""
        template = self.templates[name]
        if callable(template):
            return template(arg_sources, params)
        fields = {k: (index_source(v) if k == "index" else literal(v)) for k, v in params.items()}
        return template.format(*arg_sources, args=", ".join(arg_sources), **fields)

    def __call__(self, name, *args, **params):
        key = (name, len(args), tuple(sorted(params.items())))
        fn = self._compiled.get(key)
        if fn is None:
            names = [f"_{i}" for i in range(len(args))]
            code = f"lambda {', '.join(names)}: {self.source(name, names, params)}"
            fn = self._compiled[key] = eval(code, self.namespace)  # noqa: S307 - our templates
        return fn(*args)
