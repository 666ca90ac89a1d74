"""The packages are layers: each imports only from the ones below it (README, "Layout").

Read from the source with `ast`, as tests/reference/test_import_layers.py reads the
reference: an import of a higher layer, at module level or inside a function, fails here with
the file and the line. Optional engines are imported lazily inside functions (an adapter
imports its engine when it is made); those are not project packages and are not checked.
"""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Bottom to top. deviations/ sits above harness/: its files use harness.deviations, and the
# harness loads them by path, never by import.
LAYERS = ("reference", "gradspec", "strategies", "adapters", "harness", "deviations", "suites",
          "conftest", "bench")
RANK = {name: i for i, name in enumerate(LAYERS)}


def _modules(root):
    for layer in LAYERS:
        path = os.path.join(root, layer)
        if os.path.isfile(path + ".py"):
            yield layer, path + ".py"
            continue
        for folder, _, files in os.walk(path):
            for f in files:
                if f.endswith(".py"):
                    yield layer, os.path.join(folder, f)


def _imported(node):
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module.split(".")[0]]
    return []


def upward_imports(root=ROOT):
    found = []
    for layer, path in _modules(root):
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            for package in _imported(node):
                if package in RANK and RANK[package] > RANK[layer]:
                    found.append(f"{os.path.relpath(path, root)}:{node.lineno} ({layer}) "
                                 f"imports {package}, a higher layer")
    return found


def test_each_layer_imports_only_the_ones_below():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    """Meta: a pipeline module importing the harness, inside a function, is reported."""
    (tmp_path / "gradspec").mkdir()
    (tmp_path / "gradspec" / "bad.py").write_text("def f():\n    from harness import check\n")
    assert upward_imports(str(tmp_path)) == [
        "gradspec/bad.py:2 (gradspec) imports harness, a higher layer"]
