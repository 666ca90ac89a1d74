"""The per-op table of docs/ops-matrix.md: each backend's result for each op that
suites/test_ops.py::test_op runs, the matrix's "op vocabulary" row cut into its ops.

harness/matrix.py builds the cells from the per-test records (`build`: "ops", op -> backend ->
cell) and keeps them in docs/matrix.json; its --write-docs and --render-docs render this page's
generated block from that JSON with docs/matrix.md's (tests/meta/test_docs_fresh.py checks
that the two agree, and that every op has a row), and a run writes reports/ops-matrix.md.

A cell is compact: ✓ for pass, ≈ for a deviation followed by the deviation ids that are the
op's own, — where the backend does not implement the op, **FAIL** for an unexplained
difference. An id in (nearly) every op a backend ran (jax-zeros-for-unused) is named once under
the table, not in each cell; a backend skipped whole (torch-cuda without a GPU) is no column
but one note.
"""
import os
from collections import Counter

from gradspec.vocabulary import SPECS

from .matrix import RENDER_DOCS, ROOT, WRITE_DOCS, _whole_backend_skip, from_docs, op_key

DOCS_MD = os.path.join(ROOT, "docs", "ops-matrix.md")
BLOCK = "ops"
# A deviation id in at least this share of the ops a backend ran explains the backend, not the
# op: it is named once under the table, for that backend and any other whose cells name it
# (torch-func-compile checks 3 programs an op, so torch-func's zeros-for-unused shows on 57 of
# its ops where torch-func's 60 meet it on all).
WIDE = 0.9
LEGEND = ("✓ pass: every program agreed with the reference. ≈ deviation: every difference was "
          "explained by the backend's stated deviations: the ids after it, and those of the "
          "whole backend named below the table (≈ alone: only those). — the backend does not "
          "implement the op (or, for a multi-output op, lacks the multi_output capability): "
          "skipped. **FAIL**: a difference no stated deviation explains.")


def _counts(matrix, b):
    """How many of the ops backend `b` ran each deviation id explains, and how many it ran."""
    ran = [row[b] for row in matrix["ops"].values()
           if b in row and row[b]["status"] in ("pass", "deviation")]
    return Counter(i for c in ran for i in c.get("deviations", ())), len(ran)


def backend_wide(matrix, columns):
    """For each backend of `columns`: the deviation ids that explain (nearly) every op of some
    backend and show in its cells, {id: ops}, most first; and how many ops it ran."""
    counts = {b: _counts(matrix, b) for b in columns}
    wide = {i for c, ran in counts.values() for i, n in c.items() if n >= WIDE * ran}
    return {b: ({i: n for i, n in c.most_common() if i in wide}, ran)
            for b, (c, ran) in counts.items()}


def _cell(c, wide, usual):
    if c is None:  # no record: the backend did not run the op
        return ""
    n = "" if c["programs"] == usual else f" ({c['programs']})"
    if c["status"] == "pass":
        return "✓" + n
    if c["status"] == "skip":
        return "—"
    if c["status"] == "fail":
        return "**FAIL**" + n
    ids = [i for i in sorted(c["deviations"]) if i not in wide]
    return "≈" + n + (" " + ", ".join(ids) if ids else "")


def markdown(matrix):
    """The per-op table of `matrix` (as `build` or `from_docs` gives it) and its notes."""
    ops = sorted(matrix["ops"], key=op_key)
    whole = {b: _whole_backend_skip(matrix, b) for b in matrix["backends"]}
    columns = [b for b in matrix["backends"] if not whole[b]]
    wide = backend_wide(matrix, columns)
    usual = {}  # the programs a cell of each backend checked (its budget)
    for b in columns:
        counts = Counter(row[b]["programs"] for row in matrix["ops"].values()
                         if b in row and row[b]["status"] != "skip")
        usual[b] = counts.most_common(1)[0][0] if counts else 0
    lines = ["| op | group | " + " | ".join(columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    named, fails = {}, []
    for op in ops:
        row = matrix["ops"][op]
        cells = []
        for b in columns:
            c = row.get(b)
            cells.append(_cell(c, wide[b][0], usual[b]))
            if c and c["status"] == "fail":
                fails.append(f"**FAIL** `{op}` on {b}: {c['detail']}")
            named.update(c.get("deviations", {}) if c else {})
        group = SPECS[op].group if op in SPECS else "?"
        lines.append(f"| `{op}` | {group} | " + " | ".join(cells) + " |")
    notes = [LEGEND, "Programs checked a cell (Hypothesis examples, shrinking included; a "
             "cell that checked another number says it): " + ", ".join(
                 f"{b} {usual[b]}" for b in columns) + "."]
    for b in columns:
        ids, ran = wide[b]
        if ids:
            notes.append(f"{b}, not repeated in its cells: " + ", ".join(
                f"`{i}` ({n} of the {ran} ops it ran)" for i, n in ids.items()) + ".")
    notes += [f"{b} is no column: {reason} (every op skipped)."
              for b, reason in whole.items() if reason]
    notes += fails
    lines += [""] + [f"- {n}" for n in notes]
    if named:
        lines += ["", "The deviations named above:", ""]
        lines += [f"- `{i}`: {reason}" for i, reason in sorted(named.items())]
    return "\n".join(lines) + "\n"


def docs_block(data):
    """docs/ops-matrix.md's generated block: the per-op cells docs/matrix.json keeps."""
    return (f"_Generated from [matrix.json](matrix.json) (its \"ops\"), measured by "
            f"`{data['command']}`; do not edit by hand. Measure again and rewrite: "
            f"`{WRITE_DOCS}`; rewrite from the JSON alone: `{RENDER_DOCS}`._\n\n"
            + markdown(from_docs(data)))
