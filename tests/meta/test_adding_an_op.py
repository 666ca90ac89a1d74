"""CONTRIBUTING.md's "Adding an op", done by a test: a toy op added to a copy of the checkout
by editing three files (its record, its reference function, one engine's spelling) is drawn,
proven against finite differences to second order, and checked on torch and on that engine,
with nothing else touched."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOY = "toy_softsign"

# The three edits, as CONTRIBUTING.md shows them: (file, anchor line, text inserted after it).
REFERENCE_FUNCTION = '''

def toy_softsign(x):
    """x / (1 + |x|): its vjp g / (1 + |x|)^2 is written in the reference's own ops."""
    d = add_scalar(abs(x), 1.0)
    out = new(x.data / d.data, x)
    record("SoftsignBackward", (out,), (x,), lambda g, n, x: (div(g, mul(d, d)),), save=(x,))
    return out


__all__ += ["toy_softsign"]
'''
RECORD = '''

OPS += (
    OpSpec("toy_softsign", "unary", O.toy_softsign, "torch.nn.functional.softsign({0})",
           domain=Domain(min_abs=KINK)),
)
'''
JAX_LINE = '    "toy_softsign": "jax.nn.soft_sign({0})",\n'


def _edit(root, path, text, after=None):
    full = os.path.join(root, path)
    source = open(full).read()
    if after is None:
        source += text
    else:
        assert after in source, f"{path} no longer has {after!r}: update CONTRIBUTING.md too"
        source = source.replace(after, after + text, 1)
    with open(full, "w") as f:
        f.write(source)


def _copy_checkout(dest):
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for path in files:
        if os.path.exists(os.path.join(ROOT, path)):
            os.makedirs(os.path.join(dest, os.path.dirname(path)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, path), os.path.join(dest, path))


def _run(root, *args):
    proc = subprocess.run([sys.executable, *args], cwd=root, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout


@pytest.mark.slow
def test_an_op_added_in_three_files_is_drawn_proven_and_checked(tmp_path):
    pytest.importorskip("torch")
    root = str(tmp_path)
    _copy_checkout(root)
    _edit(root, "reference/ops/elementwise.py", REFERENCE_FUNCTION)
    _edit(root, "gradspec/vocabulary/elementwise.py", RECORD)
    _edit(root, "adapters/jax_adapter.py", JAX_LINE, after="JAX_TEMPLATES = {\n")

    collected = _run(root, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly",
                     "suites/test_ops.py", "tests/reference/test_higher_order_fd.py",
                     "--backend", "reference")
    for test in (f"suites/test_ops.py::test_op[{TOY}]",
                 f"test_first_derivatives_of_random_programs[{TOY}]",
                 f"test_second_derivatives_of_random_programs[{TOY}]"):
        assert test in collected, collected
    out = _run(root, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
               "suites/test_ops.py", "tests/reference/test_higher_order_fd.py",
               "tests/meta/test_strategies.py", "-k", TOY, "--max-examples", "10")
    assert "4 passed" in out, out  # the suite on torch, FD first and second order, the focus
    if _has("jax"):
        _run(root, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
             "suites/test_ops.py", "-k", TOY, "--backend", "jax", "--max-examples", "5")


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True
