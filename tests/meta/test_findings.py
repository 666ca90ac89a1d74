"""Engine bugs the suite found: each kept as a stated deviation and as a standalone script
(findings/<engine>/<id>.py) that exits 1 while the bug reproduces. The scripts themselves run
in suites/test_deviations.py (test_finding_still_reproduces); here, what holds without an
engine: every finding is named by a deviation of its engine and stands alone."""
import ast
import glob
import os

import pytest

from harness.deviations import load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = sorted(os.path.relpath(p, ROOT).replace(os.sep, "/")
                 for p in glob.glob(os.path.join(ROOT, "findings", "*", "*.py")))
OURS = {"gradspec", "adapters", "reference", "deviations", "strategies", "suites", "tests"}


def _findings(engine):
    return {d.finding: d.id for d in load(engine) if d.finding}


def test_there_are_findings():
    assert SCRIPTS, "findings/ holds no script"


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_finding_is_named_by_one_deviation_of_its_engine(script):
    engine = script.split("/")[1]
    named = _findings(engine)
    assert script in named, f"{script}: no deviation in deviations/{engine}.py names it"


@pytest.mark.parametrize("engine", ["torch", "torch-compile", "torch-func-compile", "tinygrad",
                                    "jax", "autograd", "mygrad", "paddle", "tensorflow"])
def test_each_named_finding_exists(engine):
    # torch-compile drives backward eagerly: eager torch's bugs are its own too.
    homes = ("torch", engine) if engine.startswith("torch-") else (engine,)
    for path, deviation in _findings(engine).items():
        assert path.split("/")[1] in homes and path.startswith("findings/") and os.path.isfile(
            os.path.join(ROOT, path)), f"{deviation}: finding {path} is missing or misplaced"


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_finding_stands_alone(script):
    """Sent upstream as it is: the engine's own API, nothing of this project, and a header
    saying what is wrong, on which versions, and how to run it."""
    tree = ast.parse(open(os.path.join(ROOT, script)).read())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & OURS, f"{script} imports {sorted(imported & OURS)}"
    doc = ast.get_docstring(tree) or ""
    for needed in ("Expected", "Actual", "Reproduces on", "exits 1"):
        assert needed in doc, f"{script}: its docstring does not say {needed!r}"


@pytest.mark.parametrize("script", SCRIPTS)
def test_readme_lists_each_finding(script):
    engine = script.split("/")[1]
    deviation = _findings(engine).get(script)
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        table = f.read().split("## Findings", 1)[1].split("\n## ", 1)[0]
    assert f"| {engine} | `{deviation}` |" in table, \
        f"README's Findings table has no row for {deviation} ({script})"
