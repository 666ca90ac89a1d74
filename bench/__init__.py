"""The speed benchmark: `python -m bench` (see bench/__main__.py and the README's "Speed").

Checked programs per second for every suite on the `ci` profile, where each program's time
goes (generation, reference, backend, comparison), the same programs run by torch alone (the
floor), the reference's time against torch's on identical programs, a hand-written Hypothesis
test as the baseline, and the whole test command's wall time serial and with `-n 2`.
"""
