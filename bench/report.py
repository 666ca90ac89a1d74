"""The benchmark's table (Markdown), its summary against targets, and docs/speed.md's block."""
from .instrument import CATEGORIES
from .workloads import BOUND, ISOLATED, ROOT


def _ratio(a, b):
    return round(a / b, 3) if b else None


def summary(result, target_rate, target_vs_baseline, target_parallel):
    rows = {r["name"]: r for r in result["workloads"]}
    suites = [r for r in result["workloads"] if r["kind"] == "suite"]
    out = {}
    if suites:
        programs = sum(r["programs"] for r in suites)
        seconds = sum(r["cpu_seconds"] for r in suites)
        wall = sum(r["wall_seconds"] for r in suites)
        split = {k: sum(r["split_s"][k] for r in suites) for k in CATEGORIES}
        ref = sum(r["replay_s"]["reference"] for r in suites)
        back = sum(r["replay_s"]["backend"] for r in suites)
        out["suites"] = {"programs": programs, "cpu_seconds": round(seconds, 3),
                         "programs_per_s": round(programs / seconds, 1),
                         "programs_per_s_wall": round(programs / wall, 1),
                         "split_share": {k: round(v / seconds, 3) for k, v in split.items()},
                         "reference_over_backend": _ratio(ref, back)}
    target = next((r for r in result["workloads"] if r["kind"] == "target"), None)
    baseline = rows.get("baseline: straightforward composite (issue)")
    targets = {}
    if target:
        targets["programs_per_s"] = {"measured": target["programs_per_s"],
                                     "target": target_rate,
                                     "met": target["programs_per_s"] >= target_rate}
        replay = target["replay_s"]
        ratio = _ratio(replay["reference"], replay["backend"])
        targets["reference_over_torch"] = {"measured": ratio, "target": 1.0,
                                           "met": ratio is not None and ratio <= 1.0}
    bound = next((r for r in result["workloads"] if r["name"].startswith(BOUND)), None)
    if target and baseline:
        x = _ratio(target["programs_per_s"], baseline["programs_per_s"])
        targets["vs_baseline"] = {"measured": x, "target": target_vs_baseline,
                                  "met": x is not None and x >= target_vs_baseline}
        if bound:  # is the ratio reachable at all by a suite drawing these programs?
            needed = round(target_vs_baseline * baseline["programs_per_s"], 1)
            targets["vs_baseline"].update(needed_programs_per_s=needed,
                                          choices_alone_per_s=bound["programs_per_s"])
    isolated = rows.get(ISOLATED)
    if target and isolated:
        # The same programs with the candidate in its worker process (`--isolate`): per core
        # (this process's CPU and the worker's) and by the clock.
        out["isolation"] = {
            "in_process_per_s": target["programs_per_s"],
            "isolated_per_s": isolated["programs_per_s"],
            "ratio": _ratio(isolated["programs_per_s"], target["programs_per_s"]),
            "in_process_per_s_wall": target["programs_per_s_wall"],
            "isolated_per_s_wall": isolated["programs_per_s_wall"],
            "ratio_wall": _ratio(isolated["programs_per_s_wall"],
                                 target["programs_per_s_wall"])}
    if target and bound:
        # Hypothesis drawing the same choices and nothing else: the most any suite checking
        # these programs can reach; the target's share of it is what our own code leaves.
        out["target_over_choices_alone"] = _ratio(target["programs_per_s"],
                                                  bound["programs_per_s"])
    wall = {w["label"]: w for w in result.get("wall", ())}
    if "serial" in wall and "-n 2" in wall:
        x = _ratio(wall["serial"]["seconds"], wall["-n 2"]["seconds"])
        targets["parallel_speedup"] = {"measured": x, "target": target_parallel,
                                       "met": x is not None and x >= target_parallel}
        serial_cpu = wall["serial"].get("cpu_seconds")
        parallel_cpu = wall["-n 2"].get("cpu_seconds")
        if serial_cpu and parallel_cpu:
            # The serial run is not one busy core: tests that start other processes (xdist
            # inside, fresh interpreters) use the second core too. -n 2 cannot beat its two
            # cores doing its own CPU work (its workers' start-ups and the controller make
            # that more than serial's) from the first second to the last.
            targets["parallel_speedup"].update(
                serial_busy_cores=_ratio(serial_cpu, wall["serial"]["seconds"]),
                if_never_idle=_ratio(wall["serial"]["seconds"], parallel_cpu / 2))
        c = result.get("ceiling")
        if c and x is not None:  # how much of what this machine allows -n 2 got
            targets["parallel_speedup"].update(
                machine_ceiling=c["ceiling"], efficiency=_ratio(x, c["ceiling"]))
    out["targets"] = targets
    floor = rows.get("floor: @given(st.integers())")
    if target and floor:
        # The machine's speed drifts from hour to hour; Hypothesis's own floor, measured in the
        # same run, drifts with it: the ratio compares runs made on different days.
        out["target_over_floor"] = _ratio(target["programs_per_s"], floor["programs_per_s"])
    return out


def _pct(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else ""


def _ms(row, key):
    v = row.get("replay_ms_per_program", {}).get(key)
    return "" if v is None else f"{v:.2f}"


def table(result):
    head = ("| workload | programs | ops/program | programs/s | (wall) | generation | reference | "
            "backend | compare | other | reference ms | torch ms | torch floor ms | "
            "reference/torch |")
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in result["workloads"]:
        cells = [r["name"], str(r["programs"]), str(r.get("ops_per_program", "")),
                 f"{r['programs_per_s']:.0f}", f"{r['programs_per_s_wall']:.0f}"]
        if "split_s" in r:
            cells += [_pct(r["split_s"][k], r["cpu_seconds"]) for k in CATEGORIES]
            ms = r.get("replay_ms_per_program")  # none for the isolated row: the target's
            cells += [_ms(r, "reference"), _ms(r, "backend"), _ms(r, "torch_floor"),
                      f"{ms['reference'] / ms['backend']:.2f}" if ms and ms["backend"] else ""]
        else:
            cells += [""] * 9
        lines.append("| " + " | ".join(cells) + " |")
    s = result.get("summary", {})
    if "suites" in s:
        su = s["suites"]
        share = ", ".join(f"{k} {100 * v:.0f}%" for k, v in su["split_share"].items())
        lines += ["", f"all suites: {su['programs']} programs in {su['cpu_seconds']:.2f} s of CPU = "
                      f"{su['programs_per_s']:.0f} programs/s per core (wall: "
                      f"{su['programs_per_s_wall']:.0f}/s; {share}); "
                      f"reference/torch on the same programs {su['reference_over_backend']}"]
    for w in result.get("wall", ()):
        lines.append(f"whole test command {w['label']}: {w['seconds']:.1f} s wall, "
                     f"{w.get('cpu_seconds', 0):.1f} s CPU "
                     f"({w['summary'] or 'rc ' + str(w['returncode'])})")
    if s.get("target_over_floor") is not None:
        lines.append(f"target rate / Hypothesis's floor in the same run: "
                     f"{s['target_over_floor']} (steadier across days than either rate)")
    c = result.get("ceiling")
    if c:
        lines.append(f"machine ceiling for two processes: {c['ceiling']} (a CPU-bound loop "
                     f"{c['alone_s']:.2f} s alone, {c['together_s']:.2f} s two at once)")
    iso = s.get("isolation")
    if iso:
        lines.append(f"crash isolation (--isolate) on the target's programs: "
                     f"{iso['isolated_per_s']:.0f} programs/s a core (this process and its "
                     f"worker) against {iso['in_process_per_s']:.0f} in process, "
                     f"{iso['ratio']}; by the clock {iso['isolated_per_s_wall']:.0f} against "
                     f"{iso['in_process_per_s_wall']:.0f}, {iso['ratio_wall']}")
    if s.get("target_over_choices_alone") is not None:
        lines.append(f"target rate / Hypothesis drawing the same choices alone: "
                     f"{s['target_over_choices_alone']} (the rest is the strategies, the "
                     f"reference, the backend and the comparison)")
    for name, t in s.get("targets", {}).items():
        extra = (f"; the machine's ceiling {t['machine_ceiling']}, {t['efficiency']} of it"
                 if "machine_ceiling" in t else "")
        if "if_never_idle" in t:
            extra += (f"; the serial run keeps {t['serial_busy_cores']} cores busy, and -n 2 "
                      f"with both cores busy throughout would reach {t['if_never_idle']}")
        if "needed_programs_per_s" in t:
            extra += (f"; it needs {t['needed_programs_per_s']:.0f} programs/s, and Hypothesis "
                      f"drawing the same choices alone does {t['choices_alone_per_s']:.0f}")
        lines.append(f"target {name}: {t['measured']} (target {t['target']}) "
                     f"{'met' if t['met'] else 'NOT met'}{extra}")
    m = result["machine"]
    lines.append(f"machine: {m['platform']}, {m['cpus']} cpus, Python {m['python']}, "
                 f"torch {m.get('torch')} ({m.get('torch_threads')} threads), hypothesis "
                 f"{m['hypothesis']}; load average before {result['load_before']}, after "
                 f"{result.get('load_after')}")
    return "\n".join(lines)


# ----- docs/speed.md: the measured table, kept in docs/speed.json ---------------------------
DOCS_MD = ROOT / "docs" / "speed.md"
DOCS_JSON = ROOT / "docs" / "speed.json"
WRITE_DOCS = "python -m bench --write-docs"
RENDER_DOCS = "python -m bench --render-docs"


def docs_data(result, measured, command):
    """What docs/speed.json keeps of a benchmark `result`: each workload's rate, its split of
    the CPU time, the replays' milliseconds a program, and the summary over all suites."""
    rows = []
    for r in result["workloads"]:
        row = {"name": r["name"], "kind": r["kind"], "programs_per_s": r["programs_per_s"]}
        if "ops_per_program" in r:
            row["ops_per_program"] = r["ops_per_program"]
        if "split_s" in r and r["cpu_seconds"]:
            row["split_share"] = {k: round(r["split_s"][k] / r["cpu_seconds"], 3)
                                  for k in CATEGORIES}
        if r.get("replay_ms_per_program"):
            row["replay_ms"] = r["replay_ms_per_program"]
            replay = r["replay_s"]
            row["reference_over_backend"] = _ratio(replay["reference"], replay["backend"])
        rows.append(row)
    m = result["machine"]
    machine = (f"{m['platform']}, {m['cpus']} cpus, Python {m['python']}, torch "
               f"{m.get('torch')} ({m.get('torch_threads')} threads), Hypothesis "
               f"{m['hypothesis']}; load average before {result['load_before']}, after "
               f"{result.get('load_after')}")
    s = result.get("summary", {})
    return {"measured": measured, "machine": machine, "command": command, "workloads": rows,
            "suites": s.get("suites"), "target_over_floor": s.get("target_over_floor")}


def _display(name):
    """A suite test's row by its function's name, as pytest's -k would find it."""
    return f"`{name.split('::', 1)[1]}`" if "::" in name else name


def docs_block(data, expected=()):
    """docs/speed.md's generated block from docs/speed.json's `data`; `expected`: the names of
    the workloads the benchmark runs now, those it has no row for listed as not measured."""
    lines = [f"_Generated from [speed.json](speed.json), measured on {data['measured']} by "
             f"`{data['command']}` ({data['machine']}); do not edit by hand. Measure again and "
             f"rewrite: `{WRITE_DOCS}` (about 8 minutes on 2 cores); rewrite from the JSON "
             f"alone: `{RENDER_DOCS}`._", "",
             "| workload | ops/program | programs/s a core | generation / reference / backend "
             "/ compare / other | reference / torch / torch floor, ms a program | reference ÷ "
             "torch |", "|---|---|---|---|---|---|"]
    for r in data["workloads"]:
        share = r.get("split_share")
        ms = r.get("replay_ms")
        lines.append("| " + " | ".join([
            _display(r["name"]), f"{r['ops_per_program']:.2f}" if "ops_per_program" in r else "",
            f"{r['programs_per_s']:.0f}",
            " / ".join(f"{100 * share[k]:.0f}%" for k in CATEGORIES) if share else "",
            " / ".join(f"{ms[k]:.2f}" for k in ("reference", "backend", "torch_floor"))
            if ms else "",
            f"{r['reference_over_backend']:.2f}" if r.get("reference_over_backend") else ""])
            + " |")
    have = [r["name"] for r in data["workloads"]]
    missing = [n for n in expected if not any(h == n or h.startswith(n + " (") for h in have)]
    if missing:
        lines += ["", "Not in this run (added to the benchmark since): "
                  + ", ".join(_display(n) for n in missing) + "."]
    su = data.get("suites")
    if su:
        share = ", ".join(f"{'comparison' if k == 'compare' else k} {100 * v:.0f}%"
                          for k, v in su["split_share"].items())
        lines += ["", f"All suites: {su['programs_per_s']:.0f} programs/s a core ({share}); the "
                      f"reference took {su['reference_over_backend']:.2f} of torch's time on "
                      f"the same programs."]
    if data.get("target_over_floor") is not None:
        lines.append(f"The target's rate over Hypothesis's floor in the same run: "
                     f"{data['target_over_floor']:.3f}.")
    return "\n".join(lines) + "\n"


def expected_workloads(candidate):
    """The names of the workloads `python -m bench` runs for `candidate` (an adapter or its
    class) whose names do not depend on the run: the isolated row, the bound (its name goes on
    with the choices a program drew) and the suites'. Needs conftest imported."""
    from .workloads import suite_workloads
    return [ISOLATED, BOUND] + [w.name for w in suite_workloads(candidate)]
