"""paddle: the gradient of a pow gradient w.r.t. anything but pow's input fails (DX nullptr).

What is wrong: a gradient taken with create_graph=True through paddle.pow is a pow_grad node;
differentiating it again w.r.t. a tensor reached only through the incoming gradient (not
through pow's input x) asks pow's double-grad kernel for its ddout alone, and the kernel fails
because its x gradient (DX) output was not requested: RuntimeError "(NotFound) The output
DenseTensor DX can not be nullptr" (phi/kernels/impl/activation_grad_impl.h).

    a = paddle.to_tensor(0.5, dtype='float64', stop_gradient=False)
    b = paddle.to_tensor(3.0, dtype='float64', stop_gradient=False)
    y = paddle.pow(a, 2.0) * b
    (g,) = paddle.grad([y], [a], create_graph=True)    # g = 2 a b
    paddle.grad([g], [b])       # RuntimeError: The output DenseTensor DX can not be nullptr

Expected: [1.0] (dg/db = 2a), as torch.autograd.grad returns; paddle.grad([g], [a, b]) does
return [6.0, 1.0].
Actual: RuntimeError.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-pow-double-grad-needs-dx` in deviations/paddle.py).

Run: python findings/paddle/pow-double-grad-needs-dx.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def main():
    a = paddle.to_tensor(0.5, dtype="float64", stop_gradient=False)
    b = paddle.to_tensor(3.0, dtype="float64", stop_gradient=False)
    y = paddle.pow(a, 2.0) * b
    (g,) = paddle.grad([y], [a], create_graph=True)
    print(f"paddle {paddle.__version__}")
    try:
        (gb,) = paddle.grad([g], [b])
    except RuntimeError as exc:
        print("paddle.grad([g], [b]) raised:", str(exc).splitlines()[0])
        return 1
    print(f"paddle.grad([g], [b]) = [{float(gb)}] (expected [1.0])")
    return 0 if float(gb) == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
