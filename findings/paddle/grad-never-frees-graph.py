"""paddle: paddle.grad(retain_graph=False) does not free the graph.

What is wrong: paddle.grad documents retain_graph as "When it is False, the graph would be
freed. Default None, which means it is equal to `create_graph`", but the graph is kept: a
second backward (or paddle.grad) through it runs, where after Tensor.backward() without
retain_graph it raises "The TensorWrappers of ... do not exist".

    a = paddle.to_tensor([0.5, 2.0], dtype='float64', stop_gradient=False)
    y = (a * a).sum()
    paddle.grad([y], [a], retain_graph=False)
    y.backward()        # runs: a.grad == [1., 4.]

Expected: the second backward raises the freed-graph error (as documented; torch raises
"Trying to backward through the graph a second time").
Actual: it runs.

Reproduces on paddlepaddle 3.3.1 (CPU, float64 and float32).
Found by gradspec (deviation `paddle-grad-never-frees-graph` in deviations/paddle.py).

Run: python findings/paddle/grad-never-frees-graph.py - exits 1 while the bug reproduces, 0
once fixed.
"""
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "No ccache found"
    import paddle


def main():
    a = paddle.to_tensor([0.5, 2.0], dtype="float64", stop_gradient=False)
    y = (a * a).sum()
    paddle.grad([y], [a], retain_graph=False)
    print(f"paddle {paddle.__version__}")
    try:
        y.backward()
    except Exception as exc:  # noqa: BLE001 - the documented behaviour
        print("fixed: the second backward raised", str(exc).splitlines()[0])
        return 0
    print(f"the second backward ran after paddle.grad(retain_graph=False): a.grad = "
          f"{a.grad.numpy().tolist()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
