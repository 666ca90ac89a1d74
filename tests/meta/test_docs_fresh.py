"""The docs stay true without measuring anything again: README.md stays short, every relative
link of README.md, CONTRIBUTING.md and docs/*.md leads to a file (and heading) that exists, and
each measured table of docs/ (the conformance matrix and its per-op table, the speed table,
the mutant kill table) is the render of the JSON kept beside it and names every backend, suite test, benchmark
workload and mutant there is now. A stale table fails here with the command that rewrites it.

Cheap on purpose: nothing is run, and neither torch nor any other engine is imported."""
import ast
import json
import os
import re

import pytest

from adapters.registry import BUILTIN, adapter_class
from bench import find
from bench import report as speed
from harness import matrix, op_matrix
from tests.mutants import kill

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs")
PAGES = ["README.md", "CONTRIBUTING.md"] + sorted(
    os.path.join("docs", f) for f in os.listdir(DOCS) if f.endswith(".md"))


def _read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def _json(path):
    return json.loads(_read(path))


def test_the_readme_is_short():
    size = os.path.getsize(os.path.join(ROOT, "README.md"))
    assert size < 30_000, f"README.md is {size} bytes: move long sections to docs/ (30,000 at most)"


# ----- links ---------------------------------------------------------------------------------
def _prose(text):
    """`text` without its fenced code blocks (a link-like string in code is no link)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _anchors(text):
    """The anchors GitHub gives `text`'s headings."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", _prose(text), re.M)}


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_leads_somewhere(page):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", _prose(_read(page))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(os.path.join(ROOT, resolved)):
            broken.append(f"{target} (no {resolved})")
        elif anchor and resolved.endswith(".md") and anchor not in _anchors(_read(resolved)):
            broken.append(f"{target} (no heading #{anchor} in {resolved})")
    assert not broken, f"{page}: broken links: " + "; ".join(broken)


# ----- generated tables ----------------------------------------------------------------------
GENERATED = [("docs/matrix.md", "matrix", matrix.RENDER_DOCS, matrix.WRITE_DOCS),
             ("docs/ops-matrix.md", op_matrix.BLOCK, matrix.RENDER_DOCS, matrix.WRITE_DOCS),
             ("docs/speed.md", "speed", speed.RENDER_DOCS, speed.WRITE_DOCS),
             ("docs/kill-table.md", "kill-table", kill.RENDER_DOCS, kill.WRITE_DOCS),
             ("docs/find.md", "find", find.RENDER_DOCS, find.WRITE_DOCS)]


@pytest.mark.parametrize("page,name,render,write", GENERATED)
def test_a_generated_table_names_the_commands_that_rewrite_it(page, name, render, write):
    first = matrix.read_block(os.path.join(ROOT, page), name).splitlines()[0]
    assert first.startswith("_Generated from ") and f"`{render}`" in first \
        and f"`{write}`" in first, f"{page}: the block's first line is {first!r}"


def _fresh(page, name, expected, render):
    actual = matrix.read_block(os.path.join(ROOT, page), name)
    assert actual == expected, (f"{page} is not the render of the JSON beside it (edited by "
                                f"hand, or the renderer changed): run {render}")


def _suite_tests():
    """Every suite test function, as the matrix names them (`test_ops::test_op`)."""
    tests = []
    for name in sorted(os.listdir(os.path.join(ROOT, "suites"))):
        if name.startswith("test_") and name.endswith(".py"):
            tree = ast.parse(_read(os.path.join("suites", name)))
            tests += [f"{name[:-3]}::{n.name}" for n in tree.body
                      if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    return tests


def test_the_matrix_is_fresh():
    data = _json("docs/matrix.json")
    _fresh("docs/matrix.md", "matrix", matrix.docs_block(data), matrix.RENDER_DOCS)
    columns = data["backends"]
    stale = f"docs/matrix.md is stale: run {matrix.WRITE_DOCS}"
    assert columns == list(matrix.DEFAULT_BACKENDS), f"{stale} (the matrix runs other backends)"
    left_out = [b for b in BUILTIN if b not in columns and b not in matrix.NOT_IN_MATRIX]
    assert not left_out, (f"backends of adapters/registry.py neither in the matrix nor in "
                          f"harness/matrix.py's NOT_IN_MATRIX: {left_out}")
    assert set(matrix.NOT_IN_MATRIX) <= set(BUILTIN) - set(columns), "NOT_IN_MATRIX is stale"
    unlabelled = [t for t in _suite_tests() if t not in matrix.LABELS]
    assert not unlabelled, f"suite tests without a row label in harness/matrix.py: {unlabelled}"
    missing = [t for t in matrix.LABELS if t not in data["features"]]
    assert not missing, f"{stale} (suite tests without a row: {missing})"


def test_the_per_op_table_has_a_row_for_every_op():
    """docs/ops-matrix.md is the render of docs/matrix.json's "ops", with a row for each op
    of the vocabulary that suites/test_ops.py::test_op checks, and none for another."""
    from gradspec.vocabulary import SPECS
    from suites.test_ops import OPS  # the vocabulary and hypothesis; no engine
    data = _json("docs/matrix.json")
    _fresh("docs/ops-matrix.md", op_matrix.BLOCK, op_matrix.docs_block(data), matrix.RENDER_DOCS)
    stale = f"docs/ops-matrix.md is stale: run {matrix.WRITE_DOCS}"
    assert set(OPS) <= set(SPECS)
    rows = re.findall(r"^\| `([^`]+)` \|", matrix.read_block(
        os.path.join(ROOT, "docs/ops-matrix.md"), op_matrix.BLOCK), re.M)
    missing = [op for op in SPECS if op in OPS and op not in rows]
    assert not missing, f"{stale} (ops without a row: {missing})"
    gone = [op for op in rows if op not in OPS]
    assert not gone and len(rows) == len(OPS), f"{stale} (rows of ops test_op lacks: {gone})"
    assert rows == sorted(rows, key=matrix.op_key), f"{stale} (rows out of order)"
    uncovered = [op for op in OPS if set(data["ops"].get(op, ())) != set(data["backends"])]
    assert not uncovered, f"{stale} (ops not run on every backend: {uncovered})"


def test_the_speed_table_lists_every_workload():
    data = _json("docs/speed.json")
    expected = speed.expected_workloads(adapter_class("torch")[0])
    _fresh("docs/speed.md", "speed", speed.docs_block(data, expected), speed.RENDER_DOCS)
    table = matrix.read_block(os.path.join(ROOT, "docs/speed.md"), "speed")
    absent = [n for n in expected if f"`{n.split('::')[-1]}`" not in table and n not in table]
    assert not absent, f"docs/speed.md does not name the workloads {absent}"


def _zoo_ids():
    """The ids of tests/mutants/zoo's ZOO, in order, read from its source (importing the zoo
    imports torch: seconds)."""
    zoo = os.path.join("tests", "mutants", "zoo")
    ids = {}
    for name in os.listdir(os.path.join(ROOT, zoo)):
        if name.endswith(".py"):
            for node in ast.walk(ast.parse(_read(os.path.join(zoo, name)))):
                if isinstance(node, ast.ClassDef):
                    ids.update({node.name: s.value.value for s in node.body
                                if isinstance(s, ast.Assign) and ast.unparse(s.targets) == "id"
                                and isinstance(s.value, ast.Constant)})
    tree = ast.parse(_read(os.path.join(zoo, "__init__.py")))
    zoo_tuple = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                     and ast.unparse(n.targets) == "ZOO")
    return [ids[e.id] for e in zoo_tuple.elts]


def test_the_kill_table_has_a_row_for_every_mutant():
    rows = _json("docs/kill-table.json")
    _fresh("docs/kill-table.md", "kill-table", kill.docs_block(rows), kill.RENDER_DOCS)
    ids, have = _zoo_ids(), [r["mutant"] for r in rows]
    missing = [i for i in ids if i not in have]
    assert not missing, (f"docs/kill-table.md has no row for {missing}: run python -m "
                         f"tests.mutants.kill --only {','.join(missing)} --write-docs")
    gone = [i for i in have if i not in ids]
    assert not gone and have == ids, (f"docs/kill-table.md has rows for mutants no longer in "
                                      f"the zoo, or out of order ({gone}): run python -m "
                                      f"tests.mutants.kill --only ID --write-docs")


def test_the_time_to_find_table_is_fresh_and_covers_every_rare_mutant():
    from tests.mutants import zoo
    data = _json("docs/find.json")
    _fresh("docs/find.md", "find", find.docs_block(data), find.RENDER_DOCS)
    _fresh("README.md", "find", find.readme_table(data), find.RENDER_DOCS)
    missing = sorted({m.id for m in zoo.RARE} - set(data["mutants"]))
    assert not missing, f"docs/find.json has no runs of the RARE mutants {missing}"
    from harness.campaign import DEFAULT_MODE  # README says why it is the default
    assert DEFAULT_MODE in data["modes"], data["modes"]
