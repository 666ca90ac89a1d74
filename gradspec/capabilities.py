"""What a backend can express: one record per capability, declared here once.

An adapter lists the capability names it has (`Adapter.capabilities`); from the records
derive the table in the docs, the adapter methods each capability needs
(`gradspec.adapter.check_adapter`), and the strategy knobs each one gates
(`strategies.config.capability_config`): a knob is turned off for a backend without it.
Which capabilities a given program needs is `Program.requirements` (gradspec/program.py).
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    name: str
    doc: str
    knobs: tuple = ()  # strategies.Config fields (chances of a feature) it gates
    methods: tuple = ()  # adapter methods it needs
    stateful_methods: tuple = ()  # ... only on an engine with `stateful_grad`
    functional_methods: tuple = ()  # ... only on one without (a functional engine)

    def needs(self, stateful):
        return self.methods + (self.stateful_methods if stateful else self.functional_methods)


RECORDS = (
    Capability("float64", "tensors in float64"),
    Capability("float32", "tensors in float32"),
    Capability("stateful_grad",
               "gradients accumulate in `.grad` across backward calls (torch-style)"),
    Capability("zero_grad", "`.grad` can be reset to None or zeros", knobs=("zero_grad",),
               methods=("zero_grad",)),
    Capability("nonscalar_backward", "backward of a non-scalar root with gradient weights",
               knobs=("weights",)),
    Capability("multi_root", "one backward call over several roots with their own weights",
               knobs=("multi_root",)),
    Capability("retain_graph",
               "retain_graph=True/False and the freed-graph error on a second backward",
               knobs=("retain_graph",)),
    # A functional engine answers Grad actions with `vjp` (gradspec/interpreter.py).
    Capability("functional_grad", "autograd.grad(outputs, inputs, ...) returning gradients",
               knobs=("functional_grad",), stateful_methods=("grad",)),
    Capability("retain_grad", "`.grad` of a non-leaf after retain_grad()",
               knobs=("retain_grad",), methods=("retain_grad",)),
    Capability("detach", "detach() cuts the graph", knobs=("detach",), methods=("detach",)),
    Capability("no_grad", "a no_grad() context that stops recording", knobs=("no_grad",)),
    Capability("tensor_hooks", "register_hook on leaves and non-leaves, replacing the gradient",
               knobs=("tensor_hooks",), methods=("register_hook",)),
    Capability("module_hooks", "full backward hooks on modules (grad_input, grad_output)",
               knobs=("module_hooks",), methods=("register_module_hook",)),
    Capability("layers", "Linear, RNNCell and LSTMCell modules", knobs=("layers",),
               methods=("make_layer", "call_layer")),
    Capability("custom_function", "user-defined Functions with forward/backward and a ctx",
               knobs=("functions",), methods=("custom_function",)),
    Capability("error_kinds",
               "torch's errors (freed graph, non-scalar implicit grad, shape mismatch, ...)",
               knobs=("errors", "forward_errors")),
    Capability("create_graph",
               "higher-order gradients via autograd.grad(..., create_graph=True): gradients "
               "used as values (a functional engine: a vjp nested in the function "
               "differentiated)", knobs=("higher_order",)),
    Capability("backward_create_graph",
               "backward(create_graph=True): `.grad` itself requires grad, and a backward "
               "through it accumulates the second-order term", knobs=("create_graph",)),
    Capability("grad_wrt_nonleaf", "autograd.grad w.r.t. intermediate (non-leaf) values"),
    Capability("needs_input_grad", "custom Functions can read ctx.needs_input_grad"),
    Capability("materialize_grads", "custom Functions can receive None for unused outputs "
               "(set_materialize_grads(False))"),
    Capability("non_differentiable", "custom Functions can mark outputs non-differentiable"),
    Capability("multi_output",
               "ops with several outputs (max/min along a dim and sort/topk with their "
               "indices; split, chunk, unbind), as declared in `ops`", knobs=("multi_output",)),
    Capability("grad_modes",
               "enable_grad() (inside no_grad too) and set_grad_enabled(True/False), nested",
               knobs=("grad_modes",), methods=("grad_mode",)),
    Capability("inference_mode", "inference_mode(), and the error when a recorded op saves an "
               "inference tensor", methods=("grad_mode",)),
    Capability("requires_grad_", "requires_grad_(True/False) on a leaf",
               knobs=("requires_grad_",), methods=("set_requires_grad",)),
    Capability("shares_storage",
               "`shares_storage(a, b)`: does detach() alias its source's memory?",
               methods=("shares_storage",)),
    Capability("post_accumulate_hooks",
               "register_post_accumulate_grad_hook on leaves, and an in-place step of the leaf "
               "under no_grad from inside it", knobs=("post_accumulate_hooks",),
               methods=("register_post_accumulate_hook", "sgd_step")),
    Capability("hook_removal", "a tensor hook removed through its handle between backward calls",
               knobs=("hook_removal",), methods=("remove_hook",)),
    Capability("hook_self_removal",
               "a tensor hook that removes itself through its handle while the engine runs the "
               "hooks of a backward", knobs=("self_removing_hooks",), methods=("remove_hook",)),
    Capability("batched_grad",
               "grad() over a batch of gradient weights at once (their first dimension: "
               "torch's is_grads_batched, a vmap of the vjp), equal to one vjp a row",
               knobs=("batched_grad",), functional_methods=("vjp_batched",)),
    Capability("materialize_unused_grads",
               "autograd.grad(..., materialize_grads=True): zeros, not None, for an input the "
               "outputs do not use", knobs=("materialize_grads",)),
    Capability("inplace",
               "in-place ops on non-leaf tensors and on views of them (`inplace`, the ops it "
               "declares in `ops`), torch's version counter and in-place errors",
               knobs=("inplace",), methods=("inplace",)),
    Capability("functional_api",
               "torch.autograd.functional's vjp, jacobian and hessian of a function of tensors "
               "(JAX's jax.vjp, jacrev, hessian)", knobs=("functional_api",),
               methods=("functional",)),
)

BY_NAME = {c.name: c for c in RECORDS}
CAPABILITIES = {c.name: c.doc for c in RECORDS}  # name -> what it means
# Capabilities of a group of ops (gradspec/vocabulary): declared with none of the group's ops
# in `ops`, their suite would check nothing.
OF_OPS = {"inplace": "inplace", "multi_output": "multi"}
