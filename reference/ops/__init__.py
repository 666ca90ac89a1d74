"""The op vocabulary of the reference engine. One place per op: forward and vjp side by side.

Every vjp is written with these same ops, so the backward pass can itself be recorded
(`create_graph=True`) and differentiated again.
"""
from .elementwise import (abs, add, add_scalar, clone, cos, div, exp, log, maximum, minimum,
                          mul, neg, pow, rdiv_scalar, reciprocal, relu, round, rsub_scalar,
                          scale, sigmoid, sign, sin, sqrt, sub, tanh, where)
from .linalg import linear, matmul
from .losses import cross_entropy, mse_loss, nll_loss
from .multi import (chunk, gather, max_dim, min_dim, scatter_zeros, sort, split, topk,
                    unbind)
from .reduction import log_softmax, logsumexp, max, mean, softmax, sum
from .shape import (cat, expand, getitem, getitem_backward, index, index_add_zeros, permute,
                    reshape, squeeze, stack, sum_to, transpose, unsqueeze)

__all__ = [
    "abs", "add", "add_scalar", "clone", "cos", "div", "exp", "log", "maximum", "minimum", "mul",
    "neg", "pow", "rdiv_scalar", "reciprocal", "relu", "round", "rsub_scalar", "scale",
    "sigmoid", "sign", "sin", "sqrt", "sub", "tanh", "where", "linear", "matmul",
    "cross_entropy", "mse_loss", "nll_loss", "log_softmax", "logsumexp", "max", "mean",
    "softmax", "sum", "cat", "expand", "getitem", "getitem_backward", "index",
    "index_add_zeros", "permute", "reshape", "squeeze", "stack", "sum_to", "transpose",
    "unsqueeze", "chunk", "gather", "max_dim", "min_dim", "scatter_zeros", "sort", "split",
    "topk", "unbind",
]
