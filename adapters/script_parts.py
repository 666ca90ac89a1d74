"""Parts every engine's repro script writes alike (adapters/functional_script.py for the
functional engines, adapters/stateful_script.py for the stateful ones): value names as
identifiers, and a custom Function's backward as Python over the engine's ops."""


def py(name):
    """A value's name as a Python identifier (layer parameters are `lin0.weight`)."""
    return name.replace(".", "_")


def backward_rules(spec, ops, indent, spell_add=None):
    """The body of a custom backward computing `spec`'s gradients (gx0, gx1, ...) from the
    upstream g0, g1, ... and saved s0, s1, ...: shared by the spellings that write it as
    Python over the engine's ops. `spell_add(a, b)` writes a sum (default `a + b`)."""
    add = spell_add or (lambda a, b: f"{a} + {b}")
    lines, results = [], []
    for i, rule in enumerate(spec.backward):
        name = f"gx{i}"
        results.append(name)
        lines.append(f"{indent}{name} = None")
        body = []
        for term in rule.terms:
            expr, kind = f"g{term.output}", term.factor[0]
            if kind == "const":
                expr = ops.source("scale", [expr], {"c": term.factor[1]})
            elif kind == "saved":
                expr = ops.source("mul", [expr, f"s{term.factor[1]}"], {})
            elif kind == "cos_saved":
                expr = ops.source("mul", [expr, ops.source("cos", [f"s{term.factor[1]}"], {})],
                                  {})
            guard = "" if spec.materialize_grads else f"if g{term.output} is not None: "
            body.append(f"{guard}{name} = {expr} if {name} is None else {add(name, expr)}")
        if rule.check_needs:
            lines.append(f"{indent}if needs_input_grad[{i}]:")
            lines += [f"{indent}    {line}" for line in body] or [f"{indent}    pass"]
        else:
            lines += [f"{indent}{line}" for line in body]
    if spec.grad_shape_error:
        flat = ops.source("reshape", ["gx0"], {"shape": (-1,)})
        lines += [f"{indent}if gx0 is not None:  # deliberately the wrong shape",
                  f"{indent}    gx0 = {ops.source('cat', [flat, flat], {'dim': 0})}"]
    returned = "".join(r + ", " for r in results)
    if spec.extra_grads:  # deliberately too many, added only where g0 exists (as run)
        extra = "".join([ops.source("scale", ["g0"], {"c": 1.0}) + ", "] * spec.extra_grads)
        lines += [f"{indent}extra = () if g0 is None else ({extra})",
                  f"{indent}return ({returned}) + extra"]
    else:
        lines.append(f"{indent}return ({returned})")
    return lines

