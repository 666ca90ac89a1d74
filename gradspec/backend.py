"""The backend under test for this pytest process (set once by conftest.py)."""
_current = {}


def set_current(candidate, reference, deviations=()):
    _current["candidate"], _current["reference"] = candidate, reference
    _current["deviations"] = tuple(deviations)


def deviations():
    return _current.get("deviations", ())


def candidate():
    return _current["candidate"]


def reference():
    return _current["reference"]
