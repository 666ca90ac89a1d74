"""The backward pass: `backward` (accumulates into `.grad`) and `grad` (returns gradients).

One loop, like micrograd's grown up: count dependencies, run ready nodes in torch's order
(highest sequence number first; leaf accumulators before anything else), sum the gradients
arriving at each node, run hooks where torch runs them, free saved tensors unless
`retain_graph`. Recording is on during the pass only with `create_graph=True`, so the same
vjps give higher-order gradients.
"""
import heapq
import itertools
import sys

from . import errors
from .grad_mode import set_grad_enabled
from .graph import gradient_edge
from .ops import sum_to
from .tensor import Tensor, ones_like, zeros_like


def _shape_str(shape):
    return f"torch.Size({list(shape)})"


def _make_grads(outputs, grads):
    """Default and check the root gradients exactly as `torch.autograd._make_grads` does."""
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if isinstance(g, Tensor):
            if g.shape != out.shape:
                raise errors.GradShapeMismatchError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {_shape_str(g.shape)} "
                    f"and output[{i}] has a shape of {_shape_str(out.shape)}.")
            if g.dtype != out.dtype:
                g = Tensor(g.data.astype(out.dtype), requires_grad=g.requires_grad)
            result.append(g)
        elif g is None:
            if out.requires_grad:
                if out.numel() != 1:
                    raise errors.NonScalarImplicitGradError(
                        "grad can be implicitly created only for scalar outputs")
                result.append(ones_like(out))
            else:
                result.append(None)
        else:
            raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
    return result


def _as_list(x):
    if x is None:
        return None
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """`torch.autograd.backward`: accumulate d(sum_i <grad_i, tensor_i>)/d(leaf) into `.grad`."""
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"grad_tensors should have the same length as tensors: got "
                           f"{len(grads)} and {len(tensors)}")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(tensors, grads)
    inputs = _as_list(inputs)
    if inputs is not None and len(inputs) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    _run(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """`torch.autograd.grad`: the gradients w.r.t. `inputs`, leaving every `.grad` untouched."""
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grad_outputs = _as_list(grad_outputs) or [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} "
                           f"and {len(outputs)}")
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if retain_graph is None:
        retain_graph = create_graph
    grad_outputs = _make_grads(outputs, grad_outputs)
    for t in inputs:
        if not t.requires_grad:
            raise errors.InputNoGradError("One of the differentiated Tensors does not require grad")
    result = _run(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs,
                  accumulate=False)
    for i, g in enumerate(result):
        if g is None:
            if not allow_unused:
                raise errors.UnusedInputError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                result[i] = zeros_like(inputs[i])
    return tuple(result)


def _run(roots, root_grads, retain_graph, create_graph, inputs, accumulate):
    root_edges = []
    for i, t in enumerate(roots):
        edge = gradient_edge(t)
        if edge is None:
            raise errors.NoGradFnError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        root_edges.append(edge)

    deps = _dependencies(n for n, _ in root_edges)
    captures = {}  # node -> [(input_nr, index in `inputs`)]
    needed = receives = None  # None: run every reachable node
    if inputs is not None:
        edges = [gradient_edge(t) for t in inputs]
        for k, (node, nr) in enumerate(edges):
            captures.setdefault(node, []).append((nr, k))
        needed = _needed(deps, set(captures) if not accumulate else set(),
                         set(captures) if accumulate else set())
        receives = needed | set(captures)
    captured = [None] * (len(inputs) if inputs is not None else 0)

    buffers = {}
    ready = []
    tie = itertools.count()

    def send(node, nr, g):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.num_outputs
        if g is not None:
            buf[nr] = g if buf[nr] is None else buf[nr] + g
        deps[node] -= 1
        if deps[node] == 0:
            heapq.heappush(ready, (-node.seq, next(tie), node))

    with set_grad_enabled(create_graph):
        for (node, nr), g in zip(root_edges, root_grads):
            send(node, nr, g)
        while ready:
            node = heapq.heappop(ready)[2]
            grads = _call_tensor_pre_hooks(node, buffers.pop(node))
            for nr, k in captures.get(node, ()):
                captured[k] = grads[nr]
            if needed is not None and node not in needed:
                continue
            _run_node(node, grads, retain_graph, send, receives)
    return captured


def _run_node(node, grads, retain_graph, send, receives):
    for hook in node.pre_hooks:
        new = hook(tuple(grads))
        if new is not None:
            grads = list(new)
    outs = node.apply(grads)
    outs = _validate_outputs(node, outs)  # before post hooks, as in torch's call_function
    for hook in node.post_hooks:
        new = hook(tuple(outs), tuple(grads))
        if new is not None:
            outs = _check_hook_result(hook, tuple(outs), tuple(new))
    if not retain_graph:  # only once the node succeeded: a failed node keeps its buffers
        node.release()
    for edge, g in zip(node.next_edges, outs):
        if edge is None or (receives is not None and edge[0] not in receives):
            continue
        send(edge[0], edge[1], g)


def _check_hook_result(hook, old, new):
    """torch's check_result for a node post hook: same count, no None made a value, same size."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if len(new) != len(old):
        raise RuntimeError(f"hook '{name}' has returned an incorrect number of values "
                           f"(got {len(new)}, but expected {len(old)})")
    for o, n in zip(old, new):
        if n is not None and o is None:
            raise RuntimeError("can't replace a None gradient with a non-None value")
        if n is not None and n.shape != o.shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value (was "
                               f"{list(o.shape)} got {list(n.shape)})")
    return new


def _call_tensor_pre_hooks(node, grads):
    """Tensor hooks of the node's outputs, then retain_grad (always last, as in torch 2.x)."""
    if node.tensor_pre_hooks:
        for nr, hooks in node.tensor_pre_hooks.items():
            for hook in list(hooks):  # called with None for an undefined grad, as torch
                new = hook(grads[nr])
                if new is not None:
                    grads[nr] = new
    variable = getattr(node, "variable", None)
    if variable is not None and variable._hooks:
        for hook in list(variable._hooks):
            new = hook(grads[0])
            if new is not None:
                grads[0] = new
    if node.retains_grad:
        for nr, t in node.retains_grad.items():
            t._retain_hook(grads[nr])
    return grads


def _validate_outputs(node, outs):
    """torch's validate_outputs: count, then shape (a broadcastable gradient is summed down)."""
    edges = node.next_edges
    if len(outs) != len(edges):
        raise errors.CustomGradCountError(
            f"function {node.name} returned an incorrect number of gradients "
            f"(expected {len(edges)}, got {len(outs)})")
    result = []
    for i, (edge, g) in enumerate(zip(edges, outs)):
        if edge is None or g is None:
            result.append(g)
            continue
        shape = edge[0].out_meta[edge[1]][0]
        if g.shape != shape:
            if not _expandable(shape, g.shape):
                raise errors.CustomGradShapeError(
                    f"Function {node.name} returned an invalid gradient at index {i} - got "
                    f"{list(g.shape)} but expected shape compatible with {list(shape)}")
            g = sum_to(g, shape)
        result.append(g)
    return result


def _expandable(shape, target):
    """Can a tensor of `shape` be broadcast to `target`?"""
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _dependencies(root_nodes):
    deps = {}
    stack = []
    for n in root_nodes:
        if n not in deps:
            deps[n] = 0
            stack.append(n)
        deps[n] += 1
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            nxt = edge[0]
            if nxt not in deps:
                deps[nxt] = 0
                stack.append(nxt)
            deps[nxt] += 1
    return deps


def _needed(reachable, captured, accumulate_targets):
    """Nodes on a path to an input: the only ones run by `grad(inputs=...)`.

    A captured node itself is run only if it also leads to another input; an accumulator named
    in `backward(inputs=...)` is run (that is where it accumulates).
    """
    memo = {}

    def leads(node):  # does running `node` matter for some input?
        if node in memo:
            return memo[node]
        memo[node] = False
        result = node in accumulate_targets
        for edge in node.next_edges:
            if edge is not None and (edge[0] in captured or edge[0] in accumulate_targets
                                     or leads(edge[0])):
                result = True
        memo[node] = result
        return result

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(reachable) + 100))
    try:
        return {n for n in reachable if leads(n)}
    finally:
        sys.setrecursionlimit(limit)
