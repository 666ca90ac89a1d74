"""Why the in-place strategy keeps an operand off the memory its op writes (strategies/
inplace_steps.py, `_aliased_operand`): where torch's overlap check cannot tell (an operand or
target that is not dense, such as a strided slice), it lets the write happen, and the kernel
reads elements it may have written already. The same logical program then gives different
values with another memory layout of the same values, or another size: the result is
unspecified, so there is nothing for the reference to model. If this test starts failing,
torch has made such writes defined (or refuses them): revisit the strategy.
"""
import pytest

torch = pytest.importorskip("torch")


def _add_strided_slice_of_itself(rows, column_major):
    a = torch.arange(1.0, 1.0 + 2 * rows, dtype=torch.float64).reshape(rows, 2)
    if column_major:
        a = a.t().contiguous().t()  # the same values, laid out column by column
    d1 = a.detach()
    d1.add_(d1[0:3:2, -2])  # the operand, a (2,) slice of stride 4, overlaps the target
    return d1[:3].tolist()


def test_overlapping_strided_operand_result_depends_on_layout():
    out_of_place = [[2.0, 7.0], [4.0, 9.0], [6.0, 11.0]]  # what d1 + d1[0:3:2, -2] would be
    row_major = _add_strided_slice_of_itself(3, column_major=False)
    column_major = _add_strided_slice_of_itself(3, column_major=True)
    assert row_major != column_major
    assert out_of_place not in (row_major, column_major)


def test_dense_partial_overlap_raises():
    """Both dense: torch's check tells, and refuses (the reference models this one)."""
    d = torch.arange(6.0, dtype=torch.float64).reshape(3, 2)
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        d[1:].add_(d[:2])
