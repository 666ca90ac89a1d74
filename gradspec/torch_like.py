"""The verbs every engine with torch's API shape answers the same way (torch itself and the
reference): subclasses set `self.api` to the module that has `autograd.backward`,
`autograd.grad`, `autograd.Function` and `no_grad`, and add tensors, ops and layers."""
import warnings

from .functions import torch_like_function

from .adapter import Adapter


class TorchLikeAdapter(Adapter):
    api = None

    def requires_grad(self, t):
        return t.requires_grad

    def no_grad(self):
        return self.api.no_grad()

    def grad_mode(self, mode):
        api = self.api
        return {"no_grad": self.no_grad, "enable_grad": api.enable_grad,
                "set_grad_enabled(False)": lambda: api.set_grad_enabled(False),
                "set_grad_enabled(True)": lambda: api.set_grad_enabled(True),
                "inference_mode": api.inference_mode}[mode]()

    def set_requires_grad(self, t, flag):
        t.requires_grad_(flag)

    def detach(self, t):
        return t.detach()

    def retain_grad(self, t):
        t.retain_grad()

    def register_hook(self, t, fn):
        return t.register_hook(fn)

    def remove_hook(self, handle):
        handle.remove()

    def register_post_accumulate_hook(self, t, fn):
        return t.register_post_accumulate_grad_hook(fn)

    def sgd_step(self, t, lr):
        with self.api.no_grad():
            t.add_(t.grad, alpha=-lr)

    def call_layer(self, module, layer, args):
        if layer.kind == "linear":
            return (module(args[0]),)
        if layer.kind == "rnn_cell":
            return (module(args[0]) if args[1] is None else module(args[0], args[1]),)
        x, h, c = args
        return tuple(module(x) if h is None else module(x, (h, c)))

    def register_module_hook(self, module, fn):
        return module.register_full_backward_hook(lambda m, gi, go: fn(gi, go))

    def custom_function(self, spec, forward_values, backward_values):
        return torch_like_function(self.api.autograd.Function, spec, forward_values,
                                   backward_values)

    def backward(self, roots, weights, retain_graph, create_graph):
        if not create_graph:
            self.api.autograd.backward(roots, weights, retain_graph=retain_graph)
            return
        with warnings.catch_warnings():
            # torch warns that create_graph=True makes a reference cycle through .grad
            warnings.simplefilter("ignore", UserWarning)
            self.api.autograd.backward(roots, weights, retain_graph=retain_graph,
                                       create_graph=True)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused,
             materialize_grads=False, is_grads_batched=False):
        if is_grads_batched:
            return self.batched_grad(outputs, inputs, weights, retain_graph, create_graph,
                                     allow_unused, materialize_grads)
        return self.api.autograd.grad(outputs, inputs, weights, retain_graph=retain_graph,
                                      create_graph=create_graph, allow_unused=allow_unused,
                                      materialize_grads=materialize_grads)

    def batched_grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                     materialize_grads):
        """grad() over the rows of the weights (their first dimension), as the loop of one
        grad() a row: what torch's is_grads_batched must equal. The graph is kept for every
        row but the last, which frees it as `retain_graph` says."""
        n = int(weights[0].shape[0])
        rows = []
        for k in range(n):
            args = (outputs, inputs, [w[k] for w in weights])
            try:
                rows.append(self.grad(*args, True if k < n - 1 else retain_graph, create_graph,
                                      allow_unused, materialize_grads))
            except Exception:
                if k < n - 1:
                    # torch's one batched call runs the backward once, as the last row does:
                    # an error it raises after running (an unused input) has freed the graph
                    # as `retain_graph` says. That row again raises it the same way.
                    self.grad(*args, retain_graph, create_graph, allow_unused,
                              materialize_grads)
                raise
        return tuple(None if rows[0][j] is None else self.api.stack([r[j] for r in rows])
                     for j in range(len(inputs)))

    def functional(self, kind, f, inputs, weight):
        functional = self.api.autograd.functional
        if kind == "vjp":
            out, grads = functional.vjp(f, tuple(inputs), weight)
            return (out,) + tuple(grads)
        return getattr(functional, kind)(f, tuple(inputs))

    def read_grad(self, t):
        return t.grad

    def zero_grad(self, tensors, set_to_none):
        """Exactly `torch.nn.Module.zero_grad` / `Optimizer.zero_grad` on these tensors."""
        for p in tensors:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()
