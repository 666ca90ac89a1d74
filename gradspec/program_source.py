"""Print a Program as valid Python that rebuilds it: the replayable form of a counterexample.

It reads the dataclasses generically (their fields), so it imports nothing of program.py,
which prints itself through it."""


def _value(v):
    if isinstance(v, float):
        return repr(float(v))
    if isinstance(v, tuple):
        inner = ", ".join(_value(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, slice):
        return f"slice({v.start!r}, {v.stop!r}, {v.step!r})"
    return repr(v)


def _obj(obj, indent="    "):
    cls = type(obj).__name__
    fields = []
    for name, f in obj.__dataclass_fields__.items():
        val = getattr(obj, name)
        if name == "meta" or val == f.default:
            continue
        fields.append(f"{name}={_any(val, indent)}")
    return f"{cls}({', '.join(fields)})"


def _any(v, indent):
    if hasattr(v, "__dataclass_fields__"):
        return _obj(v, indent)
    if isinstance(v, tuple) and v and any(hasattr(x, "__dataclass_fields__") for x in v):
        inner = f",\n{indent}    ".join(_any(x, indent + "    ") for x in v)
        return f"(\n{indent}    {inner},\n{indent})"
    return _value(v)


def program_source(program) -> str:
    parts = []
    for name in ("dtype", "leaves", "layers", "functions", "steps", "plan"):
        val = getattr(program, name)
        if name in ("layers", "functions") and not val:
            continue
        parts.append(f"    {name}={_any(val, '    ')},")
    return "Program(\n" + "\n".join(parts) + "\n)"
