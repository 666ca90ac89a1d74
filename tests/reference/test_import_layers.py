"""reference/ imports one way: each module only from modules below it.

The order, bottom up: errors, grad_mode, rounding, hooks -> tensor (data and grad fields, no
ops) -> graph (nodes, `record`) -> ops/_core -> ops modules (shape, elementwise, reduction,
linalg, losses, multi: each from lower ones only) -> engine -> inplace -> _methods (binds
operators and methods onto Tensor, once everything exists) -> function, functional, nn,
autograd -> the package's __init__.

Checked on the source with `ast`: no cycle among reference modules, no import of a reference
module inside a function (the usual way to hide a cycle), no import of one after the module's
first statement (the other way), and nothing from the suite's own packages above the oracle.
"""
import ast
import pathlib

import pytest

import reference
import reference.ops

ROOT = pathlib.Path(reference.__file__).parent
PACKAGE = "reference"
ABOVE = {"gradspec", "adapters", "strategies", "suites", "tests"}  # the suite, above the oracle


def _module_name(path):
    parts = (PACKAGE,) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imported(node, module):
    """The modules an import statement in `module` names (absolute dotted names)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level == 0:
        base = node.module
    else:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        package = ".".join(package.split(".")[:len(package.split(".")) - (node.level - 1)])
        base = f"{package}.{node.module}" if node.module else package
    # `from P import x`: x is a module when there is one by that name, else a name in P.
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
    return subs if subs and len(subs) == len(node.names) else [base] + subs


def _imports(module):
    """(imported module, line, where) for every import statement in `module`; `where` is
    'function' inside a def or lambda, 'late' at module level after the first statement that
    is not an import (the docstring aside), else 'top'."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and in_function:
                found.extend((name, child.lineno, "function") for name in _imported(child, module))
            visit(child, inner)

    visit(tree, False)
    code_started = False
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            where = "late" if code_started else "top"
            found.extend((name, stmt.lineno, where) for name in _imported(stmt, module))
        elif not (i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            code_started = True
    return found


def _is_reference(name):
    return name == PACKAGE or name.startswith(PACKAGE + ".")


GRAPH = {m: sorted({n for n, _, _ in _imports(m) if n in MODULES and n != m}) for m in MODULES}


def test_every_reference_module_is_seen():
    assert {"reference.tensor", "reference.graph", "reference.engine",
            "reference.ops.elementwise", "reference.ops.shape"} <= set(MODULES)


def test_no_import_cycle():
    """Depth-first search; a back edge is a cycle, reported as the chain of modules."""
    state, stack = {}, []

    def walk(m):
        state[m] = "open"
        stack.append(m)
        for n in GRAPH[m]:
            if state.get(n) == "open":
                cycle = stack[stack.index(n):] + [n]
                pytest.fail("import cycle in reference/: " + " -> ".join(cycle))
            if n not in state:
                walk(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(MODULES):
        if m not in state:
            walk(m)


def test_no_reference_import_inside_a_function_or_below_code():
    bad = [f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {name} ({where})"
           for m in MODULES for name, line, where in _imports(m)
           if where != "top" and _is_reference(name)]
    assert not bad, "reference/ imports that dodge the layer order:\n" + "\n".join(bad)


def test_nothing_from_the_suite_above():
    bad = [f"{MODULES[m].relative_to(ROOT.parent)}:{line} imports {name}"
           for m in MODULES for name, line, _ in _imports(m) if name.split(".")[0] in ABOVE]
    assert not bad, "the oracle imports the suite it judges:\n" + "\n".join(bad)


def test_ops_exports_are_derived_from_the_op_modules():
    """reference.ops exports the concatenation of its modules' `__all__`, each name once,
    each defined in the module that lists it (not re-exported from a lower one)."""
    modules = [m for m in MODULES if m.startswith("reference.ops.") and
               not m.rpartition(".")[2].startswith("_")]
    names = []
    for m in modules:
        mod = __import__(m, fromlist=["__all__"])
        for name in mod.__all__:
            assert getattr(mod, name).__module__ == m, f"{m} lists {name}, defined elsewhere"
        names += mod.__all__
    assert len(names) == len(set(names)), "an op name is listed by two modules"
    assert sorted(reference.ops.__all__) == sorted(names)
