"""What a suite asks the program strategy for: sizes, ops and which features to mix in.

A suite states its concern by turning features up (e.g. `layers=0.6`) and the strategy
filters everything by the adapter's capabilities, so no program asks for what the
backend cannot express.
"""
from dataclasses import dataclass, field, replace

from gradspec.capabilities import RECORDS
from gradspec.vocabulary import ALL_OPS, INPLACE, MULTI_OUTPUT, PIECEWISE_CONSTANT


@dataclass(frozen=True)
class Config:
    max_steps: int = 8
    min_steps: int = 1
    ops: frozenset = field(default_factory=lambda: ALL_OPS - frozenset(PIECEWISE_CONSTANT))
    dtypes: tuple = ("float64", "float32")
    # Probabilities (0..1) of each kind of step, relative to plain ops.
    layers: float = 0.0
    functions: float = 0.0
    tensor_hooks: float = 0.0
    module_hooks: float = 0.0
    retain_grad: float = 0.0
    detach: float = 0.0
    no_grad: float = 0.0
    multi_output: float = 0.0  # a step of an op with several outputs (from `multi_ops`)
    multi_ops: frozenset = frozenset(MULTI_OUTPUT)
    grad_modes: float = 0.0  # an op inside nested grad modes (enable_grad, inference_mode, ...)
    requires_grad_: float = 0.0  # a requires_grad_() step switching a leaf
    # The chance a step that raises in the forward (a recorded op saving an inference tensor)
    # is kept, the program ending there; else it is left out.
    forward_errors: float = 0.0
    higher_order: float = 0.0  # a GradStep: autograd.grad(..., create_graph=True) as values
    post_accumulate_hooks: float = 0.0  # a post-accumulate-grad hook (optimizer in backward)
    self_removing_hooks: float = 0.0  # chance a tensor hook removes itself when first called
    hook_removal: float = 0.0  # chance a later plan action removes a hook through its handle
    function_output_hooks: float = 0.0  # chance a hook goes on a custom Function's output
    inplace: float = 0.0  # an in-place op (add_, mul_, clamp_, relu_, masked_fill_, x[i] = v)
    inplace_ops: frozenset = frozenset(INPLACE)
    inplace_views: float = 0.5  # chance an in-place op writes through a fresh view of its target
    # The plan.
    max_actions: int = 1
    # The chance a root keeps its non-scalar shape and gets gradient weights: an implicit
    # gradient through a sum is uniform, under which a permuted gradient looks right.
    weights: float = 0.75
    multi_root: float = 0.0
    retain_graph: float = 0.0  # chance an action sets retain_graph explicitly
    # chance a backward has create_graph=True (then often a backward through `.grad` follows)
    create_graph: float = 0.0
    zero_grad: float = 0.0
    functional_grad: float = 0.0
    materialize_grads: float = 0.0  # chance a grad() with allow_unused materializes zeros
    batched_grad: float = 0.0  # chance a grad() takes a batch of weights (is_grads_batched)
    functional_api: float = 0.0  # chance an action is torch.autograd.functional's vjp/jacobian/..
    errors: float = 0.0  # chance of deliberately erroneous plans / custom backwards
    broadcast: float = 0.3  # chance a new operand gets a broadcasting shape
    focus_op: str = ""  # the op every program must use at least once
    swarm: bool = False  # each program first draws which features it uses (strategies/search.py)
    caps: frozenset = frozenset()  # the backend's capabilities (set by capability_config)

    def but(self, **changes):
        return replace(self, **changes)


def capability_config(config, adapter):
    """`config` restricted to what `adapter` declares."""
    caps = adapter.capabilities
    c = config.but(
        ops=frozenset(config.ops) & frozenset(adapter.ops),
        multi_ops=frozenset(config.multi_ops) & frozenset(adapter.ops),
        inplace_ops=frozenset(config.inplace_ops) & frozenset(adapter.ops),
        dtypes=tuple(d for d in config.dtypes if d in caps),
        caps=frozenset(caps),
    )
    off = {knob: 0.0 for cap in RECORDS if cap.name not in caps for knob in cap.knobs}
    if "module_hooks" not in off and "layers" not in caps:
        off["module_hooks"] = 0.0
    if "stateful_grad" not in caps:
        off.update(zero_grad=0.0)
        if "retain_graph" not in caps:
            # A vjp per action, of a fresh forward: nothing outlives a call.
            off.update(retain_graph=0.0, max_actions=1)
        # Else a recorded forward (gradspec/adapter.py): plans of several actions are Grads
        # (programs.draw_plan), each a gradient of the one recording.
    return c.but(**off)
