"""Search beyond plain random draws: swarm testing, and the structure `target()` climbs.

Swarm testing (Groce et al., ISSTA 2012): each program first draws which features it uses.

A suite's config mixes every feature it names at fixed rates, so a program with five
features is common and one where two rare ones meet is drowned by the rest. Under swarm
testing each program first draws, per feature, one of three settings: as the suite
configured it, off, or boosted; and which op groups it may use. A rare conjunction is then
common in the share of programs that switched everything else off and boosted the pair.

Every setting shrinks to "as configured" (choice 0) and every op group to "kept", so a
counterexample shrinks to a program the suite's own config could have drawn.

On for a run by `Config(swarm=True)` (the campaign's `--swarm`, pytest's `--search swarm`);
the `ci` profile never uses it, so CI's programs do not change.
"""
from dataclasses import fields

from gradspec.vocabulary import SPECS

AS_CONFIGURED, OFF, BOOSTED = 0, 1, 2


def feature_knobs(cfg):
    """The config's probability fields that are on (0 < p): what a program may switch."""
    return tuple(f.name for f in fields(cfg)
                 if f.type in (float, "float") and 0 < getattr(cfg, f.name) < 1
                 and not (f.name == "inplace_views" and not cfg.inplace))


def boosted(p):
    """A feature's boosted rate: three draws of it instead of one (0.1 -> 0.27, 0.3 -> 0.66)."""
    return 1 - (1 - p) ** 3


def swarm_config(integer, cfg):
    """`cfg` with each feature as configured, off or boosted, and some op groups left out,
    drawn with `integer(lo, hi)` (strategies/choices.py: shrinks towards lo)."""
    changes = {}
    for knob in feature_knobs(cfg):
        setting = integer(0, 2)
        if setting == OFF:
            changes[knob] = 0.0
        elif setting == BOOSTED:
            changes[knob] = boosted(getattr(cfg, knob))
    if cfg.max_actions > 1 and integer(0, 1):
        changes["max_actions"] = 2  # a plan of one or two actions: more of them simple pairs
    groups = sorted({SPECS[op].group for op in cfg.ops})
    if len(groups) > 1:
        kept = [g for g in groups if integer(0, 1) == 0]  # 0: kept (shrinks to every group)
        ops = frozenset(op for op in cfg.ops if SPECS[op].group in kept)
        if cfg.focus_op:
            ops |= {cfg.focus_op} & frozenset(cfg.ops)
        if ops:
            changes["ops"] = ops
    return cfg.but(swarm=False, **changes)


# ----- structure, for Hypothesis's target() (suites/conformance.py, `--search target`) ------
def structural_features(program):
    """The distinct kinds of things a program does: its step kinds and ops, its action
    kinds, and the plan's flags (retained graphs, created graphs, several roots). Rare bugs
    sit where several meet; target() climbs towards programs that hold more of them."""
    kinds = set()
    for s in program.steps:
        kinds.add(type(s).__name__)
        if getattr(s, "op", None):
            kinds.add(f"op:{s.op}")
    for a in program.plan:
        kinds.add(type(a).__name__)
        if getattr(a, "retain_graph", None):
            kinds.add("retain_graph")
        if getattr(a, "create_graph", False):
            kinds.add("create_graph")
        if len(getattr(a, "roots", getattr(a, "outputs", ()))) > 1:
            kinds.add("several roots")
    if program.layers:
        kinds.add("layers")
    if program.functions:
        kinds.add("functions")
    return kinds
