"""Drawing one step of each kind: an op, a layer call, a custom Function, graph control."""
import numpy as np

from gradspec import program as P
from gradspec.vocabulary import INDEXED, MULTI_OUTPUT, PIECES, SPECS, VIEWS, n_outputs

from reference.errors import AutogradError, InferenceTensorError

from .inplace_steps import layout_unsure
from .op_args import applicable, applicable_ops, draw_op_args, output_ok
from .values import expand, nested

LAYER_KINDS = ("linear", "rnn_cell", "lstm_cell")


def op_step(b, force=None):
    if force in MULTI_OUTPUT:
        return multi_op_step(b, force)
    x = b.pick_recent(b.values)
    inference = [n for n in b.inference if n in b.session.env]
    if inference and b.chance(0.3):
        # An inference tensor (made inside inference_mode) used again outside it: a binary op
        # with an operand that requires grad then saves it, which raises.
        x = b.pick_recent(inference)
    v = b.value(x)
    if force:
        # The focus op must appear: where its operands hit a tie or kink (maximum(x, x)) or
        # its output leaves the range, it is tried again on a fresh leaf that fits it.
        # On a value with fewer than two axes (a scalar, a vector) most of an op's gradient
        # is invisible (a transposed or misplaced gradient needs a matrix to show), so the
        # focus op often gets a fresh operand of rank >= 2 instead.
        for attempt in range(FORCE_ATTEMPTS):
            if attempt or not applicable(force, v):
                x = _fit_input(b, force)
            elif v.ndim < SPECS[force].rich_rank and b.chance(0.5):
                x = _fit_input(b, force, min_rank=SPECS[force].rich_rank)
            if _apply_op(b, force, x):
                return force
        return False
    ops = applicable_ops(b.ordered_ops, v)
    if x in inference and b.chance(0.5):
        ops = tuple(op for op in ops if SPECS[op].saves_operand) or ops
    if not ops:
        return False
    op = b.pick(ops)
    return op if _apply_op(b, op, x) else False


FORCE_ATTEMPTS = 8


def _apply_op(b, op, x):
    """Draw the operands and params of `op` on `x` and keep the step if its output is ok."""
    drawn = draw_op_args(b, op, x)
    if drawn is None:
        return False
    args, params = drawn
    out = b.fresh("t")
    # Views made under no_grad keep requires_grad=True in torch (a legacy quirk that depends
    # on memory layout for reshape); no_grad and the other grad modes are exercised on
    # computing ops only. So are inference tensors: whether a view of one is one too depends
    # on memory layout (reshape may copy).
    computing = op not in VIEWS
    if not computing and (any(b.tensor(a).is_inference() for a in args)
                          or set(args) & _stepped(b)):
        return False  # (nor does a layer take one: see layer_step)
    if op == "reshape" and b.cfg.inplace and x in layout_unsure(b):
        return False  # a view or a copy depending on torch's layout (inplace_steps.py)
    modes = _draw_modes(b) if computing and b.chance(b.cfg.grad_modes) else ()
    step = P.Op(out, op, tuple(args), tuple(sorted(params.items())),
                no_grad=computing and b.chance(b.cfg.no_grad), modes=modes)
    try:
        b.session.step(step)
    except InferenceTensorError:
        # A recorded op saving an inference tensor raises (in torch too): sometimes the
        # program ends there, its forward raising that error.
        if not b.chance(b.cfg.forward_errors):
            return False
        b.steps.append(step)
        b.stopped = True
        return True
    if not output_ok(b.value(out)):
        del b.session.env[out]
        return False
    b.steps.append(step)
    # An inference tensor is only ever the first operand of a later op (see op_step).
    (b.inference if b.tensor(out).is_inference() else b.values).append(out)
    return True


def _draw_modes(b):
    """One to three grad modes, nested (outermost first), among those the backend has."""
    modes = [m for m in P.GRAD_MODES if b.can(P.MODE_CAPABILITY[m])]
    return tuple(b.pick(modes) for _ in range(b.integer(1, 3)))


def _fit_input(b, op, min_rank=0):
    """A fresh leaf on which `op` is defined (the focus op must appear in every program)."""
    return SPECS[op].fit(b, max(min_rank, SPECS[op].min_rank))


# ----- ops with several outputs: values and indices, or pieces ---------------------------
def multi_op_step(b, force=None):
    """An op of `multi_ops` (or `force`) on a value of rank >= 1. Its float outputs become
    values later steps may use (or leave unused: they send zeros back); indices never do."""
    ops = [force] if force else [op for op in MULTI_OUTPUT if op in b.cfg.multi_ops]
    if not ops:
        return False
    op = b.pick(ops)
    ranked = [n for n in b.values if b.value(n).ndim]
    for attempt in range(FORCE_ATTEMPTS if force else 1):
        if ranked and not attempt and b.chance(0.7):
            x = b.pick_recent(ranked)
        else:
            x = b.new_leaf(b.draw_shape(min_rank=1))
        params = _multi_params(b, op, b.value(x))
        if params is not None and not (op in PIECES and x in _stepped(b)):
            break
    else:
        return False
    shape = b.value(x).shape
    outs = tuple(b.fresh("i" if op in INDEXED and k == 1 else "t")
                 for k in range(n_outputs(op, shape, params)))
    floats = outs[:1] if op in INDEXED else outs
    b.session.step(P.MultiOp(outs, op, (x,), tuple(sorted(params.items()))))
    if not all(output_ok(b.value(o)) for o in floats):
        for o in outs:
            del b.session.env[o]
        return False
    b.steps.append(P.MultiOp(outs, op, (x,), tuple(sorted(params.items()))))
    b.values.extend(floats)
    return True


def _multi_params(b, op, v):
    """The params of multi-output `op` on array `v`, or None where it would meet a tie."""
    return SPECS[op].params(b, v)


# ----- higher order: gradients as values ---------------------------------------------------
def grad_step(b):
    """`g = autograd.grad(y, x, w, create_graph=True)` with y a recorded value and x among
    what it was computed from; then, sometimes, the patterns users write with it: a
    Hessian-vector product (the grad of sum(g * v)) or a gradient penalty added to y (the
    WGAN-GP loss). A later GradStep on g is a grad of a grad."""
    roots = [n for n in b.values if b.requires_grad(n) and not b.tensor(n).is_leaf]
    if not roots:
        return False
    y = b.pick_recent(roots)
    # With respect to forward values only: a gradient's own graph is made of each engine's
    # backward formulas (torch's mse_loss computes the target's gradient apart from the
    # input's; the reference negates the input's), so what flows back to a gradient value
    # through another one is not specified.
    grads = {o for s in b.steps if isinstance(s, P.GradStep) for o in s.outs}
    made_from_grads = {n for n in b.values if grads & ({n} | set(ancestors(b, n)))}
    inside = _inside_gradients_behind(b, y)
    wrt = [n for n in ancestors(b, y) if b.requires_grad(n) and n not in made_from_grads
           and (b.tensor(n).is_leaf or n not in inside and b.can("grad_wrt_nonleaf")
                and b.can("stateful_grad"))]
    # (A functional engine's GradStep differentiates the rebuilt steps before it as a
    # function of leaves: gradspec/interpreter.py.)
    if not wrt:
        return False
    inputs = list(dict.fromkeys(b.pick_recent(wrt) for _ in range(b.integer(1, 2))))
    outs = _add_grad_step(b, (y,), inputs, (_grad_weight(b, y),))
    if outs is None:
        return False
    if b.chance(0.3):  # a Hessian-vector product: d/dx <g, v>
        v = b.new_leaf(b.value(outs[0]).shape, requires_grad=False)
        s = _reduce(b, _add_op(b, "mul", (outs[0], v)))
        if s is not None and b.requires_grad(s):
            _add_grad_step(b, (s,), inputs[:1], (None,))
    elif b.chance(0.4):  # a gradient penalty: y + sum(g * g)
        penalty = _reduce(b, _add_op(b, "mul", (outs[0], outs[0])))
        if penalty is not None:
            _add_op(b, "add", (y, penalty))
    return True


def _inside_gradients_behind(b, y):
    """Values strictly inside a gradient that y was computed from: for g = d(outputs)/d(x)
    of an earlier GradStep, the values computed from x that the outputs were computed from.
    g's graph may read such a value's node (torch's prod backward divides its saved output
    by its input) or not (the reference multiplies the other factors), so what flows back to
    it along g, with x held still, is each engine's choice: no grad is taken with respect to
    it. At x or above it, every engine's g is the same function of it."""
    behind_y = set(ancestors(b, y)) | {y}
    inside = set()
    for s in b.steps:
        if not isinstance(s, P.GradStep):
            continue
        region = set(s.outputs).union(*(ancestors(b, o) for o in s.outputs))
        for g, x in zip(s.outs, s.inputs):
            if g in behind_y:
                inside |= {n for n in region if x in ancestors(b, n)}
    return inside


def _add_grad_step(b, outputs, inputs, weights):
    """Run a GradStep on the reference and keep it (its outputs' names) unless it raised (an
    input the outputs do not reach) or its values left the range."""
    outs = tuple(b.fresh("g") for _ in inputs)
    step = P.GradStep(outs, tuple(outputs), tuple(inputs), tuple(weights))
    n_hooks = len(b.session.hook_log)
    try:
        b.session.step(step)
    except AutogradError:
        del b.session.hook_log[n_hooks:]  # hooks its backward ran before raising
        return None
    if not all(output_ok(b.value(o)) for o in outs):
        del b.session.hook_log[n_hooks:]
        for o in outs:
            del b.session.env[o]
        b.session.raised = True  # its hooks and retained grads ran: rebuild for the check
        return None
    b.steps.append(step)
    b.values.extend(outs)
    return outs


def _add_op(b, op, args, params=()):
    """`op` on `args` as a step; its output's name, or None (left out) if out of range."""
    if None in args:
        return None
    out = b.fresh("t")
    step = P.Op(out, op, tuple(args), params)
    b.session.step(step)
    if not output_ok(b.value(out)):
        del b.session.env[out]
        return None
    b.steps.append(step)
    b.values.append(out)
    return out


def _reduce(b, name):
    """`name` summed to a scalar (itself if 0-d; None stays None)."""
    if name is None:
        return None
    nd = b.value(name).ndim
    return _add_op(b, "sum", (name,), (("dim", tuple(range(nd))), ("keepdim", False))) \
        if nd else name


def _grad_weight(b, name):
    """None (implicit) for a scalar, mostly; else a weight of the value's shape."""
    shape = b.value(name).shape
    if not shape and not b.chance(0.3):
        return None
    flat = expand(b.seed(), shape, salt=7)
    return nested(flat, shape) if shape else flat[0]


def ancestors(b, name):
    """The values `name` was computed from (through any step), in creation order."""
    made_from = {}
    for s in b.steps:
        outs = (s.out,) if isinstance(s, P.Op) else getattr(s, "outs", ())
        ins = [a for a in getattr(s, "args", ()) if a is not None]
        ins += list(getattr(s, "outputs", ())) + list(getattr(s, "inputs", ()))
        if isinstance(s, P.Call):
            ins += [p.name for p in b.session.modules[s.layer][1].params]
        for o in outs:
            made_from[o] = ins
    seen, todo = set(), [name]
    while todo:
        for a in made_from.get(todo.pop(), ()):
            if a not in seen:
                seen.add(a)
                todo.append(a)
    return [n for n in b.values if n in seen]


# ----- layers: applied several times, to their own output too -----------------------------
def layer_step(b):
    layer = b.pick(b.layers) if b.layers and b.chance(0.7) else None
    if layer is None:
        layer = _new_layer(b)
    n_in, hidden = layer.in_features, layer.out_features
    prev = [s for s in b.steps if isinstance(s, P.Call) and s.layer == layer.name]
    # The input: the layer's own previous output (recurrence) where shapes allow, else a value
    # of the right trailing size, else a new leaf.
    stepped = _stepped(b)
    candidates = [n for n in b.values if n not in stepped
                  and b.value(n).ndim in (1, 2) and b.value(n).shape[-1] == n_in]
    x = b.pick_recent(candidates) if candidates and b.chance(0.7) else b.new_leaf(
        b.pick([(b.integer(1, 3), n_in), (n_in,)]))
    batch = b.value(x).shape[:-1]
    args = (x,)
    if layer.kind in ("rnn_cell", "lstm_cell"):
        state = None
        if prev and b.value(prev[-1].outs[0]).shape == batch + (hidden,) and b.chance(0.8):
            state = prev[-1].outs
        elif b.chance(0.3):
            state = tuple(b.new_leaf(batch + (hidden,), scale=0.5)
                          for _ in range(1 if layer.kind == "rnn_cell" else 2))
        if layer.kind == "rnn_cell":
            args = (x, state[0] if state else None)
        else:
            args = (x,) + (tuple(state) if state else (None, None))
    outs = tuple(b.fresh("h" if layer.kind != "linear" else "y")
                 for _ in range(2 if layer.kind == "lstm_cell" else 1))
    b.add_step(P.Call(outs, layer.name, args), outs)
    if not all(output_ok(b.value(o)) for o in outs):
        return False
    return True


def _new_layer(b):
    kind = b.pick(LAYER_KINDS)
    n_in = b.integer(1, 4)
    hidden = n_in if b.chance(0.6) else b.integer(1, 4)
    bias = not b.chance(0.3)
    name = {"linear": "lin", "rnn_cell": "rnn", "lstm_cell": "lstm"}[kind] + str(len(b.layers))
    gates = 4 if kind == "lstm_cell" else 1
    shapes = {"weight": (hidden, n_in), "bias": (hidden,)} if kind == "linear" else {
        "weight_ih": (gates * hidden, n_in), "weight_hh": (gates * hidden, hidden),
        "bias_ih": (gates * hidden,), "bias_hh": (gates * hidden,)}
    params = tuple(
        P.Leaf(f"{name}.{p}", shape, expand(b.seed(), shape, scale=0.5, salt=i), True)
        for i, (p, shape) in enumerate(shapes.items()) if bias or "bias" not in p)
    layer = P.Layer(name, kind, n_in, hidden, bias, params)
    b.layers.append(layer)
    b.session.add_layer(layer)
    b.values.extend(p.name for p in params)
    if b.chance(b.cfg.module_hooks):  # registered before the calls, so that they fire
        b.add_step(P.ModuleHook(name, b.pick([None, 2.0, 0.5])), ())
    return layer


# ----- custom Functions given as data ----------------------------------------------------
UNARY_FORWARD = ("sign", "round", "sin", "exp", "tanh", "scale")


def function_step(b):
    x = b.pick_recent(b.values)
    n_inputs = 2 if b.chance(0.5) else 1
    inputs = (x,) if n_inputs == 1 else (x, b.operand_like(x, broadcast=False))
    vals = [b.value(i) for i in inputs]
    forward = []
    for _ in range(b.integer(1, 2)):
        op = b.pick(UNARY_FORWARD + (("mul", "add") if n_inputs == 2 else ()))
        if op in ("mul", "add"):
            forward.append((op, (0, 1)))
            continue
        i = b.integer(0, n_inputs - 1)
        v = vals[i]
        if op == "sign" and np.abs(v).min() <= 1e-3:
            op = "sin"
        if op == "round" and np.abs(np.abs(v - np.floor(v)) - 0.5).min() <= 1e-3:
            op = "tanh"
        if op == "exp" and v.max() >= 5:
            op = "tanh"
        forward.append(("scale", (i,), b.pick([2.0, -0.5])) if op == "scale" else (op, (i,)))
    n_out = len(forward)
    saved = tuple(b.pick([("input", i) for i in range(n_inputs)] +
                         [("output", j) for j in range(n_out)])
                  for _ in range(b.integer(0, 2)))
    rules = []
    # Often each input's gradient comes from its own output only (input i from output i): a
    # used output next to an unused one then leaves an input with None (no gradient).
    own_output = n_out > 1 and b.chance(0.7)
    for i in range(n_inputs):
        terms = []
        for _ in range(b.integer(1 if own_output else 0, 2)):
            factors = [("one",), ("const", b.pick([0.5, 2.0, -1.0]))]
            if saved:
                s = b.integer(0, len(saved) - 1)
                factors += [("saved", s), ("cos_saved", s)]
            output = i % n_out if own_output else b.integer(0, n_out - 1)
            terms.append(P.Term(output, b.pick(factors)))
        rules.append(P.GradRule(tuple(terms), check_needs=b.can("needs_input_grad")
                                and b.chance(0.5)))
    errors = b.chance(b.cfg.errors)
    # set_materialize_grads(False) shows only where an output can get no gradient: with two.
    no_materialize = b.can("materialize_grads") and b.chance(0.6 if n_out == 2 else 0.2)
    spec = P.FunctionSpec(
        name=f"Fn{len(b.functions)}", n_inputs=n_inputs, forward=tuple(forward), saved=saved,
        backward=tuple(rules),
        materialize_grads=not no_materialize,
        non_differentiable=(1,) if n_out == 2 and b.can("non_differentiable")
        and b.chance(0.2) else (),
        extra_grads=1 if errors and b.chance(0.5) else 0,
        grad_shape_error=errors and b.chance(0.5))
    b.functions.append(spec)
    b.session.add_function(spec)
    outs = tuple(b.fresh("f") for _ in range(n_out))
    b.add_step(P.CallFunction(outs, spec.name, inputs), outs)
    return True


# ----- graph control and hooks -------------------------------------------------------------
def _grad_values(b, leaves=True):
    return [n for n in b.values if b.requires_grad(n) and (leaves or not b.tensor(n).is_leaf)]


def requires_grad_step(b):
    """`requires_grad_()` switches a plain leaf (never the first: a fallback root needs it).

    Not a leaf a view was taken of: in torch the view's requires_grad follows its base's (the
    reference's views are copies; views are the in-place work's)."""
    viewed = _viewed(b)
    leaves = [leaf.name for leaf in b.leaves[1:] if leaf.name not in viewed]
    if not leaves:
        return False
    name = b.pick_recent(leaves)
    b.add_step(P.RequiresGrad(name, not b.requires_grad(name)), ())
    return True


def _viewed(b):
    """Values a view op (or split/chunk/unbind) was applied to, and the inputs of layer calls
    (torch's cells view an unbatched input as a batch of one)."""
    return {a for s in b.steps for a in getattr(s, "args", ())
            if getattr(s, "op", None) in VIEWS + PIECES or isinstance(s, P.Call)}


def _stepped(b):
    """Leaves a post-accumulate hook steps in place: no view of them may be taken, since the
    reference's views are copies (where a view would see the step, and its version)."""
    return {s.target for s in b.steps if isinstance(s, P.PostAccumulateHook) and s.lr}


def post_accumulate_hook_step(b):
    """The optimizer-in-backward pattern: a post-accumulate-grad hook on a leaf (a plain one
    or a layer parameter) that records `.grad`, often steps the leaf in place (`p -= lr *
    p.grad` under no_grad: a later backward through a graph that saved it raises), and may
    set `.grad` to None."""
    params = [p.name for layer in b.layers for p in layer.params]
    leaves = [n for n in [leaf.name for leaf in b.leaves] + params if b.requires_grad(n)]
    if not leaves:
        return False
    name = b.pick_recent(leaves)
    lr = None if name in _viewed(b) or b.chance(0.3) else b.pick([0.1, 0.5])
    b.add_step(P.PostAccumulateHook(name, lr, clear=b.chance(0.3)), ())
    return True


def detach_step(b):
    src = b.pick_recent(b.values)
    out = b.fresh("d")
    b.add_step(P.Detach(out, src), (out,))
    return True


def retain_step(b):
    names = _grad_values(b, leaves=False)
    if not names:
        return False
    b.add_step(P.RetainGrad(b.pick_recent(names)), ())
    return True


def hook_step(b):
    names = _grad_values(b)
    if not names:
        return False
    scale = b.pick([None, 2.0, -0.5, 0.0])
    # Leaves are most of the values early on: non-leaves get half of the hooks when there are.
    nonleaves = _grad_values(b, leaves=False)
    target = b.pick_recent(nonleaves if nonleaves and b.chance(0.5) else names)
    made_by_functions = [n for s in b.steps if isinstance(s, P.CallFunction) for n in s.outs
                         if b.requires_grad(n)]
    if made_by_functions and b.chance(b.cfg.function_output_hooks):
        target = b.pick_recent(made_by_functions)
    retained = {s.target for s in b.steps if isinstance(s, P.RetainGrad)}
    if b.cfg.retain_grad and b.can("retain_grad") and not b.tensor(target).is_leaf \
            and target not in retained and b.chance(0.5):
        # retain_grad before the hook: the retained .grad is the hook's replacement
        b.add_step(P.RetainGrad(target), ())
    b.add_step(P.TensorHook(target, scale, once=b.can("hook_self_removal")
                            and b.chance(b.cfg.self_removing_hooks)), ())
    return True


def module_hook_step(b):
    if not b.layers:
        return False
    scale = b.pick([None, 2.0, 0.5])
    b.add_step(P.ModuleHook(b.pick(b.layers).name, scale), ())
    return True
