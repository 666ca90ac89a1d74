"""Engines whose own Linear/RNNCell/LSTMCell lay out their parameters otherwise than torch's
declare it (`layer_layouts`, adapters/layer_layout.py), and their own modules are what the
suites test:

- the layout machinery itself, on NumPy: each expression (a transpose, a sum of two biases,
  permuted gates) converts torch's leaves as stated, a missing bias leaves its parameters out,
  and the printed source is the code evaluated;
- for each adapter declaring layouts (Paddle, TensorFlow), one layer of each kind, with and
  without a bias, batched or not, from a zero or a given state, called twice, on fixed
  parameters: the engine's outputs and parameter gradients are the reference's (which
  tests/ proves against finite differences);
- a deliberately wrong layout (a missing transpose, the gates swapped, one bias of two) is
  caught by the layer suite (suites/test_layer_reuse.py, run as `pytest suites` runs it),
  which the right layout passes under the same settings.

Paddle and TensorFlow cannot share a process (a segfault): each engine's checks run in a
fresh interpreter (`check_engine`).
"""
import dataclasses
import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.layer_layout import TORCH_GATES, Ops, Param, convert, layout, source

ROOT = Path(__file__).resolve().parents[2]

# backend -> (its package, the adapter class)
ENGINES = {
    "paddle": ("paddle", "adapters.paddle_adapter:PaddleAdapter"),
    "tensorflow": ("tensorflow", "adapters.tensorflow_adapter:TensorFlowAdapter"),
}

NUMPY_OPS = Ops(transpose="np.transpose({0})", add="np.add({0}, {1})",
                concat_rows="np.concatenate([{args}], axis=0)")
W_IH, W_HH, B_IH, B_HH = map(Param, ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


# ----- the layout machinery, on NumPy -----------------------------------------------------
def test_a_layout_converts_torch_leaves_as_stated():
    rng = np.random.default_rng(0)
    hidden, n_in = 2, 3
    leaves = {"weight_ih": rng.normal(size=(4 * hidden, n_in)),
              "weight_hh": rng.normal(size=(4 * hidden, hidden)),
              "bias_ih": rng.normal(size=4 * hidden), "bias_hh": rng.normal(size=4 * hidden)}
    keras_like = layout("LSTMCell", kernel=W_IH.T, recurrent_kernel=W_HH.T, bias=B_IH + B_HH)
    got = convert(keras_like, leaves, hidden, NUMPY_OPS, {"np": np})
    assert [name for name, _ in got] == ["kernel", "recurrent_kernel", "bias"]
    np.testing.assert_array_equal(got[0][1], leaves["weight_ih"].T)
    np.testing.assert_array_equal(got[1][1], leaves["weight_hh"].T)
    np.testing.assert_array_equal(got[2][1], leaves["bias_ih"] + leaves["bias_hh"])

    # Gates in another order: torch's row blocks (i, f, g, o) permuted before the transpose.
    swapped = dataclasses.replace(keras_like, gates=("f", "i", "o", "g"))
    got = dict(convert(swapped, leaves, hidden, NUMPY_OPS, {"np": np}))
    blocks = np.split(leaves["weight_ih"], 4)
    np.testing.assert_array_equal(got["kernel"],
                                  np.concatenate([blocks[1], blocks[0], blocks[3],
                                                  blocks[2]]).T)
    b = np.split(leaves["bias_ih"] + leaves["bias_hh"], 4)
    np.testing.assert_allclose(got["bias"], np.concatenate([b[1], b[0], b[3], b[2]]))
    assert "gates f, i, o, g" in swapped.describe()
    assert keras_like.describe() == ("LSTMCell: kernel = weight_ih^T; recurrent_kernel = "
                                     "weight_hh^T; bias = bias_ih + bias_hh")


def test_a_missing_bias_leaves_out_what_is_made_from_it():
    lay = layout("Cell", kernel=W_IH.T, bias=B_IH + B_HH)
    names = {"weight_ih": "w", "bias_ih": None, "bias_hh": None}
    assert source(lay, names, 2, NUMPY_OPS) == [("kernel", "np.transpose(w)")]
    got = convert(lay, {"weight_ih": np.eye(2), "bias_ih": None, "bias_hh": None}, 2,
                  NUMPY_OPS, {"np": np})
    assert [name for name, _ in got] == ["kernel"]


def test_the_source_printed_is_the_code_evaluated():
    lay = layout("Cell", gates=("i", "f", "o", "g"), weight=W_IH, bias=B_IH + B_HH)
    pairs = source(lay, {"weight_ih": "w", "bias_ih": "b1", "bias_hh": "b2"}, 1, NUMPY_OPS)
    assert pairs == [("weight", "np.concatenate([w[0:1], w[1:2], w[3:4], w[2:3]], axis=0)"),
                     ("bias", "np.add(np.concatenate([b1[0:1], b1[1:2], b1[3:4], b1[2:3]], "
                              "axis=0), np.concatenate([b2[0:1], b2[1:2], b2[3:4], b2[2:3]], "
                              "axis=0))")]
    assert TORCH_GATES == ("i", "f", "g", "o")


# ----- each engine's own modules, in a fresh interpreter ----------------------------------
@pytest.mark.parametrize("backend", sorted(ENGINES))
@pytest.mark.slow
def test_an_engines_own_layers_conform_and_a_wrong_layout_is_caught(backend):
    pytest.importorskip(ENGINES[backend][0])
    done = subprocess.run(
        [sys.executable, "-c", "from tests.meta.test_layer_layouts import check_engine as c; "
         f"c({backend!r})"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]
    assert "layouts checked" in done.stdout, done.stdout[-3000:]


def _adapter_class(backend):
    module, cls = ENGINES[backend][1].split(":")
    return getattr(importlib.import_module(module), cls)


def fixed_programs():
    """One layer of each kind (3 inputs, hidden 2: a transpose changes the shapes), with and
    without bias, on a batch of 2 or unbatched, from a zero state (None) or a given one,
    called twice (a cell the second time from the state the first returned), in both dtypes;
    every output is a root, with its own gradient weights."""
    from gradspec import program as P
    rng = np.random.default_rng(18)

    def leaf(name, shape):
        return P.Leaf(name, shape, tuple(np.round(rng.normal(size=shape) * 0.7, 3)), True)

    n_in, hidden = 3, 2
    for kind in ("linear", "rnn_cell", "lstm_cell"):
        gates = 4 if kind == "lstm_cell" else 1
        shapes = {"weight": (hidden, n_in), "bias": (hidden,)} if kind == "linear" else {
            "weight_ih": (gates * hidden, n_in), "weight_hh": (gates * hidden, hidden),
            "bias_ih": (gates * hidden,), "bias_hh": (gates * hidden,)}
        for bias in (True, False):
            params = tuple(leaf(f"m.{n}", s) for n, s in shapes.items()
                           if bias or "bias" not in n)
            layer = P.Layer("m", kind, n_in, hidden, bias, params)
            for batch in ((2,), ()):
                for given_state in ((False, True) if kind != "linear" else (False,)):
                    leaves = [leaf("x", batch + (n_in,))]
                    n_states = {"linear": 0, "rnn_cell": 1, "lstm_cell": 2}[kind]
                    state = tuple(f"s{k}" for k in range(n_states))
                    if given_state:
                        leaves += [leaf(s, batch + (hidden,)) for s in state]
                    args = ("x",) + (state if given_state else (None,) * n_states)
                    outs = ("h", "c")[:max(n_states, 1)]
                    steps = [P.Call(outs, "m", args)]
                    second = ("x",) + outs if kind != "linear" else ("x",)
                    steps.append(P.Call(tuple(o + "2" for o in outs), "m", second))
                    roots = tuple(o for s in steps for o in s.outs)
                    weights = tuple(_nested(np.round(rng.normal(size=batch + (hidden,)), 3))
                                    for _ in roots)
                    for dtype in ("float64", "float32"):
                        yield P.Program(dtype=dtype, leaves=tuple(leaves), layers=(layer,),
                                        steps=tuple(steps), plan=(P.Backward(roots, weights),))


def _nested(a):
    return tuple(_nested(x) for x in a) if np.ndim(a) else float(a)


def broken_layouts(cls):
    """Wrong layouts for `cls`'s engine, each with the layer kind it breaks."""
    lays = cls.layer_layouts

    def with_param(kind, name, expr):
        lay = lays[kind]
        return {**lays, kind: dataclasses.replace(
            lay, params=tuple((n, expr if n == name else e) for n, e in lay.params))}

    first = lays["linear"].params[0][0]  # Paddle's weight, Keras's kernel
    out = {
        "no-transpose": ("linear", with_param("linear", first, Param("weight"))),
        "swapped-gates": ("lstm_cell", {**lays, "lstm_cell": dataclasses.replace(
            lays["lstm_cell"], gates=("f", "i", "g", "o"))}),
    }
    if any(n == "bias" for n, _ in lays["rnn_cell"].params):  # one bias: Keras
        out["one-bias-of-two"] = ("rnn_cell", with_param("rnn_cell", "bias", B_IH))
    return out


def check_engine(backend):
    """Run in a fresh interpreter by the test above: the fixed programs conform; each broken
    layout fails the layer suite with a program calling the layer it breaks, where the right
    layout passes that suite under the same settings."""
    from hypothesis import HealthCheck, settings
    settings.register_profile("layer-layouts", deadline=None,  # as the conftest's profiles
                              suppress_health_check=list(HealthCheck))
    settings.load_profile("layer-layouts")
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec import program as P
    from harness.check import ConformanceFailure, check
    from harness.deviations import load
    from tests.meta.test_broken_adapters import installed, run_suite_test

    cls = _adapter_class(backend)
    reference, adapter = ReferenceAdapter(), cls()
    assert set(cls.layer_layouts) == {"linear", "rnn_cell", "lstm_cell"}
    n = 0
    for program in fixed_programs():
        check(program, adapter, reference)
        n += 1
    print(f"{backend}: {n} fixed programs conform")
    suite = ("suites.test_layer_reuse", "test_layer_reuse_and_recurrence", None)
    # The suite's programs mix in other ops: the engine's stated differences there (Paddle's
    # float32 selu constants) are not the layouts' concern.
    stated = load(backend)
    with installed(cls(), stated) as checked:
        run_suite_test(suite)
    assert len(checked) >= 30 and not any(bad for _, bad in checked)
    for what, (kind, lays) in broken_layouts(cls).items():
        broken = type(f"{cls.__name__}_{what}", (cls,), {"layer_layouts": lays,
                                                         "name": f"{backend}-{what}"})
        with installed(broken(), stated) as checked:
            try:
                run_suite_test(suite)
            except ConformanceFailure:
                pass
            else:
                raise AssertionError(f"{backend} with a layout '{what}' passed the layer suite")
        shrunk = [program for program, bad in checked if bad][-1]
        assert any(isinstance(s, P.Call) and shrunk.layer(s.layer).kind == kind
                   for s in shrunk.steps), shrunk.to_source()
        with pytest.raises(ConformanceFailure):  # and on the fixed programs too
            for program in fixed_programs():
                if program.layers[0].kind == kind:
                    check(program, broken(), reference)
        print(f"{backend}: layout '{what}' caught:\n{shrunk.to_source()}")
    print(f"{backend}: layouts checked")
