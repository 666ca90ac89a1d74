"""`programs(config, adapter)`: the Hypothesis strategy for whole programs.

Structure first (how many steps, which kinds), then each step's operands and values, then
the backward plan. Every draw shrinks towards fewer steps, simpler ops and simple values.
"""
from hypothesis import strategies as st

from gradspec import program as P
from gradspec.vocabulary import SPECS

from .builder import Builder
from .choices import choices
from .inplace_steps import inplace_step
from .config import capability_config
from .search import swarm_config
from .steps import (ancestors, detach_step, function_step, grad_step, hook_step, layer_step,
                    module_hook_step, multi_op_step, op_step, post_accumulate_hook_step,
                    requires_grad_step, retain_step)
from .values import expand, nested

STEP_KINDS = (  # (config field, step function), tried in this order after plain ops
    ("layers", layer_step), ("functions", function_step), ("tensor_hooks", hook_step),
    ("module_hooks", module_hook_step), ("retain_grad", retain_step), ("detach", detach_step),
    ("multi_output", multi_op_step), ("requires_grad_", requires_grad_step),
    ("higher_order", grad_step), ("post_accumulate_hooks", post_accumulate_hook_step),
    ("inplace", inplace_step),
)


def programs(config, adapter):
    cfg = capability_config(config, adapter)
    if not cfg.dtypes:
        raise ValueError(f"{adapter.name} has none of the dtypes asked for ({', '.join(config.dtypes)}"
                         f"); it declares {', '.join(sorted(d for d in adapter.capabilities if d.startswith('float')))}")
    return _programs(cfg)


@st.composite
def _programs(draw, cfg):
    if cfg.swarm:
        cfg = swarm_config(choices(draw)[0], cfg)
    b = Builder(draw, cfg)
    b.new_leaf(b.draw_shape(), requires_grad=True)
    n_steps = b.integer(cfg.min_steps, cfg.max_steps)
    focus_at = b.integer(0, n_steps - 1) if cfg.focus_op else -1
    for i in range(n_steps):
        if i == focus_at:
            op_step(b, force=cfg.focus_op)
            continue
        # Every other step can be left out by one choice (drawn in full, then dropped), so
        # that the shrinker removes any step, not only the last ones: a step takes more
        # choices than it deletes at once, and deleting some of them reinterprets the rest.
        keep = b.chance(KEEP)
        mark = b.checkpoint()
        for field, step in STEP_KINDS:
            if b.chance(getattr(cfg, field)) and step(b):
                break
        else:
            op_step(b)
        if not keep:
            b.rollback(mark)
            b.stopped = False
        elif b.stopped:  # the last step raises in the forward: nothing after it would run
            break
    plan = draw_plan(b)
    return b.program(plan)


KEEP = 0.995  # a step is kept; shrinks to "left out"


# ----- the backward plan ------------------------------------------------------------------
def _roots(b):
    """Values a backward can start from: non-leaf values that require grad, latest first."""
    return [n for n in b.values if b.requires_grad(n) and not b.tensor(n).is_leaf]


def _downstream(b, op):
    """Values computed from an application of `op` (directly or through later steps)."""
    down = set()
    for s in b.steps:
        outs = (s.out,) if isinstance(s, P.Op) else getattr(s, "outs", ())
        if getattr(s, "op", None) == op or down & set(getattr(s, "args", ())):
            down.update(outs)
    return down


def draw_plan(b):
    cfg = b.cfg
    roots = _roots(b)
    if not roots and not cfg.errors:
        # No step, or everything was detached or computed under no_grad: a backward would
        # raise no_grad_fn, an error only the errors suite asks for. The first leaf requires
        # grad: a root is computed from it with an op the backend has.
        first = b.leaves[0].name
        out = b.fresh("t")
        b.add_step(_root_step(b, out, first), (out,))
        roots = [out]
    if cfg.focus_op:
        # A focus op whose result does not reach the roots is dead code, whose backward never
        # runs: the roots are drawn among the values computed from it.
        down = _downstream(b, cfg.focus_op)
        roots = [n for n in roots if n in down] or roots
    if not roots or not b.chance(cfg.weights):
        # A scalar loss over the last value, so the plan can use implicit gradients.
        last = roots[-1] if roots else b.values[-1]
        if b.value(last).ndim:
            out = b.fresh("loss")
            nd = b.value(last).ndim
            b.add_step(P.Op(out, "sum", (last,), (("dim", tuple(range(nd))), ("keepdim", False))),
                       (out,))
            if b.requires_grad(out):
                roots = roots + [out]
        if cfg.weights <= 0:  # no weighted non-scalar roots (nor the nonscalar_backward cap)
            roots = [n for n in roots if not b.value(n).ndim]
    plan = []
    # A suite that allows several actions is about sequences (accumulation, retain_graph):
    # one action is the exception there, not the rule.
    # A functional engine's several actions are Grads over one recorded forward (its
    # Backward is its plan's only action: accumulation needs .grad), so only a suite that
    # asks for Grads gives it several.
    functional = not b.can("stateful_grad")
    n_actions = 1
    if cfg.max_actions > 1 and (cfg.functional_grad or not functional) and b.chance(0.8):
        n_actions = b.integer(2, cfg.max_actions)
    for k in range(n_actions):
        if any(_frees_graph(a) for a in plan) and not (b.can("retain_graph")
                                                       or b.can("error_kinds")):
            # A later action would go through a freed graph, where torch raises: a backend
            # that can neither keep the graph (retain_graph) nor raise torch's errors
            # (error_kinds) gets no such plan.
            break
        if functional and n_actions > 1:
            plan.append(_grad_action(b, roots))
            continue
        plan.append(_action(b, roots, plan, last=k == n_actions - 1))
    return plan


def _frees_graph(action):
    """Does `action` free the graph it goes through (retain_graph left None without
    create_graph, or False)?"""
    if isinstance(action, (P.Functional, P.ZeroGrad, P.RemoveHooks)):  # own graph / none
        return False
    retain = action.retain_graph
    return not retain and not (retain is None and getattr(action, "create_graph", False))


def _removable_hooks(b, plan):
    """Values with a tensor hook still registered (not removing itself, nor removed by an
    earlier action of `plan`), in program order."""
    removed = {a.target for a in plan if isinstance(a, P.RemoveHooks)}
    hooked = [s.target for s in b.steps if isinstance(s, P.TensorHook) and not s.once]
    return [t for t in dict.fromkeys(hooked) if t not in removed]


def _action(b, roots, plan, last):
    """The next action after those of `plan` (`last`: no action follows it)."""
    previous = plan[-1] if plan else None
    if getattr(previous, "create_graph", False) and b.can("stateful_grad") and b.chance(0.8):
        return _through_grad_action(b)
    if plan and b.chance(b.cfg.zero_grad):
        return P.ZeroGrad(set_to_none=not b.chance(0.5))
    removable = [] if not plan or last else _removable_hooks(b, plan)  # a backward must follow
    if removable and b.chance(b.cfg.hook_removal):
        return P.RemoveHooks(b.pick(removable))
    if b.chance(b.cfg.functional_api):
        return _functional_action(b, roots)
    if b.chance(b.cfg.functional_grad):
        return _grad_action(b, roots)
    return _backward_action(b, roots)


def _root_step(b, out, name):
    """`out` = the sum of value `name` (its negation if 0-d), or `name + name`."""
    nd = b.value(name).ndim
    if nd and "sum" in b.cfg.ops:
        return P.Op(out, "sum", (name,), (("dim", tuple(range(nd))), ("keepdim", False)))
    if "neg" in b.cfg.ops or "add" not in b.cfg.ops:
        return P.Op(out, "neg", (name,))
    return P.Op(out, "add", (name, name))


def _pick_roots(b, roots):
    if not roots:
        return [b.values[-1]]
    first = b.pick_recent(roots)
    chosen = [first]
    if b.chance(b.cfg.multi_root):
        chosen.append(b.pick_recent(roots))
    return chosen


def _weight(b, name):
    """A gradient weight for root `name`: None (implicit) for scalars, else an array; with
    `errors`, sometimes a wrong one (implicit for a non-scalar, or the wrong shape)."""
    shape = b.value(name).shape
    if b.chance(b.cfg.errors):
        return b.pick([None, nested(expand(b.seed(), shape + (2,)), shape + (2,))])
    if not shape and not b.chance(0.3):
        return None
    flat = expand(b.seed(), shape, salt=7)
    return nested(flat, shape) if shape else flat[0]


def _retain(b):
    return b.pick([True, False]) if b.chance(b.cfg.retain_graph) else None


def _backward_action(b, roots):
    chosen = _pick_roots(b, roots)
    return P.Backward(tuple(chosen), tuple(_weight(b, r) for r in chosen), _retain(b),
                      create_graph=b.chance(b.cfg.create_graph))


def _through_grad_action(b):
    """A backward through the `.grad` a backward with create_graph=True left (of the leaves
    whose `.grad` requires grad), weighted like any root."""
    params = [p.name for layer in b.layers for p in layer.params]
    leaves = [n for n in [leaf.name for leaf in b.leaves] + params if b.requires_grad(n)]
    chosen = list(dict.fromkeys(b.pick(leaves) for _ in range(b.integer(1, 2))))
    return P.BackwardThroughGrad(tuple(chosen), tuple(_weight(b, n) for n in chosen),
                                 _retain(b))


def _grad_action(b, roots):
    chosen = _pick_roots(b, roots)
    wrt = [n for n in b.values if b.requires_grad(n)
           and (b.can("grad_wrt_nonleaf") or b.tensor(n).is_leaf)]
    if not wrt:
        wrt = b.values
    inputs = []
    for _ in range(b.integer(1, 2)):
        name = b.pick(wrt)
        if name not in inputs:
            inputs.append(name)
    batched = b.chance(b.cfg.batched_grad)
    weights = _batched_weights(b, chosen) if batched else tuple(_weight(b, r) for r in chosen)
    retain, allow_unused = _retain(b), b.chance(0.5)
    return P.Grad(tuple(chosen), tuple(inputs), weights, retain, allow_unused=allow_unused,
                  materialize_grads=allow_unused and b.chance(b.cfg.materialize_grads),
                  batched=batched)


def _batched_weights(b, roots):
    """A batch of 1 to 3 gradient weights for each root (one batch size for all): an array
    of shape (batch,) + the root's shape."""
    n = b.integer(1, 3)
    out = []
    for name in roots:
        shape = (n,) + b.value(name).shape
        flat = expand(b.seed(), shape, salt=11)
        out.append(nested(flat, shape))
    return tuple(out)


def _functional_action(b, roots):
    """torch.autograd.functional's vjp, jacobian or hessian of the program as a function of
    one or two plain leaves (mostly ones the output is computed from)."""
    kind = b.pick(P.FUNCTIONAL_KINDS)
    output = b.pick_recent(roots) if roots else b.values[-1]
    if kind == "hessian" and b.value(output).ndim:  # of a scalar: the output's sum
        out = b.fresh("loss")
        b.add_step(_root_step(b, out, output), (out,))
        output = out
        kind = "jacobian" if b.value(output).ndim else kind  # a backend without sum
    # Not a leaf a non-differentiable op (floor_divide) that the output is computed from
    # takes as an operand: the strategies draw such an op only on operands that need no
    # gradient, and f's inputs here would need one (torch raises, other engines give zeros).
    behind = set(ancestors(b, output)) | {output}
    no_derivative = set()
    for s in b.steps:
        if isinstance(s, P.Op) and s.out in behind and SPECS[s.op].group == "nondiff":
            for a in s.args:
                no_derivative |= {a} | set(ancestors(b, a))
    plain = [leaf.name for leaf in b.leaves if leaf.name not in no_derivative]
    if not plain:
        return _backward_action(b, roots)
    used = [n for n in ancestors(b, output) if n in plain]
    pool = used if used and b.chance(0.8) else plain
    inputs = tuple(dict.fromkeys(b.pick_recent(pool) for _ in range(b.integer(1, 2))))
    weight = None
    if kind == "vjp" and (b.value(output).ndim or b.chance(0.3)):
        shape = b.value(output).shape
        flat = expand(b.seed(), shape, salt=7)
        weight = nested(flat, shape) if shape else flat[0]
    return P.Functional(kind, output, inputs, weight)
