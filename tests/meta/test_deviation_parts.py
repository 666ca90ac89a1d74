"""A deviation file split by concern (deviations/paddle.py, whose parts are deviations/paddle/*.py,
harness/deviations.py's `load_parts`): the backend is judged with every part, in the order the
file gives; an error names the part it is in (or the module the parts share); an id is stated
once; and no deviation file or part grows past what reads in one sitting."""
import glob
import os
import sys

import pytest

from gradspec.reference_adapter import ReferenceAdapter
from harness import deviations as D

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "deviations")
SPLIT = sorted(os.path.basename(f) for f in glob.glob(os.path.join(HERE, "*"))
               if os.path.isdir(f) and os.path.isfile(f + ".py"))
MAX_LINES = 700  # the project's limit for any file

PART = '''
from harness.deviations import Deviation, leaves
from gradspec.program import Backward, Op, Program

from ._shared import never

DEVIATIONS = [Deviation(id={id!r}, reason="a stand-in", applies=never,
                        program=Program(dtype="float64", leaves=leaves(("a", (), (0.5,), True)),
                                        steps=(Op("t1", "neg", ("a",)),),
                                        plan=(Backward(("t1",), (None,)),)))]
'''
SHARED = "def never(program, m):\n    return False\n"


def _split(tmp_path, parts, names=None, shared=SHARED):
    """engine.py, stating its deviations in engine/<part>.py (which share engine/_shared.py)."""
    (tmp_path / "engine.py").write_text(
        "from harness.deviations import load_parts\n\n"
        f"DEVIATIONS = load_parts(__file__, {tuple(names or parts)!r})\n")
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "_shared.py").write_text(shared)
    for name, text in parts.items():
        (tmp_path / "engine" / f"{name}.py").write_text(text)
    return str(tmp_path / "engine.py")


def _ids(path):
    return [d.id for d in D.for_backend("reference", ReferenceAdapter, [path])[1]]


def test_the_parts_are_judged_with_in_the_files_order(tmp_path):
    path = _split(tmp_path, {"later": PART.format(id="one"), "earlier": PART.format(id="two")})
    assert _ids(path) == ["one", "two"]
    assert _ids(path) == ["one", "two"]  # loaded afresh, as a deviation file is
    assert not [k for k in sys.modules if k.startswith("gradspec_deviation_parts_")]


@pytest.mark.parametrize("parts, shared, where, problem", [
    ({"a": PART.format(id="one"), "b": "1 / 0\n"}, SHARED, "b.py", "ZeroDivisionError"),
    ({"a": "def broken(:\n"}, SHARED, "a.py", "SyntaxError"),
    ({"a": PART.format(id="one")}, "raise RuntimeError('no')\n", "_shared.py", "RuntimeError"),
    ({"a": "DEVIATIONS = [1]\n"}, SHARED, "a.py", "not a harness.deviations.Deviation"),
    ({"a": "x = 1\n"}, SHARED, "a.py", "defines no DEVIATIONS"),
], ids=["error", "syntax", "in-shared", "not-a-deviation", "no-list"])
def test_an_error_names_the_part_it_is_in(tmp_path, parts, shared, where, problem):
    path = _split(tmp_path, parts, shared=shared)
    with pytest.raises(D.DeviationFileError) as info:
        _ids(path)
    message = str(info.value)
    assert os.path.join(str(tmp_path), "engine", where) in message and problem in message, message
    assert not [k for k in sys.modules if k.startswith("gradspec_deviation_parts_")]


def test_an_id_two_parts_state_names_both(tmp_path):
    path = _split(tmp_path, {"a": PART.format(id="one"), "b": PART.format(id="one")})
    with pytest.raises(D.DeviationFileError, match=r"'one' is stated twice: in .*a\.py and in "
                                                   r".*b\.py"):
        _ids(path)


def test_a_missing_part_is_named(tmp_path):
    path = _split(tmp_path, {"a": PART.format(id="one")}, names=("a", "gone"))
    with pytest.raises(D.DeviationFileError, match=r"its part .*gone\.py does not exist"):
        _ids(path)


@pytest.mark.parametrize("name", sorted(os.path.splitext(os.path.basename(p))[0]
                                        for p in glob.glob(os.path.join(HERE, "*.py"))))
def test_each_backends_file_states_each_id_once(name):
    ids = [d.id for d in D.load(name)]
    assert ids and len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("name", SPLIT)
def test_every_part_is_judged_with(name):
    """Each part in the folder (not the shared modules, _*.py) is one the file loads."""
    whole = {d.id for d in D.load(name)}
    for path in sorted(glob.glob(os.path.join(HERE, name, "[!_]*.py"))):
        part = os.path.splitext(os.path.basename(path))[0]
        ids = {d.id for d in D.load_parts(os.path.join(HERE, f"{name}.py"), (part,))}
        assert ids and ids <= whole, f"deviations/{name}.py does not load its part {path}"


def test_no_deviation_file_is_over_the_limit():
    for path in glob.glob(os.path.join(HERE, "*.py")) + glob.glob(os.path.join(HERE, "*", "*.py")):
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        assert lines <= MAX_LINES, (f"{os.path.relpath(path, ROOT)} has {lines} lines: split it "
                                    f"by concern (harness/deviations.py's load_parts)")
