"""The repro scripts of the other engines (JAX, MyGrad, Paddle, TensorFlow, tinygrad,
torch.func) reproduce what the suite saw.

As tests/meta/test_repro_scripts.py does for torch: random programs (within what each adapter
declares) are rendered with the adapter's `render_script`, executed in process, and the
`label = [values]` lines they print are compared with the trace of the same program run
through the interpreter on the same adapter: every `.grad` (JAX: every gradient of the vjp),
every returned gradient, and which plan actions raised. The engine's answers, not the
reference's, so stated deviations do not enter. Every program the adapter runs gets a
script: a spelling that cannot write a step its adapter expresses fails here.
"""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, reject

from gradspec.adapter import UnsupportedProgram

from gradspec.interpreter import run
from strategies import programs

from tests.meta.test_repro_scripts import FEATURES, _same, parse, quick, run_in_process

# backend -> (its package, the adapter class). Paddle's run in a fresh interpreter: it
# cannot share a process with tensorflow (a segfault).
ENGINES = {
    "paddle": ("paddle", "adapters.paddle_adapter:PaddleAdapter"),
    "jax": ("jax", "adapters.jax_adapter:JaxAdapter"),
    "mygrad": ("mygrad", "adapters.mygrad_adapter:MyGradAdapter"),
    "tinygrad": ("tinygrad", "adapters.tinygrad_adapter:TinygradAdapter"),
    "torch-func": ("torch", "adapters.torch_func_adapter:TorchFuncAdapter"),
    "tensorflow": ("tensorflow", "adapters.tensorflow_adapter:TensorFlowAdapter"),
}


def _adapter(backend):
    package, target = ENGINES[backend]
    pytest.importorskip(package)
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()


@pytest.mark.parametrize("backend", sorted(ENGINES))
@pytest.mark.slow
def test_engine_script_reproduces_the_trace(backend):
    if backend != "paddle":
        check_engine_scripts(backend)
        return
    pytest.importorskip("paddle")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", "from tests.meta.test_engine_scripts import "
         "check_engine_scripts as c; c('paddle')"], cwd=root, capture_output=True, text=True,
        timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-6000:]


def check_engine_scripts(backend):
    adapter = _adapter(backend)
    features = FEATURES
    if backend == "tinygrad":
        # One plan action: once two .grad are one tinygrad expression (the stated deviation
        # tinygrad-aliased-grads-accumulate-into-each-other), what later backwards add
        # depends on which other tensors are still alive, which a script cannot mirror.
        features = FEATURES.but(max_actions=1)

    @quick(max_examples=int(os.environ.get("GRADSPEC_SCRIPT_EXAMPLES", 12)))
    @given(programs(features, adapter))
    def check(program):
        try:
            trace = run(program, adapter, strict=False)  # as the suites run a candidate
        except UnsupportedProgram:  # a program the adapter keeps away (an engine crash)
            reject()
        script = adapter.render_script(program)
        assert script is not None, f"{backend} ran this program but writes no script for " \
                                   f"it:\n{program.to_source()}"
        stdout, exc = run_in_process(script)
        context = f"\n---- program ----\n{program.to_source()}\n---- script ----\n{script}" \
                  f"\n---- output ----\n{stdout}"
        if trace.forward_error:
            assert exc is not None, f"trace: forward raised {trace.forward_error}" + context
            return
        assert exc is None, f"script raised {exc!r}" + context
        plans = parse(stdout)["plans"]
        assert len(plans) == len(trace.actions), context
        for action, plan in zip(trace.actions, plans):
            where = f"plan[{action.index}]"
            assert (plan["error"] is None) == (action.error is None), \
                f"{where}: trace error {action.error!r}, script error {plan['error']!r}" + context
            if action.error:
                break  # the state after a failed call is not compared (gradspec/compare.py)
            printed = dict(plan["lines"])
            if action.returned is not None:
                _same(f"{where} returned", action.returned, printed.get("returned"),
                      program.dtype)
            for name, grad in list(action.grads.items()) + list(action.retained.items()):
                label = f"{name}.grad"
                assert label in printed, f"{where}: {label} not printed" + context
                _same(f"{where} {label}", grad, printed[label], program.dtype)

    check()
