"""Custom Functions given as data (`program.FunctionSpec`), evaluated with any backend's ops.

`run_forward` and `run_backward` compute what the user-written forward and backward would;
`torch_like_function` wires them into an engine whose API is shaped like
`torch.autograd.Function` (torch itself, and the reference).
"""


def run_forward(spec, op, inputs):
    outs = []
    for expr in spec.forward:
        name, idx = expr[0], expr[1]
        args = [inputs[i] for i in idx]
        outs.append(op("scale", *args, c=expr[2]) if name == "scale" else op(name, *args))
    return tuple(outs)


def saved_tensors(spec, inputs, outputs):
    return tuple(inputs[i] if kind == "input" else outputs[i] for kind, i in spec.saved)


def run_backward(spec, op, grads, saved, needs_input_grad):
    """One gradient (or None) per input, summing each rule's terms; None grads are skipped."""
    result = []
    for i, rule in enumerate(spec.backward):
        if rule.check_needs and not needs_input_grad[i]:
            result.append(None)
            continue
        total = None
        for term in rule.terms:
            g = grads[term.output]
            if g is None:
                continue
            kind = term.factor[0]
            if kind == "const":
                g = op("scale", g, c=term.factor[1])
            elif kind == "saved":
                g = op("mul", g, saved[term.factor[1]])
            elif kind == "cos_saved":
                g = op("mul", g, op("cos", saved[term.factor[1]]))
            total = g if total is None else op("add", total, g)
        result.append(total)
    if spec.grad_shape_error and result and result[0] is not None:
        # Flattened and doubled: a shape the input cannot be broadcast to (unless it has one
        # element, where torch sums it down instead; the reference models both).
        flat = op("reshape", result[0], shape=(-1,))
        result[0] = op("cat", flat, flat, dim=0)
    result.extend(op("scale", g, c=1.0) for g in grads[:1] * spec.extra_grads if g is not None)
    return tuple(result)


def torch_like_function(function_base, spec, forward_values, backward_values):
    """`apply` of a `function_base` subclass (torch.autograd.Function or the reference's) whose
    forward and backward compute `spec` through the interpreter-given callables."""

    def forward(ctx, *inputs):
        outputs = forward_values(inputs)
        ctx.save_for_backward(*saved_tensors(spec, inputs, outputs))
        if not spec.materialize_grads:
            ctx.set_materialize_grads(False)
        if spec.non_differentiable:
            ctx.mark_non_differentiable(*(outputs[j] for j in spec.non_differentiable))
        return outputs

    def backward(ctx, *grads):
        # Read saved_tensors only if something was saved, as a hand-written backward would
        # (torch raises on reading them after the graph was freed, even when empty).
        saved = ctx.saved_tensors if spec.saved else ()
        return backward_values(grads, saved, ctx.needs_input_grad)

    cls = type(spec.name, (function_base,), {"forward": staticmethod(forward),
                                            "backward": staticmethod(backward)})
    return cls.apply
