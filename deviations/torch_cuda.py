"""torch on a CUDA device: the same engine as `torch`, so the same stated differences.

The entries are torch's own (deviations/torch.py); `test_deviations` re-runs each of them on
the GPU, so one that does not reproduce there is reported as stale rather than kept silently.
"""
from harness.deviations import load

DEVIATIONS = list(load("torch"))
