"""The op vocabulary in torch's spelling (also the text of the repro scripts)."""
from gradspec.vocabulary import index_source

from .templates import Statement, literal, target_literal


def _index(args, params):
    prefix = ":, " * params["dim"]
    return f"{args[0]}[{prefix}torch.tensor({list(params['indices'])})]"


def _where(args, params):
    return f"torch.where(torch.tensor({literal(params['condition'])}), {args[0]}, {args[1]})"


def _cross_entropy(args, params):
    return f"torch.nn.functional.cross_entropy({args[0]}, torch.tensor({target_literal(params)}))"


TORCH_TEMPLATES = {
    **{name: f"torch.{name}({{0}})" for name in (
        "neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
        "reciprocal", "sign", "round")},
    "pow": "torch.pow({0}, {exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "torch.maximum({0}, {1})",
    "minimum": "torch.minimum({0}, {1})",
    "matmul": "torch.matmul({0}, {1})",
    "linear": "torch.nn.functional.linear({args})",
    "sum": "torch.sum({0}, dim={dim}, keepdim={keepdim})",
    "mean": "torch.mean({0}, dim={dim}, keepdim={keepdim})",
    "max": "torch.max({0}, dim={dim}, keepdim={keepdim}).values",
    "logsumexp": "torch.logsumexp({0}, dim={dim}, keepdim={keepdim})",
    "softmax": "torch.softmax({0}, dim={dim})",
    "log_softmax": "torch.log_softmax({0}, dim={dim})",
    "reshape": "{0}.reshape({shape})",
    "transpose": "{0}.transpose({dim0}, {dim1})",
    "permute": "{0}.permute({dims})",
    "expand": "{0}.expand({shape})",
    "unsqueeze": "{0}.unsqueeze({dim})",
    "squeeze": "{0}.squeeze({dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "torch.cat([{args}], dim={dim})",
    "stack": "torch.stack([{args}], dim={dim})",
    "where": _where,
    "mse_loss": "torch.nn.functional.mse_loss({0}, {1})",
    "cross_entropy": _cross_entropy,
    # several outputs (MultiOp steps unpack them)
    "max_dim": "torch.max({0}, dim={dim}, keepdim={keepdim})",
    "min_dim": "torch.min({0}, dim={dim}, keepdim={keepdim})",
    "sort": "torch.sort({0}, dim={dim}, descending={descending})",
    "topk": "torch.topk({0}, {k}, dim={dim}, largest={largest})",
    "split": "torch.split({0}, {split_size}, dim={dim})",
    "chunk": "torch.chunk({0}, {chunks}, dim={dim})",
    "unbind": "torch.unbind({0}, dim={dim})",
}


def _setitem(args, params):
    value = args[1] if len(args) > 1 else literal(params["value"])
    return f"{args[0]}[{index_source(params['index'])}] = {value}"


# In-place ops (InPlace steps, vocabulary.INPLACE): {0} is the target; each returns it.
INPLACE_TEMPLATES = {
    "add_": "{0}.add_({1})",
    "mul_": "{0}.mul_({1})",
    "clamp_": "{0}.clamp_(min={min}, max={max})",
    "relu_": "{0}.relu_()",
    "masked_fill_": "{0}.masked_fill_(torch.tensor({mask}), {value})",
    "setitem": Statement(_setitem),  # `t[index] = other` or `t[index] = value`
}
