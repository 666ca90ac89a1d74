"""`python -m harness.replay` judges a program as the suites do: the backend's stated
deviations explain the differences they state (exit 0, naming them), `--deviations none`
reports every difference."""
import pytest

from gradspec import program as P
from harness import deviations as D
from harness.replay import main

BROKEN_SIN = "tests.mutants.zoo.broken:WrongSinVjp"
SIN = P.Program(dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -1.25)),),
                steps=(P.Op("t1", "sin", ("a",)),
                       P.Op("t2", "sum", ("t1",), (("dim", 0), ("keepdim", False)))),
                plan=(P.Backward(("t2",), (None,)),))
STATED = '''
from harness.deviations import Deviation

DEVIATIONS = [Deviation(id="sin-derivative-negated", reason="d sin(x)/dx is -cos(x) here",
                        program=None, applies=lambda program, m: m.kind == "grad")]
'''


@pytest.fixture
def files(tmp_path):
    program = tmp_path / "program.py"
    program.write_text(SIN.to_source())
    stated = tmp_path / "stated.py"
    stated.write_text(STATED)
    return str(program), str(stated)


def test_a_stated_deviation_explains_the_differences(files, capsys):
    program, stated = files
    assert main([program, BROKEN_SIN, "--deviations", stated]) == 0
    out = capsys.readouterr().out
    assert "a.grad" in out  # the differences are still printed...
    assert "all explained by stated deviations:\n  sin-derivative-negated: d sin(x)/dx" in out


@pytest.mark.parametrize("option", [(), ("--deviations", "none")], ids=["none-stated", "none"])
def test_unexplained_differences_fail(files, capsys, option):
    program, _ = files
    assert main([program, BROKEN_SIN, *option]) == 1
    assert "not explained by its stated deviations" in capsys.readouterr().out


def test_an_agreeing_backend_passes(files, capsys):
    program, _ = files
    assert main([program, "reference"]) == 0
    assert "reference: agrees with the reference" in capsys.readouterr().out


def test_the_backend_s_own_deviation_file_is_used_by_default(tmp_path, capsys):
    pytest.importorskip("jax")
    deviation = next(d for d in D.load("jax") if d.id == "jax-zeros-for-unused")
    path = tmp_path / "program.py"
    path.write_text(deviation.program.to_source())
    assert main([str(path), "jax"]) == 0
    assert "jax-zeros-for-unused" in capsys.readouterr().out
    assert main([str(path), "jax", "--deviations", "none"]) == 1
