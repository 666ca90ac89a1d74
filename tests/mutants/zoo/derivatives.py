"""Wrong local derivatives: an op's forward is torch's own, its backward a custom Function
computing a wrong vjp (unary, binary, shape, reduction, indexing, loss ops; broadcasting).
"""
import torch

from .base import OpMutant, _dims, unbroadcast, vjp
from .killers import BROADCAST, OP


class SinSign(OpMutant):
    id = "sin-sign"
    area = "unary derivative (blatant)"
    description = "d sin(x)/dx = -cos(x): a sign slip"
    killers = (OP("sin"),)
    targets = ("sin",)

    def bad_vjp(self, name, params, xs, g, real):
        return [-g * torch.cos(xs[0])]


class ExpRelative1e4(OpMutant):
    id = "exp-rel-1e-4"
    area = "unary derivative (subtle)"
    description = "exp's vjp is 1e-4 too large (relative): a truncated series / bad constant"
    killers = (OP("exp"),)
    targets = ("exp",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g * torch.exp(xs[0]) * (1 + 1e-4)]


class TanhInFloat32(OpMutant):
    id = "tanh-float32"
    area = "unary derivative (subtle)"
    description = "tanh's vjp is computed in float32 inside a float64 engine"
    killers = (OP("tanh"),)
    targets = ("tanh",)

    def bad_vjp(self, name, params, xs, g, real):
        y = torch.tanh(xs[0].float())
        return [(g.float() * (1 - y * y)).to(g.dtype)]


class ReluEverywhere(OpMutant):
    id = "relu-identity-grad"
    area = "unary derivative (blatant)"
    description = "relu passes the gradient through negative inputs too"
    killers = (OP("relu"),)
    targets = ("relu",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g.clone()]


class PowExponentFactor(OpMutant):
    id = "pow-no-exponent-factor"
    area = "unary derivative (blatant)"
    description = "d x^n/dx = x^(n-1): the factor n is dropped"
    killers = (OP("pow"),)
    targets = ("pow",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g * xs[0] ** (params["exponent"] - 1)]


class MulOwnOperand(OpMutant):
    id = "mul-own-operand"
    area = "binary derivative"
    description = "d(a*b)/da is taken as a instead of b (operands mixed up in the vjp)"
    killers = (OP("mul"),)
    targets = ("mul",)

    def bad_vjp(self, name, params, xs, g, real):
        return vjp(lambda a, b: (a * a + b * b) / 2, xs, g)  # d/da = a, d/db = b


class DivDenominatorSign(OpMutant):
    id = "div-denominator-sign"
    area = "binary derivative"
    description = "d(a/b)/db = +a/b^2: the sign of the denominator's gradient is lost"
    killers = (OP("div"),)
    targets = ("div",)

    def bad_vjp(self, name, params, xs, g, real):
        a, b = xs
        return [unbroadcast(g / b, a.shape), unbroadcast(g * a / (b * b), b.shape)]


class BroadcastMean(OpMutant):
    id = "broadcast-mean"
    area = "broadcasting"
    description = "binary ops reduce a broadcast gradient with mean instead of sum"
    killers = (BROADCAST, OP("add"))
    targets = ("add", "sub", "mul", "div", "maximum", "minimum")

    def saves_for(self, name):
        return name not in ("add", "sub")  # torch's add and sub nodes save no tensors

    def bad_vjp(self, name, params, xs, g, real):
        shape = torch.broadcast_shapes(*(x.shape for x in xs))
        full = [x.expand(shape) for x in xs]
        grads = vjp(real, full, g)
        out = []
        for x, gr in zip(xs, grads):
            while gr.dim() > x.dim():
                gr = gr.mean(0)
            for d, size in enumerate(x.shape):
                if size == 1 and gr.shape[d] != 1:
                    gr = gr.mean(d, keepdim=True)
            out.append(gr)
        return out


class MatmulReshapedNotTransposed(OpMutant):
    id = "matmul-reshape-not-transpose"
    area = "matmul derivative (transposition)"
    description = "matmul's dB is computed as (g^T A) and reshaped to B's shape, not transposed"
    killers = (OP("matmul"),)
    targets = ("matmul",)

    def bad_vjp(self, name, params, xs, g, real):
        da, db = vjp(real, xs, g)
        if db.dim() >= 2:
            db = db.mT.contiguous().reshape(db.shape)
        return [da, db]


class ReshapeAsTranspose(OpMutant):
    id = "reshape-as-transpose"
    area = "shape derivative (non-square only)"
    description = ("a reshape to the reversed shape (m x n to n x m) is differentiated as a "
                   "transpose, all axes reversed like .T (shows only on non-square shapes)")
    killers = (OP("reshape"),)
    targets = ("reshape",)
    saves = False

    def applies(self, name, args, params):
        shape = tuple(args[0].shape)
        return len(shape) >= 2 and tuple(params["shape"]) == shape[::-1] != shape

    def bad_vjp(self, name, params, xs, g, real):
        return [g.permute(tuple(reversed(range(g.dim())))).contiguous()]


class MeanMirroredDim(OpMutant):
    id = "mean-mirrored-dim"
    area = "reduction derivative (non-square only)"
    description = ("mean's vjp divides by the size of dim -1-d instead of d (a dim normalized "
                   "with the wrong sign; shows only on non-square shapes)")
    killers = (OP("mean"),)
    targets = ("mean",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        shape = xs[0].shape
        dims = _dims(params["dim"], len(shape))
        right = wrong = 1
        for d in dims:
            right *= shape[d]
            wrong *= shape[-1 - d]
        return [grad * right / wrong]


class SumKeepdimFalse(OpMutant):
    id = "sum-keepdim-false"
    area = "reduction derivative (keepdim=False only)"
    description = ("sum's vjp re-inserts the reduced dims at the end, not at their positions "
                   "(shows only with keepdim=False over a non-trailing dim)")
    killers = (OP("sum"),)
    targets = ("sum",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        if x.dim() == 0 or params["keepdim"]:
            return vjp(real, xs, g)
        for _ in _dims(params["dim"], x.dim()):
            g = g.unsqueeze(-1)
        return [g.expand(x.shape).contiguous()]


class MaxFirstElement(OpMutant):
    id = "max-first-element"
    area = "reduction derivative"
    description = "max along a dim routes the gradient to the slice's first element, not argmax"
    killers = (OP("max"),)
    targets = ("max",)

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        dim = params["dim"] % x.dim()
        if not params["keepdim"]:
            g = g.unsqueeze(dim)
        index = torch.zeros(g.shape, dtype=torch.long)
        return [torch.zeros_like(x).scatter(dim, index, g)]


class SoftmaxUncentered(OpMutant):
    id = "softmax-uncentered"
    area = "softmax derivative"
    description = "softmax's vjp is s*g, missing the -s*sum(s*g) term"
    killers = (OP("softmax"),)
    targets = ("softmax",)

    def bad_vjp(self, name, params, xs, g, real):
        return [real(xs[0]) * g]


class LogSoftmaxNoSum(OpMutant):
    id = "log-softmax-no-sum"
    area = "softmax derivative"
    description = "log_softmax's vjp is g - softmax*g instead of g - softmax*sum(g)"
    killers = (OP("log_softmax"),)
    targets = ("log_softmax",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g - torch.exp(real(xs[0])) * g]


class PermuteNotInverted(OpMutant):
    id = "permute-not-inverted"
    area = "shape derivative"
    description = "permute's vjp applies the permutation again instead of its inverse"
    killers = (OP("permute"),)
    targets = ("permute",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        return [g.permute(params["dims"]).contiguous()]


class ExpandMean(OpMutant):
    id = "expand-mean"
    area = "shape derivative"
    description = "expand's vjp averages over the expanded dims instead of summing"
    killers = (OP("expand"),)
    targets = ("expand",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        return [grad * xs[0].numel() / g.numel()]


class IndexRepeatedOnce(OpMutant):
    id = "index-repeats-once"
    area = "integer indexing"
    description = "integer indexing scatters its gradient without accumulating: repeated " \
                  "indices count once"
    killers = (OP("index"),)
    targets = ("index",)

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        index = torch.tensor(params["indices"])
        return [torch.zeros_like(x).index_copy(params["dim"], index, g)]


class GetitemIgnoresStep(OpMutant):
    id = "getitem-ignores-step"
    area = "basic indexing"
    description = "slicing's vjp ignores the step: x[0:4:2]'s gradient lands in x[0:2]"
    killers = (OP("getitem"),)
    targets = ("getitem",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        index = []
        for item in params["index"]:
            if isinstance(item, tuple):
                start, stop, step = item[1:]
                n = len(range(start, stop, step or 1))
                index.append(slice(start, start + n))
            else:
                index.append(item)
        grad = torch.zeros_like(xs[0])
        grad[tuple(index)] = g
        return [grad]


class CatNoOffset(OpMutant):
    id = "cat-no-offset"
    area = "join derivative"
    description = "cat's vjp hands every input the first slice of the gradient (offsets lost)"
    killers = (OP("cat"),)
    targets = ("cat",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        dim = params["dim"] % g.dim()
        return [g.narrow(dim, 0, x.shape[dim]).contiguous() for x in xs]


class WhereInverted(OpMutant):
    id = "where-inverted"
    area = "selection derivative"
    description = "where's vjp routes the gradient with the negated condition"
    killers = (OP("where"),)
    targets = ("where",)

    def bad_vjp(self, name, params, xs, g, real):
        cond = ~torch.tensor(params["condition"])
        return vjp(lambda a, b: torch.where(cond, a, b), xs, g)


class LinearBiasMean(OpMutant):
    id = "linear-bias-mean"
    area = "linear derivative"
    description = "linear's bias gradient is averaged over the batch instead of summed"
    killers = (OP("linear"),)
    targets = ("linear",)

    def bad_vjp(self, name, params, xs, g, real):
        grads = vjp(real, xs, g)
        if len(xs) == 3:
            grads[2] = grads[2] / (g.numel() // g.shape[-1])  # the batch size (1 if none)
        return grads


class CrossEntropyNotAveraged(OpMutant):
    id = "cross-entropy-not-averaged"
    area = "loss derivative"
    description = "cross_entropy's vjp forgets to divide by the batch size"
    killers = (OP("cross_entropy"),)
    targets = ("cross_entropy",)

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        return [grad * (xs[0].shape[0] if xs[0].dim() == 2 else 1)]


class MseHalf(OpMutant):
    id = "mse-missing-2"
    area = "loss derivative"
    description = "mse_loss's vjp drops the factor 2 of the square"
    killers = (OP("mse_loss"),)
    targets = ("mse_loss",)

    def bad_vjp(self, name, params, xs, g, real):
        return [gr / 2 for gr in vjp(real, xs, g)]
