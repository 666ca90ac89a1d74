"""A pytest plugin (`-p tests.meta.no_shrinking`) with the Hypothesis profile `no-shrinking`:
the ci profile without shrinking, for a subprocess run where every failing attempt costs a
timeout (tests/meta/test_isolate.py: a hang is reported from the first program that hangs)."""
from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "no-shrinking", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.reuse, Phase.generate))
