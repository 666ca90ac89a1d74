"""The kill report: the ci suites against every mutant of the zoo, one process per mutant.

    python -m tests.mutants.kill [--jobs 2] [--json reports/kills.json] [--only ID,...]
                                 [--no-shrink] [--markdown PATH] [--write-docs]
    python -m tests.mutants.kill --render-docs

Each mutant (tests/mutants/zoo/) runs in a worker of a pool of `--jobs` processes, which
calls the suites' own Hypothesis tests in process under the `ci` profile, its expected killers
first, and stops at the first failing program (then shrinks it, unless --no-shrink). The
table gives, per mutant: killed or survived, the suite test that killed it, the programs
checked and the seconds until the first failure, and the shrunk counterexample. The exit
status is 0 only if every mutant was killed: a survivor is a gap in the suite. `--only` also
takes the ids of zoo.RARE, whose mutants the `ci` profile should miss (a survivor there is
what the list claims).

The table in docs/kill-table.md is rendered from docs/kill-table.json, one row a mutant of the
zoo: --write-docs puts this run's rows there (replacing those of the mutants it ran, so
`--only ID --write-docs` measures one mutant again) and rewrites the table; --render-docs
rewrites it from the JSON, running nothing. tests/meta/test_docs_fresh.py checks that the
two agree and that every mutant of the zoo has its row.
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS_MD = os.path.join(ROOT, "docs", "kill-table.md")
DOCS_JSON = os.path.join(ROOT, "docs", "kill-table.json")
WRITE_DOCS = "python -m tests.mutants.kill --jobs 2 --write-docs"
RENDER_DOCS = "python -m tests.mutants.kill --render-docs"


def _init_worker():
    import warnings

    import torch
    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    # As pyproject.toml filters it under pytest: expected whenever a hooked module's inputs
    # need no grad (both engines warn alike).
    warnings.filterwarnings("ignore", "Full backward hook is firing")


def _run(mutant_id, shrink):
    from tests.mutants import runner, zoo
    result = runner.run_mutant(zoo.BY_ID[mutant_id], shrink=shrink).as_dict()
    result["shrunk_compact"] = compact_source(result["shrunk"]) if result["shrunk"] else ""
    return result


# ----- a shrunk program on one line, for the table -------------------------------------------
def _fmt_params(params):
    return "".join(f", {k}={v!r}" for k, v in params)


def _weight(w):
    if w is None:
        return ""
    if isinstance(w, tuple):
        import numpy as np
        return f", w:{np.array(w).shape}"
    return f", w={w}"


def compact(program):
    """`program` on one line: leaves, layers, custom Functions, steps, plan."""
    from gradspec import program as P
    parts = []
    for leaf in program.leaves:
        parts.append(f"{leaf.name}{list(leaf.shape)}" + ("" if leaf.requires_grad else "(const)"))
    for layer in program.layers:
        kind = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}[layer.kind]
        parts.append(f"{layer.name}={kind}({layer.in_features},{layer.out_features}"
                     + ("" if layer.bias else ",bias=False") + ")")
    for spec in program.functions:
        fwd = ",".join(e[0] for e in spec.forward)
        flags = ("" if spec.materialize_grads else ",no-materialize") + (
            ",non-diff" if spec.non_differentiable else "")
        parts.append(f"{spec.name}=Function({fwd}{flags})")
    for s in program.steps:
        if isinstance(s, P.Op):
            parts.append(f"{s.out}={s.op}({','.join(s.args)}{_fmt_params(s.params)})"
                         + (f" [{' > '.join(s.contexts)}]" if s.contexts else ""))
        elif isinstance(s, P.MultiOp):
            parts.append(f"{','.join(s.outs)}={s.op}({','.join(s.args)}"
                         f"{_fmt_params(s.params)})")
        elif isinstance(s, P.InPlace):
            parts.append(f"{s.target}.{s.op}({','.join(s.args)}{_fmt_params(s.params)})")
        elif isinstance(s, P.Call):
            parts.append(f"{','.join(s.outs)}={s.layer}({','.join(str(a) for a in s.args)})")
        elif isinstance(s, P.CallFunction):
            parts.append(f"{','.join(s.outs)}={s.function}({','.join(s.args)})")
        elif isinstance(s, P.Detach):
            parts.append(f"{s.out}=detach({s.src})")
        elif isinstance(s, P.RetainGrad):
            parts.append(f"retain_grad({s.target})")
        elif isinstance(s, P.RequiresGrad):
            parts.append(f"{s.target}.requires_grad_({s.flag})")
        elif isinstance(s, P.GradStep):
            ws = "".join(_weight(w) for w in s.weights)
            parts.append(f"{','.join(s.outs)}=grad({','.join(s.outputs)} wrt "
                         f"{','.join(s.inputs)}{ws}, create_graph)")
        elif isinstance(s, P.TensorHook):
            parts.append(f"hook({s.target}" + ("" if s.scale is None else f", x{s.scale}")
                         + (", removes itself" if s.once else "") + ")")
        elif isinstance(s, P.PostAccumulateHook):
            parts.append(f"post_accumulate_hook({s.target}"
                         + ("" if s.lr is None else f", step lr={s.lr}")
                         + (", grad=None" if s.clear else "") + ")")
        elif isinstance(s, P.ModuleHook):
            parts.append(f"module_hook({s.layer}"
                         + ("" if s.scale is None else f", x{s.scale}") + ")")
    for a in program.plan:
        if isinstance(a, P.Backward):
            ws = "".join(_weight(w) for w in a.weights)
            rg = "" if a.retain_graph is None else f", retain_graph={a.retain_graph}"
            cg = ", create_graph" if a.create_graph else ""
            parts.append(f"backward({','.join(a.roots)}{ws}{rg}{cg})")
        elif isinstance(a, P.BackwardThroughGrad):
            ws = "".join(_weight(w) for w in a.weights)
            parts.append(f"backward({','.join(n + '.grad' for n in a.leaves)}{ws})")
        elif isinstance(a, P.Grad):
            ws = "".join(_weight(w) for w in a.weights)
            parts.append(f"grad({','.join(a.outputs)} wrt {','.join(a.inputs)}{ws}"
                         + (", allow_unused" if a.allow_unused else "")
                         + (", materialize_grads" if a.materialize_grads else "") + ")")
        elif isinstance(a, P.Functional):
            parts.append(f"{a.kind}({a.output} of {','.join(a.inputs)}"
                         + ("" if a.weight is None else _weight(a.weight)) + ")")
        elif isinstance(a, P.ZeroGrad):
            parts.append("zero_grad(" + ("" if a.set_to_none else "set_to_none=False") + ")")
    return "; ".join(parts)


def compact_source(source):
    from gradspec.program import Program
    return compact(Program.from_source(source))


# ----- the table -----------------------------------------------------------------------------
def counterexample(result):
    """The shrunk counterexample as a Markdown table cell."""
    if "counterexample" in result:  # a row of docs/kill-table.json
        return result["counterexample"]
    return f"`{result['shrunk_compact']}`".replace("|", "\\|") if result["shrunk_compact"] else ""


def table(results):
    lines = ["| # | mutant | area | result | killed by | examples | s to 1st failure | "
             "shrunk counterexample |", "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(results, 1):
        status = "killed" if r["killed"] else ("ERROR" if r["error"] else "**SURVIVED**")
        by = r["killed_by"] + ("" if r["expected_killer"] or not r["killed"] else " (unexpected)")
        prog = counterexample(r)
        lines.append(f"| {i} | `{r['mutant']}` | {r['area']} | {status} | {by or '-'} | "
                     f"{r['examples']} | {r['seconds']:.2f} | {prog} |" if r["killed"] else
                     f"| {i} | `{r['mutant']}` | {r['area']} | {status} | - | "
                     f"{r['examples']} | - | {r['error'][:200]} |")
    return "\n".join(lines)


def summary(results, wall=None):
    killed = [r for r in results if r["killed"]]
    times = sorted(r["seconds"] for r in killed)
    lines = [f"killed {len(killed)}/{len(results)} "
             f"({100 * len(killed) / max(1, len(results)):.0f}%)"]
    if times:
        lines.append(f"time to the first failure: median {statistics.median(times):.2f} s, "
                     f"slowest {times[-1]:.2f} s "
                     f"({max(killed, key=lambda r: r['seconds'])['mutant']})")
        examples = sorted(r["examples"] for r in killed)
        lines.append(f"programs to the first failure: median {statistics.median(examples):g}, "
                     f"most {examples[-1]}")
    if wall is not None:
        lines.append(f"wall time {wall:.1f} s")
    survivors = [r["mutant"] for r in results if not r["killed"]]
    if survivors:
        lines.append("SURVIVED (gaps in the suite): " + ", ".join(survivors))
    return "\n".join(lines)


# ----- docs/kill-table.md ---------------------------------------------------------------------
DOCS_KEYS = ("mutant", "area", "killed", "killed_by", "expected_killer", "examples", "seconds")


def docs_rows(stored, results, ids):
    """docs/kill-table.json's rows: `results` (this run's) replacing the `stored` rows of the
    mutants they ran, in the zoo's order (`ids`); a mutant no longer in the zoo is dropped."""
    rows = {r["mutant"]: r for r in stored}
    for r in results:
        rows[r["mutant"]] = {**{k: r[k] for k in DOCS_KEYS},
                             "counterexample": counterexample(r), "error": r["error"][:200]}
    return [rows[i] for i in ids if i in rows]


def docs_block(rows):
    """docs/kill-table.md's generated block: the table of `rows` and its summary."""
    return (f"_Generated from [kill-table.json](kill-table.json) by `python -m "
            f"tests.mutants.kill`; do not edit by hand. Measure every mutant again and rewrite: "
            f"`{WRITE_DOCS}` (some mutants: `--only ID,... --write-docs`); rewrite from the JSON "
            f"alone: `{RENDER_DOCS}`._\n\n" + table(rows) + "\n\n"
            + summary(rows).replace("\n", "  \n") + "\n")


def write_docs(rows):
    from harness.matrix import write_block, write_json
    if rows is not None:
        write_json(DOCS_JSON, rows)
    else:
        with open(DOCS_JSON, encoding="utf-8") as f:
            rows = json.load(f)
    write_block(DOCS_MD, "kill-table", docs_block(rows))
    print(f"written: {os.path.relpath(DOCS_MD)} (from {os.path.relpath(DOCS_JSON)})",
          file=sys.stderr)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.mutants.kill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--json", metavar="PATH", help="write every result as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the table as Markdown")
    parser.add_argument("--only", metavar="ID,...",
                        help="only these mutant ids (those of zoo.RARE too)")
    parser.add_argument("--no-shrink", action="store_true",
                        help="report the first failing program as found (faster)")
    parser.add_argument("--write-docs", action="store_true",
                        help="put this run's rows in docs/kill-table.json (replacing those of "
                             "the mutants it ran) and rewrite docs/kill-table.md's table")
    parser.add_argument("--render-docs", action="store_true",
                        help="run nothing: rewrite docs/kill-table.md's table from its JSON")
    args = parser.parse_args(argv)
    if args.render_docs:
        write_docs(None)
        return 0
    from tests.mutants import zoo
    ids = [m.id for m in zoo.ZOO]
    if args.only:  # any mutant's id, RARE's included
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - set(zoo.BY_ID))
        if unknown:
            parser.error(f"unknown mutant ids: {', '.join(unknown)}")
        ids = [i for i in zoo.BY_ID if i in wanted]
    start = time.perf_counter()
    results = {}
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx,
                                                initializer=_init_worker) as pool:
        futures = {pool.submit(_run, i, not args.no_shrink): i for i in ids}
        for future in concurrent.futures.as_completed(futures):
            r = results[futures[future]] = future.result()
            state = f"killed by {r['killed_by']} after {r['examples']} programs, " \
                    f"{r['seconds']:.2f} s" if r["killed"] else f"SURVIVED {r['error']}"
            print(f"[{len(results)}/{len(ids)}] {r['mutant']}: {state}", file=sys.stderr,
                  flush=True)
    wall = time.perf_counter() - start
    ordered = [results[i] for i in ids]
    text = table(ordered)
    print(text)
    print()
    print(summary(ordered, wall))
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"wall_seconds": round(wall, 2), "results": ordered}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n\n" + summary(ordered, wall).replace("\n", "  \n") + "\n")
    if args.write_docs:
        with open(DOCS_JSON, encoding="utf-8") as f:
            stored = json.load(f)
        write_docs(docs_rows(stored, ordered, [m.id for m in zoo.ZOO]))
    return 0 if all(r["killed"] for r in ordered) else 1


if __name__ == "__main__":
    sys.exit(main())
