"""The op vocabulary in torch's spelling (also the text of the repro scripts): each op
record's `torch` template (gradspec/vocabulary)."""
from gradspec.vocabulary import INPLACE, SPECS

TORCH_TEMPLATES = {name: spec.torch for name, spec in SPECS.items() if name not in INPLACE}
# In-place ops (InPlace steps): {0} is the target; each returns it.
INPLACE_TEMPLATES = {name: SPECS[name].torch for name in INPLACE}
