"""Memory-bounded batches (issue 14 item 6): a pass that keeps attention maps runs fewer long rows."""

from __future__ import annotations

import pytest

from reportgen.forward import length_sorted_batches, memory_sorted_batches


def test_memory_batches_cut_by_budget_longest_first() -> None:
    lengths = [4, 10, 10, 2, 4]
    # 10 bytes per token: rows of 10 cost 100, so a 250-byte budget holds two of them.
    batches = memory_sorted_batches(lengths, max_rows=8, row_bytes=lambda n: 10 * n, budget=250)
    assert batches == [[1, 2], [0, 4, 3]]
    assert [i for b in batches for i in b] == [i for b in length_sorted_batches(lengths, 8) for i in b]


def test_memory_batches_keep_one_row_over_budget_and_max_rows() -> None:
    assert memory_sorted_batches([50, 50], max_rows=8, row_bytes=lambda n: 1000, budget=10) == [[0], [1]]
    assert memory_sorted_batches([1, 1, 1], max_rows=2, row_bytes=lambda n: 0) == [[0, 1], [2]]
    with pytest.raises(ValueError):
        memory_sorted_batches([1], max_rows=0, row_bytes=lambda n: 0)
