"""The backend under test for this pytest process (set once by conftest.py)."""
_current = {}


def set_current(candidate, reference, deviations=()):
    _current["candidate"], _current["reference"] = candidate, reference
    _current["deviations"] = tuple(deviations)


def deviations():
    return _current.get("deviations", ())


def candidate():
    return _current["candidate"]


def candidate_if_set():
    """The candidate, or None outside a test run (a predicate called from a script)."""
    return _current.get("candidate")


def reference():
    return _current["reference"]


def set_dtypes(dtypes):
    """The dtypes programs are drawn in (`--dtype`), or () for every dtype the backend has."""
    _current["dtypes"] = tuple(dtypes)


def dtypes():
    return _current.get("dtypes", ())


def set_every_difference(on):
    """`--every-difference`: each distinct kind of difference fails as its own bug (one shrunk
    program each), not only the first one Hypothesis meets (harness/check.py)."""
    _current["every_difference"] = bool(on)


def every_difference():
    return _current.get("every_difference", False)


SEARCH_WAYS = ("swarm", "target")


def set_search(ways):
    """How programs are searched for (`--search`): "swarm" (strategies/search.py) and/or
    "target" (Hypothesis's target() on a program's structure, suites/conformance.py)."""
    _current["search"] = tuple(ways)


def search():
    return _current.get("search", ())


def set_isolated(runner):
    """The candidate's runner in a worker process (harness/isolate.py), or None: `--isolate`.
    It stands for the candidate set now: a test that installs another one (a broken engine,
    a mutant) runs that one in process."""
    _current["isolated"] = None if runner is None else (runner, _current.get("candidate"))


def isolated():
    pair = _current.get("isolated")
    return pair[0] if pair and pair[1] is _current.get("candidate") else None


# ----- per-test tallies, for the conformance report (harness/report.py) ---------------------
_tally = {"programs": 0, "deviations": {}}


def reset_tally():
    _tally["programs"] = 0
    _tally["deviations"] = {}


def count_program(deviation=None):
    _tally["programs"] += 1
    if deviation is not None:  # several explaining one program together: each by itself
        for d in deviation.parts or (deviation,):
            _tally["deviations"][d.id] = d.reason


def tally():
    return {"programs": _tally["programs"], "deviations": dict(_tally["deviations"])}
