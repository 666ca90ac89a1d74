"""Ops as code templates: the same text is executed in-process and printed in repro scripts.

An adapter for an engine with a Python API maps each op name to a template (a format string
over `{0}`, `{1}`, `{args}` and the op's params, or a function `(args, params) -> str`). Each
distinct (op, params) is compiled once into a lambda, so running it costs one call; and the
script a user gets on failure contains exactly the code that ran.

A template wrapped in `Statement` is a statement (`{0}[{index}] = {1}`), which a lambda cannot
hold: it compiles into a function that runs it and returns its target, the first operand.
"""
from gradspec.vocabulary import Statement, index_source
from gradspec.vocabulary.params import literal, target_literal

__all__ = ["Statement", "TemplateOps", "literal", "target_literal", "first_line_source"]


def first_line_source(name):
    """Source of an expression for exception `name`'s first line of message, or its type's
    name when the message is empty (a bare `assert False`): what a repro script prints after
    'error:' (gradspec.trace.first_line, in the script)."""
    return f"next((_l for _l in str({name}).splitlines() if _l.strip()), type({name}).__name__)"


class TemplateOps:
    def __init__(self, templates, namespace):
        self.templates = templates
        self.namespace = namespace
        self._compiled = {}

    def source(self, name, arg_sources, params):
        """The code of one op application, args given as source strings."""
        template = self.templates[name]
        if isinstance(template, Statement):
            template = template.template
        if callable(template):
            return template(arg_sources, params)
        fields = {k: (index_source(v) if k == "index" else literal(v)) for k, v in params.items()}
        return template.format(*arg_sources, args=", ".join(arg_sources), **fields)

    def __call__(self, name, *args, **params):
        return self.prepare(name, len(args), params)(*args)

    def prepare(self, name, n_args, params):
        """The compiled function of one op application (compiled now if it is new): a
        compiler tracing the program (torch.compile) then meets the same code whether or not
        an earlier program used the op, instead of an `eval` it breaks its graph on."""
        key = (name, n_args, tuple(sorted(params.items())))
        fn = self._compiled.get(key)
        if fn is None:
            fn = self._compiled[key] = self._compile(name, n_args, params)
        return fn

    def _compile(self, name, n_args, params):
        """`lambda _0, _1: <code>`; for a Statement, `def _f(_0, _1):` with the statement,
        then `return _0`: the call returns the target it modified, as an in-place method does."""
        names = [f"_{i}" for i in range(n_args)]
        line = self.source(name, names, params)
        if not isinstance(self.templates[name], Statement):
            return eval(f"lambda {', '.join(names)}: {line}", self.namespace)  # noqa: S307
        code = f"def _f({', '.join(names)}):\n    {line}\n    return _0"
        defined = {}
        exec(code, self.namespace, defined)  # noqa: S102 - our templates
        return defined["_f"]
