"""Known differences between PaddlePaddle 3.3 (dygraph, CPU) and the reference (torch's
semantics). Design differences are Paddle's coded or documented behaviour; the entries naming a
`finding` are Paddle bugs, each with a standalone script under findings/paddle/.

They are stated by concern in the folder beside this file, each part with its own DEVIATIONS
list (harness/deviations.py's `load_parts`); what their predicates share is in _common.py:

  paddle/backward.py     paddle.autograd.backward: the nodes it frees, its roots and weights
  paddle/ops.py          single ops and views: what they accept, compute and mark
  paddle/hooks.py        tensor hooks and retained gradients
  paddle/double_grad.py  gradients taken with create_graph=True, and backward through them
  paddle/pylayer.py      custom functions (PyLayer)
  paddle/grad.py         paddle.grad: what it checks first, what it raises, the graph it keeps

The backend `paddle` is judged with all of them, in this order. Where two entries explain one
program, the first is credited with it in the reports (harness/check.py): this order keeps the
credit the single file gave on the suites' programs.
"""
from harness.deviations import load_parts

DEVIATIONS = load_parts(__file__, ("backward", "ops", "hooks", "double_grad", "pylayer", "grad"))
