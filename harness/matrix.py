"""The conformance matrix: run the suites on every backend and write feature × backend.

    python -m harness.matrix                       # every built-in backend, ci profile
    python -m harness.matrix --backends torch,jax --max-examples 20 -n 2
    python -m harness.matrix --backends torch,tensorflow=20  # 20 examples a test for one
    python -m harness.matrix --merge reports/parts/*.json   # parts from several runs/shards
    python -m harness.matrix --backends torch --shard 2/4    # one shard's part only (CI)
    python -m harness.matrix -n 2 --write-docs               # also rewrite docs/matrix.md
    python -m harness.matrix --render-docs                   # docs/matrix.md from its JSON

Writes reports/matrix.json and reports/matrix.md (pass / deviation with reason / skip with
reason / FAIL, and the programs checked). Each backend runs in its own pytest process.
With --write-docs the matrix is also kept in docs/matrix.json, and docs/matrix.md's generated
block is rendered from it (tests/meta/test_docs_fresh.py checks that the two agree, and that
every backend and suite test is there). The JSON also keeps each backend's result for each op
of suites/test_ops.py::test_op[<op>] ("ops"), rendered into docs/ops-matrix.md by
harness/op_matrix.py (reports/ops-matrix.md for a run).
A merge checks that every backend's parts are all the shards of one suite, each once and each
run to the end (and, with --backends, that every named backend is there): anything else is an
error, never a smaller matrix.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

from adapters.registry import BUILTIN
from gradspec.vocabulary import GROUPS, SPECS

from . import shards

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BACKENDS = ("reference", "torch", "torch-cuda", "torch-func", "torch-compile",
                    "torch-func-compile", "mygrad", "tinygrad", "jax", "autograd", "tensorflow",
                    "paddle")
# Examples a test where the ci profile's would not fit CI's budget: a compiling backend checks
# a few programs a second, not hundreds (`python -m bench --backend torch-compile
# --max-examples 4`); JAX and tinygrad compile each new op shape and were CI's two slowest
# columns, and each has twice the ops since the vocabulary doubled, so each checks a sixth of
# the profile's. NAME=N in --backends overrides; campaigns and
# nightly runs use the full profiles.
DEFAULT_BUDGETS = {"torch-compile": 2, "torch-func-compile": 3, "jax": 10, "tinygrad": 10}
# Built-in backends (adapters/registry.py) that are not columns, and why: every other one is
# (tests/meta/test_docs_fresh.py).
NOT_IN_MATRIX = {
    "torch-compile-inductor": "torch-compile with the inductor compiler: slower than "
                              "aot_eager, which the torch-compile column runs",
    "torch-compile-ca": "torch-compile with compiled autograd: slower still (run it with "
                        "--max-examples 5)",
    "torch-compile-inductor-ca": "torch-compile-inductor with compiled autograd: slower still",
}
DOCS_MD = os.path.join(ROOT, "docs", "matrix.md")
DOCS_JSON = os.path.join(ROOT, "docs", "matrix.json")
WRITE_DOCS = "python -m harness.matrix -n 2 --write-docs"
RENDER_DOCS = "python -m harness.matrix --render-docs"
OP_TEST = re.compile(r"suites/test_ops\.py::test_op\[(.+)\]$")  # one op's record

LABELS = {
    "test_ops::test_op": "op vocabulary (one property per op)",
    "test_broadcasting::test_broadcasting_reduces_back": "broadcasting sums back",
    "test_layer_reuse::test_layer_reuse_and_recurrence": "layer reuse and recurrence",
    "test_gradient_weights::test_nonscalar_backward_with_weights": "non-scalar backward with weights",
    "test_gradient_weights::test_several_roots_in_one_backward": "several roots in one backward",
    "test_retain_graph::test_retain_graph_sequences": "retain_graph and the freed graph",
    "test_grad_accumulation::test_accumulation_and_zero_grad": ".grad accumulation and zero_grad",
    "test_custom_functions::test_custom_functions": "custom Functions",
    "test_hooks::test_tensor_hooks": "tensor hooks",
    "test_hooks::test_module_full_backward_hooks": "module full backward hooks",
    "test_graph_control::test_detach_no_grad_retain_grad": "detach, no_grad, retain_grad",
    "test_errors::test_error_behaviour": "error behaviour",
    "test_functional_grad::test_functional_grad": "functional autograd.grad",
    "test_multi_output::test_multi_output_op": "multi-output ops (values/indices, pieces)",
    "test_grad_modes::test_grad_modes": "grad modes (nested, inference_mode, requires_grad_)",
    "test_inplace::test_inplace_ops_and_views": "in-place ops and views (version counter)",
    "test_higher_order::test_gradients_as_values": "higher order: grad of grad, HVP, penalty",
    "test_higher_order::test_backward_create_graph_and_through_grad": "higher order: .grad with create_graph",
    "test_hooks_since::test_post_accumulate_grad_hooks": "post-accumulate-grad hooks (optimizer in backward)",
    "test_hooks_since::test_hooks_on_custom_function_outputs": "hooks on custom Function outputs",
    "test_hooks_since::test_hooks_that_remove_themselves": "hooks removing themselves (handles)",
    "test_hooks_since::test_hooks_removed_by_handle_between_backwards": "hooks removed by handle between backwards",
    "test_functional_api::test_grad_over_a_batch_of_weights": "grad() over a batch of weights (is_grads_batched, vmap)",
    "test_functional_api::test_grad_unused_materialized_and_several_outputs": "grad(): allow_unused, materialize_grads, several outputs",
    "test_functional_api::test_vjp_jacobian_hessian": "autograd.functional vjp/jacobian/hessian",
    "test_worked_examples::test_one_weight_used_twice": "worked: one weight used twice",
    "test_worked_examples::test_one_linear_layer_called_twice": "worked: Linear called twice",
    "test_worked_examples::test_gradient_weights_on_a_vector_output": "worked: 3a+2b²+log c, weights",
    "test_worked_examples::test_two_retained_backwards_double_the_gradients": "worked: two retained backwards",
    "test_worked_examples::test_second_backward_without_retain_graph_fails": "worked: second backward fails",
    "test_worked_examples::test_a_graph_of_additions_can_be_backwarded_twice": "worked: (a+a).sum() twice",
    "test_worked_examples::test_linear_full_backward_hook_shapes": "worked: Linear hook shapes",
    "test_deviations::test_deviation_still_reproduces": "stated deviations still reproduce",
    "test_deviations::test_finding_still_reproduces": "engine bugs' findings still reproduce",
}


def _budget(backend, named, max_examples):
    """Examples a test for `backend`: NAME=N if named; else the smaller of its default budget
    and --max-examples; else --max-examples (None: the profile's)."""
    if backend in named:
        return named[backend]
    default = DEFAULT_BUDGETS.get(backend)
    if default is None or max_examples is None:
        return default or max_examples
    return min(default, max_examples)


class MergeError(Exception):
    pass


def part_name(backend, shard=None):
    index, count = shard or (1, 1)
    return f"{backend}.json" if count == 1 else f"{backend}.{index}-of-{count}.json"


def run_backend(backend, out_dir, workers, max_examples, extra=(), shard=None):
    path = os.path.join(out_dir, "parts", part_name(backend, shard))
    # --allow-unavailable: an engine not installed here (or torch-cuda without a GPU) is a
    # column of "skip: reason" cells, where a plain pytest run would stop with the reason.
    cmd = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:randomly",
           f"--backend={backend}", f"--gradspec-report={path}", "--allow-unavailable"]
    if shard:
        cmd += [f"--shard={shard[0]}/{shard[1]}"]
    if os.path.exists(path):
        os.remove(path)  # a part left by an earlier run must not stand in for this one
    if workers and workers != "0":
        cmd += ["-n", str(workers)]
    if max_examples:
        cmd += [f"--max-examples={max_examples}"]
    cmd += list(extra)
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    tail = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    print(f"  {backend}: {tail}", flush=True)
    if not os.path.exists(path):
        raise SystemExit(f"{backend}: pytest wrote no report (exit {proc.returncode}):\n"
                         f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return path


def _check_shards(backend, parts):
    """`parts` ((path, part) pairs) of `backend` must be every shard of one suite, once each."""
    counts = {p["shard"][1] for _, p in parts}
    if len(counts) > 1:
        raise MergeError(f"{backend}: parts cut into different numbers of shards: " + ", ".join(
            f"{path} ({p['shard'][0]}/{p['shard'][1]})" for path, p in parts))
    count = counts.pop()
    by_index = {}
    for path, p in parts:
        index = p["shard"][0]
        if index in by_index:
            raise MergeError(f"{backend}: shard {index}/{count} appears twice: "
                             f"{by_index[index]} and {path}")
        by_index[index] = path
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise MergeError(
            f"{backend}: shard{'s' * (len(missing) > 1)} "
            f"{', '.join(f'{i}/{count}' for i in missing)} missing (have "
            f"{', '.join(f'{i}/{count}' for i in sorted(by_index))}); merging without "
            f"{'them' if len(missing) > 1 else 'it'} would print a smaller matrix")
    suites = {(p["suite"]["total"], p["suite"]["digest"]) for _, p in parts}
    if len(suites) > 1:
        raise MergeError(f"{backend}: the shards were cut from different suites (another "
                         f"checkout, or other pytest arguments): " + ", ".join(
                             f"{path} ({p['suite']['total']} tests, {p['suite']['digest']})"
                             for path, p in parts))
    total = next(iter(suites))[0]
    if sum(p["selected"] for _, p in parts) != total:  # cannot happen with shards.select
        raise MergeError(f"{backend}: the shards hold {sum(p['selected'] for _, p in parts)} "
                         f"tests, the suite {total}")


def merge(paths, backends=None):
    """Records from several parts. Errors (MergeError): the same (backend, test) twice; a part
    without shard information, or cut short (fewer records than tests in its shard); a backend
    whose parts are not every shard of one suite exactly once; with `backends`, a named
    backend without parts or a part of another backend."""
    if not paths:
        raise MergeError("no parts to merge")
    records, seen, parts = [], {}, {}
    for path in paths:
        with open(path) as f:
            part = json.load(f)
        if not part.get("shard") or not part.get("suite") or part.get("selected") is None:
            raise MergeError(f"{path} does not say which shard of which suite it is (written "
                             f"by an older gradspec, or by a run that did not collect): rerun it")
        if len(part["records"]) != part["selected"]:
            raise MergeError(f"{path}: {len(part['records'])} records for the "
                             f"{part['selected']} suite tests of its shard (the run stopped "
                             f"early?)")
        parts.setdefault(part["backend"], []).append((path, part))
    for backend, its_parts in parts.items():
        _check_shards(backend, its_parts)
        for path, part in its_parts:
            for r in part["records"]:
                key = (r["backend"], r["test"])
                if key in seen:
                    raise MergeError(f"{r['test']} on {r['backend']} appears in both "
                                     f"{seen[key]} and {path}")
                seen[key] = path
                records.append(r)
    if backends is not None:
        missing = [b for b in backends if b not in parts]
        extra = [b for b in parts if b not in backends]
        if missing or extra:
            raise MergeError("the parts do not match --backends: " + "; ".join(
                ([f"no part for {', '.join(missing)}"] if missing else []) +
                ([f"parts of unlisted {', '.join(extra)}"] if extra else [])))
    order = list(backends) if backends is not None else list(parts)
    return sorted(records, key=lambda r: (order.index(r["backend"]), r["test"]))


def cell(records):
    statuses = [r["status"] for r in records]
    programs = sum(r["programs"] for r in records)
    deviations = {}
    for r in records:
        deviations.update(r["deviations"])
    if "fail" in statuses:
        return {"status": "fail", "programs": programs, "detail":
                f"{statuses.count('fail')}/{len(records)} failed: " +
                next(r["detail"] for r in records if r["status"] == "fail")}
    if all(s == "skip" for s in statuses):
        return {"status": "skip", "programs": 0, "detail": records[0]["detail"]}
    skipped = statuses.count("skip")
    return {"status": "deviation" if deviations else "pass", "programs": programs,
            "deviations": deviations,
            "detail": f"{skipped} of {len(records)} cases skipped" if skipped else ""}


def build(records):
    backends = list(dict.fromkeys(r["backend"] for r in records))
    features = sorted({r["feature"] for r in records},
                      key=lambda f: (list(LABELS).index(f) if f in LABELS else len(LABELS), f))
    cells = {f: {b: cell([r for r in records if r["feature"] == f and r["backend"] == b])
                 for b in backends if any(r["feature"] == f and r["backend"] == b
                                          for r in records)}
             for f in features}
    ops = {}
    for r in records:
        op = OP_TEST.match(r["test"])
        if op:
            ops.setdefault(op.group(1), {})[r["backend"]] = cell([r])
    return {"backends": backends, "features": features, "cells": cells,
            "ops": {op: ops[op] for op in sorted(ops, key=op_key)}, "records": records}


def op_key(op):
    """The per-op rows' order: the vocabulary's group, then the name (ops it lacks last)."""
    return (GROUPS.index(SPECS[op].group) if op in SPECS else len(GROUPS), op)


def _whole_backend_skip(matrix, b):
    """The reason every feature of backend `b` was skipped (not installed, no GPU), if so."""
    details = [c["detail"] for row in matrix["cells"].values() for bb, c in row.items()
               if bb == b and c["status"] == "skip"]
    statuses = {c["status"] for row in matrix["cells"].values() for bb, c in row.items()
                if bb == b}
    # The most common reason ("no CUDA device"; a row with nothing to run says "none stated").
    return max(set(details), key=details.count) if statuses == {"skip"} and details else None


def markdown(matrix):
    backends = matrix["backends"]
    lines = ["| feature | " + " | ".join(backends) + " |",
             "|---|" + "---|" * len(backends)]
    notes = {}
    whole = {b: _whole_backend_skip(matrix, b) for b in backends}
    for f in matrix["features"]:
        row = []
        for b in backends:
            c = matrix["cells"][f].get(b)
            if c is None:
                row.append("")
            elif whole[b]:
                row.append("skip ²")
                notes[f"² {b}: {whole[b]}"] = 1
            elif c["status"] == "pass":
                row.append(f"pass ({c['programs']})" + (" ¹" if c["detail"] else ""))
                if c["detail"]:
                    notes.setdefault("¹ some parametrized cases skipped (ops the backend lacks)", 1)
            elif c["status"] == "deviation":
                ids = ", ".join(sorted(c["deviations"]))
                row.append(f"deviation ({c['programs']}): {ids}")
                for k, v in c["deviations"].items():
                    notes[f"`{k}`: {v}"] = 1
            elif c["status"] == "skip":
                detail = c["detail"]
                if "empty parameter set" in detail:
                    detail = "none stated"
                row.append(f"skip: {detail}")
            else:
                row.append(f"**FAIL** ({c['detail']})")
        lines.append(f"| {LABELS.get(f, f)} | " + " | ".join(row) + " |")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    lines += ["", "Numbers are programs checked (Hypothesis examples, shrinking included)."]
    return "\n".join(lines) + "\n"


# ----- generated blocks of docs/*.md ---------------------------------------------------------
# A measured table lives in a docs/ page between two markers, rendered from the JSON beside it
# by the tool that measures it (this module, bench/report.py, tests/mutants/kill.py); the
# hand-written text around the block is kept.
def markers(name):
    return f"<!-- generated:{name} start -->", f"<!-- generated:{name} end -->"


def _parts(path, name):
    """`path`'s text before, inside and after its generated block `name`."""
    start, end = markers(name)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if start not in text or end not in text:
        raise ValueError(f"{path} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    return (head, *rest.split(end, 1))


def read_block(path, name):
    """The generated block `name` of the Markdown file `path`, between its markers."""
    return _parts(path, name)[1].strip("\n") + "\n"


def write_block(path, name, body):
    """Replace the generated block `name` of `path` with `body`, keeping the text around it."""
    head, _, tail = _parts(path, name)
    start, end = markers(name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{head}{start}\n{body.strip()}\n{end}{tail}")


def write_json(path, data, rows=None):
    """`data` as JSON; the entries of its mapping `data[rows]`, if named, one a line."""
    if rows is None:
        text = json.dumps(data, indent=1, ensure_ascii=False)
    else:  # each entry stands in as "\u0000<i>" (no JSON text holds it), then is put back
        lines = [json.dumps(v, ensure_ascii=False) for v in data[rows].values()]
        text = re.sub(r'"\\u0000(\d+)"', lambda m: lines[int(m.group(1))], json.dumps(
            {**data, rows: {k: f"\0{i}" for i, k in enumerate(data[rows])}}, indent=1,
            ensure_ascii=False))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


def docs_data(matrix, command):
    """What docs/matrix.json keeps of `matrix`: its cells (not the per-test records), each
    deviation's reason once (`reasons`) and the cells naming their deviations' ids; and the
    per-op cells ("ops": op -> backend -> cell) with status, programs, deviation ids (and a
    failure's detail) only."""
    reasons, cells, ops = {}, {}, {}
    for f, row in matrix["cells"].items():
        cells[f] = {}
        for b, c in row.items():
            reasons.update(c.get("deviations", {}))
            cells[f][b] = {k: list(v) if k == "deviations" else v for k, v in c.items()}
    for op, row in matrix["ops"].items():
        ops[op] = {}
        for b, c in row.items():
            reasons.update(c.get("deviations", {}))
            ops[op][b] = {"status": c["status"], "programs": c["programs"]}
            if c.get("deviations"):
                ops[op][b]["deviations"] = sorted(c["deviations"])
            if c["status"] == "fail":
                ops[op][b]["detail"] = c["detail"]
    return {"command": command, "backends": matrix["backends"],
            "features": matrix["features"], "reasons": reasons, "cells": cells, "ops": ops}


def from_docs(data):
    """The matrix (as `build` gives it, without records) that docs/matrix.json keeps."""
    def expand(rows):
        return {f: {b: {k: {i: data["reasons"][i] for i in v} if k == "deviations" else v
                        for k, v in c.items()} for b, c in row.items()}
                for f, row in rows.items()}
    return {"backends": data["backends"], "features": data["features"],
            "cells": expand(data["cells"]), "ops": expand(data.get("ops", {}))}


def docs_block(data):
    """docs/matrix.md's generated block: the matrix docs/matrix.json keeps (`data`)."""
    return (f"_Generated from [matrix.json](matrix.json), measured by `{data['command']}`; do "
            f"not edit by hand. Measure again and rewrite: `{WRITE_DOCS}`; rewrite from the "
            f"JSON alone: `{RENDER_DOCS}`._\n\n" + markdown(from_docs(data)))


def write_docs(matrix, command):
    """Keep `matrix` in docs/matrix.json and render docs/matrix.md's block (and
    docs/ops-matrix.md's) from it."""
    data = docs_data(matrix, command)
    write_json(DOCS_JSON, data, rows="ops")
    _write_blocks(data)


def render_docs():
    with open(DOCS_JSON, encoding="utf-8") as f:
        _write_blocks(json.load(f))


def _write_blocks(data):
    from . import op_matrix  # it renders with this module's helpers
    write_block(DOCS_MD, "matrix", docs_block(data))
    write_block(op_matrix.DOCS_MD, op_matrix.BLOCK, op_matrix.docs_block(data))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default=None,
                   help=f"comma-separated (default {','.join(DEFAULT_BACKENDS)}), each "
                        f"optionally NAME=N: N examples a test for that one (a slow engine's "
                        f"budget); with --merge, the backends the parts must cover exactly")
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("-n", "--workers", default="2")
    p.add_argument("--out", default=os.path.join(ROOT, "reports"))
    p.add_argument("--merge", nargs="+", metavar="PART", help="merge these parts, run nothing")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run shard I of N of each backend's suites and write its part only "
                        "(reports/parts/BACKEND.I-of-N.json); merge all shards with --merge")
    p.add_argument("--write-docs", action="store_true",
                   help="also keep the matrix in docs/matrix.json and rewrite docs/matrix.md's "
                        "and docs/ops-matrix.md's tables from it")
    p.add_argument("--render-docs", action="store_true",
                   help="run nothing: rewrite docs/matrix.md's and docs/ops-matrix.md's "
                        "tables from docs/matrix.json")
    args = p.parse_args(argv)
    if args.render_docs:
        render_docs()
        print(f"rewrote {os.path.relpath(DOCS_MD)} and its per-op page from "
              f"{os.path.relpath(DOCS_JSON)}")
        return 0
    budgets = {}
    backends = None
    if args.backends is not None:
        backends = []
        for entry in (b.strip() for b in args.backends.split(",")):
            if not entry:
                continue
            name, _, n = entry.partition("=")
            if n:
                if not n.isdigit() or int(n) < 1:
                    p.error(f"--backends {entry}: N must be a positive integer")
                budgets[name] = int(n)
            backends.append(name)
    if args.merge:
        if args.shard:
            p.error("--shard runs one shard; --merge merges parts: use one or the other")
        paths = []
        for pattern in args.merge:
            found = sorted(glob.glob(pattern))
            if not found:
                p.error(f"--merge {pattern}: no such part")
            paths += found
    else:
        if args.write_docs and backends not in (None, list(DEFAULT_BACKENDS)):
            p.error("--write-docs keeps the whole matrix: every backend, no --backends")
        backends = backends or list(DEFAULT_BACKENDS)
        unknown = [b for b in backends if b not in BUILTIN and ":" not in b]
        if unknown:
            p.error(f"unknown backends: {', '.join(unknown)} (known: {', '.join(BUILTIN)})")
        shard = None
        if args.shard:
            try:
                shard = shards.parse(args.shard)
            except shards.ShardError as exc:
                p.error(str(exc))
        paths = [run_backend(b, args.out, args.workers, _budget(b, budgets, args.max_examples),
                             shard=shard) for b in backends]
        if shard and shard[1] > 1:
            print(f"wrote {', '.join(paths)}; merge every shard's parts with "
                  f"python -m harness.matrix --merge {args.out}/parts/*.json")
            return 0
    try:
        matrix = build(merge(paths, backends))
    except MergeError as exc:
        print(f"harness.matrix: {exc}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "matrix.json"), "w") as f:
        json.dump(matrix, f, indent=1)
    md = markdown(matrix)
    with open(os.path.join(args.out, "matrix.md"), "w") as f:
        f.write(md)
    if matrix.get("ops"):  # parts with test_op's records: its per-op table too
        from . import op_matrix
        with open(os.path.join(args.out, "ops-matrix.md"), "w", encoding="utf-8") as f:
            f.write(op_matrix.markdown(matrix))
    print(md)
    if args.write_docs:
        if matrix["backends"] != list(DEFAULT_BACKENDS):
            print(f"harness.matrix: docs/matrix.md not rewritten: it holds every backend of "
                  f"the matrix ({', '.join(DEFAULT_BACKENDS)}), in that order", file=sys.stderr)
            return 2
        write_docs(matrix, " ".join(["python -m harness.matrix"] + [
            a for a in (sys.argv[1:] if argv is None else argv) if a != "--write-docs"]))
    return 1 if any(c["status"] == "fail" for row in matrix["cells"].values()
                    for c in row.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
