"""How an engine's own layer modules lay out their parameters, derived from torch's.

Why this exists. A program's layer parameters are leaves in torch's layout (`lin0.weight`
[out, in] and `lin0.bias`; `lstm0.weight_ih` [4H, in] with its gates in torch's order i, f, g,
o, `lstm0.weight_hh`, and two biases `bias_ih`, `bias_hh`: gradspec/program.py, `Layer`),
because other steps use them as ordinary values: ops, tensor hooks, post-accumulate hooks that
step them in place, and their `.grad`, compared with the reference's. Many engines' modules lay
their parameters out otherwise: Paddle's `nn.Linear` keeps its weight as [in, out]; Keras's
`Dense` a kernel [in, out]; its `SimpleRNNCell` and `LSTMCell` a kernel W_ih^T, a
recurrent_kernel W_hh^T and ONE bias where torch has b_ih and b_hh. Rebuilding the layers from
the engine's ops with torch's formulas (adapters/functional_layers.py) tests those ops, not
the engine's Linear/RNNCell/LSTMCell.

So an adapter declares a *layout* for each layer kind: each parameter of its module as an
expression over torch's leaves (one of them, its transpose, or a sum of two), and the order
of the gates if the engine's differs from torch's (the rows of every gated parameter are then
permuted first). At each call of the layer the adapter converts the torch-layout leaves into
the module's parameters with the engine's OWN ops, inside the recorded graph, and runs the
engine's own module on them (torch.func.functional_call's idea, adapters/torch_func_adapter.py;
Paddle binds them into the layer for the call, Keras has `stateless_call`). What is compared
is then the module's own forward and backward formulas, and the gradient flows back through
the conversion to the torch-layout leaves, whose `.grad` the suites read.

The conversion is written as source (`source`), in the engine's spelling (`Ops`), and
`convert` evaluates exactly that source: a repro script prints the same conversion the
adapter ran.
"""
from dataclasses import dataclass, field

TORCH_GATES = ("i", "f", "g", "o")  # torch's LSTMCell: input, forget, cell (g), output


# ----- expressions over torch's leaves ----------------------------------------------------
@dataclass(frozen=True)
class Param:
    """Torch's parameter `name` (`weight`, `weight_ih`, `bias_hh`...), as it is."""
    name: str

    @property
    def T(self):  # noqa: N802 - the transpose, spelled as in NumPy
        return Transpose(self)

    def __add__(self, other):
        return Sum((self, other))

    def leaves(self):
        return (self.name,)

    def describe(self):
        return self.name


@dataclass(frozen=True)
class Transpose:
    """The transpose of a 2-d expression (torch's [out, in] as [in, out])."""
    of: object

    def leaves(self):
        return self.of.leaves()

    def describe(self):
        return f"{self.of.describe()}^T"


@dataclass(frozen=True)
class Sum:
    """The sum of expressions of one shape (Keras's one bias: b_ih + b_hh)."""
    terms: tuple

    def leaves(self):
        return tuple(n for t in self.terms for n in t.leaves())

    def describe(self):
        return " + ".join(t.describe() for t in self.terms)


@dataclass(frozen=True)
class Layout:
    """One layer kind's module: `module` names it (for people), `params` gives each of its
    parameters as (engine name, expression over torch's leaves), in the order the engine
    takes them (Keras's stateless_call takes a list in `trainable_variables` order); `gates`
    is the engine's gate order in torch's gate names (an LSTM: torch's i, f, g, o; Keras
    calls g `c`), where it differs the rows of every torch leaf are permuted to it first."""
    module: str
    params: tuple
    gates: tuple = field(default=TORCH_GATES)

    def describe(self):
        """One line, e.g. `keras.layers.LSTMCell: kernel = weight_ih^T, ..., gates i, f, g, o`."""
        parts = [f"{name} = {expr.describe()}" for name, expr in self.params]
        if self.gates != TORCH_GATES:
            parts.append(f"gates {', '.join(self.gates)} (torch's rows permuted)")
        return f"{self.module}: {'; '.join(parts)}"


def layout(module, gates=TORCH_GATES, **params):
    """`layout("paddle.nn.Linear", weight=Param("weight").T, bias=Param("bias"))`."""
    return Layout(module, tuple(params.items()), tuple(gates))


# ----- the engine's spelling, and the conversion as source -------------------------------
@dataclass(frozen=True)
class Ops:
    """How the engine writes the conversion: format templates over `{0}`, `{1}`: a 2-d
    transpose, a sum, and the concatenation of row blocks along the first axis (`{args}`: a
    comma-separated list of `x[a:b]` slices)."""
    transpose: str
    add: str = "{0} + {1}"
    concat_rows: str = ""


def source(lay, names, hidden, ops):
    """The conversion as source: a list of (engine parameter name, expression source), the
    expressions over `names` (torch parameter name -> the source naming that leaf; a leaf
    missing from it, e.g. the bias of a layer without one, leaves out every engine parameter
    made from it). `hidden` is the layer's hidden size (the rows of one gate)."""
    def leaf(name):
        src = names[name]
        if lay.gates == TORCH_GATES:
            return src
        blocks = ", ".join(f"{src}[{TORCH_GATES.index(g) * hidden}:"
                           f"{(TORCH_GATES.index(g) + 1) * hidden}]" for g in lay.gates)
        return ops.concat_rows.format(args=blocks)

    def expr(e):
        if isinstance(e, Param):
            return leaf(e.name)
        if isinstance(e, Transpose):
            return ops.transpose.format(expr(e.of))
        if isinstance(e, Sum):
            out = expr(e.terms[0])
            for t in e.terms[1:]:
                out = ops.add.format(out, expr(t))
            return out
        raise TypeError(f"not a layout expression: {e!r}")

    return [(name, expr(e)) for name, e in lay.params
            if all(names.get(n) is not None for n in e.leaves())]


_COMPILED = {}


def convert(lay, leaves, hidden, ops, namespace):
    """The module's parameters from torch's leaves (torch parameter name -> tensor; a missing
    one as in `source`): a list of (engine name, tensor), computed by evaluating `source`'s
    expressions with the engine's ops in `namespace`, so that the conversion is recorded
    like any other op of the program."""
    present = tuple(sorted(n for n, t in leaves.items() if t is not None))
    key = (lay, present, hidden, ops)
    if key not in _COMPILED:
        names = {n: f"_leaf_{n}" for n in present}
        pairs = source(lay, names, hidden, ops)
        code = compile("[" + ", ".join(f"({n!r}, {src})" for n, src in pairs) + "]",
                       f"<layout {lay.module}>", "eval")
        _COMPILED[key] = code
    scope = {f"_leaf_{n}": leaves[n] for n in present}
    return eval(_COMPILED[key], namespace, scope)  # noqa: S307 - our own conversion source
