"""The one switch for private APIs: Hypothesis's (strategies/hypothesis_private.py) and
pytest's (harness/pytest_private.py). `GRADSPEC_PRIVATE_APIS=0` turns both off. It imports
nothing, so the conftest can ask it before anything imports Hypothesis."""
import os


def enabled():
    """Are private APIs used? (`GRADSPEC_PRIVATE_APIS=0`: no.)"""
    return os.environ.get("GRADSPEC_PRIVATE_APIS", "1").strip() != "0"
