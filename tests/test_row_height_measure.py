"""TableRowHeights.measure + combine (the per-value form the fast table writer remembers) give row_lines' result."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from hazardnet.xlsx.row_height import TableRowHeights

TEXTS = ["", "短", "普通的隐患描述文字" * 3, "😀" * 4, "😀" * 8, "x" * 50, "第一行\n第二行", "a\nb\nc\nd", "长" * 200,
         "混合 text 与 emoji 😀 " * 5, "\n", None, 3, 2.5, dt.date(2026, 1, 1)]


@pytest.mark.parametrize("seed", range(5))
def test_measure_combined_in_column_order_is_row_lines(seed):
    rng = random.Random(seed)
    # width 12 makes a limit of exactly 4.0 characters: "😀" * 4 sits on row_lines' shortcut boundary
    heights = TableRowHeights([8, 12, 30, 12, 6], 7, {1, 3, 5}, rng.choice([10.0, 11.0, 14.0]))
    for _ in range(2000):
        values = [rng.choice(TEXTS) for _ in range(rng.randint(0, 8))]
        for alert in (False, True):
            got = heights.combine([heights.measure(v, c, alert) for c, v in enumerate(values)])
            assert got == heights.row_lines(values, alert), (values, alert)


def test_measure_of_wrapped_and_unwrapped_text():
    heights = TableRowHeights([10, 10], 2, {0})
    assert heights.measure("长" * 40, 0)[0] > 1  # wraps in the wrapping column
    assert heights.measure("长" * 40, 1) == (1, 0, 0.0)  # a column that does not wrap: one line
    assert heights.measure("a\nb\nc", 1)[0] == -3  # its line breaks still count
    assert heights.combine([heights.measure("a\nb\nc", 1)]) == 3
