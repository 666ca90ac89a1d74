"""Deviation files from outside the tree: an adapter subclass keeps its parent's, and
--deviations / GRADSPEC_DEVIATIONS add files in order, named in the report header."""
import os
import subprocess
import sys
import textwrap

import pytest

from gradspec.reference_adapter import ReferenceAdapter
from harness import deviations as D

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH = os.path.join(ROOT, "deviations", "torch.py")

SUBCLASS = textwrap.dedent('''
    from adapters.torch_adapter import TorchAdapter


    class TorchF32(TorchAdapter):
        """torch in float32 only, as an engine author's out-of-tree adapter would be."""
        name = "torch-f32"
        capabilities = TorchAdapter.capabilities - {"float64"}


    class TorchBare(TorchF32):
        name = "torch-bare"
        deviation_files = ()
''')
EXTRA = textwrap.dedent('''
    from harness.deviations import Deviation, load
    from gradspec.program import Backward, Op, Program
    from harness.deviations import leaves

    DEVIATIONS = [Deviation(id="extra-neg", reason="a stand-in", applies=lambda p, m: False,
                            program=Program(dtype="float32", leaves=leaves(("a", (), (0.5,), True)),
                                            steps=(Op("t1", "neg", ("a",)),),
                                            plan=(Backward(("t1",), (None,)),)))]
''')


class Child(ReferenceAdapter):
    name = "child-of-reference"


def _classes():
    namespace = {}
    exec(SUBCLASS, namespace)  # noqa: S102 - the test's own adapter source
    return namespace["TorchF32"], namespace["TorchBare"]


def test_a_subclass_inherits_its_parents_file():
    f32, bare = _classes()
    assert D.default_files("torch-f32", f32) == [TORCH]
    assert D.default_files("torch-bare", bare) == []  # it says otherwise
    assert D.default_files("child-of-reference", Child) == []  # the reference states none


def test_a_backend_named_after_its_options_is_judged_with_its_class_file():
    from adapters.torch_compile_adapter import TorchCompileAdapter
    compiled = os.path.join(os.path.dirname(TORCH), "torch_compile.py")
    for name in ("torch-compile-inductor", "torch-compile-ca"):
        assert D.default_files(name, TorchCompileAdapter) == [compiled], name


def test_given_files_follow_in_order_and_none_drops_those_before(tmp_path):
    extra = tmp_path / "extra.py"
    extra.write_text(EXTRA)
    f32, _ = _classes()
    files, known = D.for_backend("torch-f32", f32, [str(extra)])
    assert files == [TORCH, str(extra)]
    assert [d.id for d in known][-1] == "extra-neg" and len(known) == len(D.load("torch")) + 1
    assert D.files_for("torch-f32", f32, ["none", str(extra)]) == [str(extra)]
    assert D.files_for("torch-f32", f32, [TORCH]) == [TORCH]  # a file given twice: once
    assert D.split_paths([f"a.py{os.pathsep}b.py", "c.py,", ""]) == ["a.py", "b.py", "c.py"]


@pytest.mark.parametrize("text, problem", [
    ("x = 1\n", "defines no DEVIATIONS"), ("DEVIATIONS = [1]\n", "not a harness.deviations.Deviation"),
    ("import no_such_module\n", "ModuleNotFoundError")])
def test_a_bad_file_is_named(tmp_path, text, problem):
    bad = tmp_path / "bad.py"
    bad.write_text(text)
    with pytest.raises(D.DeviationFileError, match=problem):
        D.for_backend("reference", ReferenceAdapter, [str(bad)])
    with pytest.raises(D.DeviationFileError, match="does not exist"):
        D.for_backend("reference", ReferenceAdapter, [str(tmp_path / "missing.py")])


def _pytest(tmp_path, *args, env=()):
    (tmp_path / "torch_f32.py").write_text(SUBCLASS)
    environ = {k: v for k, v in os.environ.items() if k != D.ENV}
    environ.update(env, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--rootdir", ROOT, *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True)


@pytest.mark.slow
def test_a_torch_subclass_passes_torchs_deviations_with_no_flag(tmp_path):
    pytest.importorskip("torch")
    proc = _pytest(tmp_path, "suites/test_deviations.py", "--backend", "torch_f32:TorchF32",
                   "-rs")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "stated deviations (deviations/torch.py): torch-grad-aliasing" in out
    assert " passed" in out


@pytest.mark.slow
def test_the_header_names_every_file_loaded(tmp_path):
    pytest.importorskip("torch")
    extra = tmp_path / "extra.py"
    extra.write_text(EXTRA)
    proc = _pytest(tmp_path, "suites/test_ops.py", "--collect-only", "--backend",
                   "torch_f32:TorchF32", "--deviations", str(extra),
                   env={"GRADSPEC_DEVIATIONS": "none"})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"stated deviations ({extra}): extra-neg" in out
    proc = _pytest(tmp_path, "suites/test_ops.py", "--collect-only", "--backend",
                   "torch_f32:TorchF32", "--deviations", str(tmp_path / "missing.py"))
    assert proc.returncode != 0 and "missing.py' does not exist" in proc.stdout + proc.stderr


RETAINS = textwrap.dedent('''
    from harness.deviations import Deviation, leaves, reference_raised
    from gradspec.program import Backward, Op, Program

    def _no_freed_graph_error(program, m):
        """No error where the graph was freed, and so that backward's gradients added."""
        if m.kind == "error":
            return m.expected == "graph_freed" and m.actual is None
        return m.kind == "grad" and reference_raised(program, m.action, "graph_freed")

    a = leaves(("a", (), (0.5,), True))
    DEVIATIONS = [Deviation(
        id="retains-always", reason="this engine never frees a graph",
        applies=_no_freed_graph_error,
        program=Program(dtype="float64", leaves=a, steps=(Op("t1", "exp", ("a",)),),
                        plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,)))))]
''')


@pytest.mark.slow
def test_worked_examples_honour_deviations(tmp_path):
    """A published example checks its numbers itself: a stated deviation must still reach it."""
    dev = tmp_path / "retains.py"
    dev.write_text(RETAINS)
    args = ("suites/test_worked_examples.py", "-k", "second_backward", "--backend",
            "tests.mutants.zoo.broken:AlwaysRetainsGraph")
    assert _pytest(tmp_path, *args).returncode == 1
    proc = _pytest(tmp_path, *args, "--deviations", str(dev))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
