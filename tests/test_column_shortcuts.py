"""The shortcuts of a parser's per-cell work give exactly what the plain per-cell code gives: normalizing and
checking a register column once per distinct value (schemas.table.per_distinct_value) — also for cells that are
equal in Python but not the same cell: 1, 1.0 and True; a date and a datetime of the same day; NaN —, calamine's
empty cells turned into None (parser_child._tidy), and the register's frame built in one piece."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from hazardnet.intake.grid import SheetGrid, WorkbookGrid
from hazardnet.intake.parser_child import _tidy
from hazardnet.intake.sheet import _normalize_column, _normalizer, read_register
from schemas.register import _each, _vocab_check
from schemas.table import per_distinct_value
from schemas.vocab import STATUSES

COUNTIES = ["格尔木市", "德令哈市"]

# what calamine gives for a cell, with the values that collide as dictionary keys well represented
CELLS = st.one_of(
    st.none(),
    st.sampled_from(["", " ", "已整改", "整改中", "未整改", "2026-03-05", "2026年3月5日", "1", "格尔木", "是", "否",
                     "一般", "重大", "3万元", "x" * 2100]),
    st.text(max_size=6),
    st.sampled_from([0, 1, 2, 45292]),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 45292.0, math.nan, math.inf]),
    st.booleans(),
    st.sampled_from([dt.date(2026, 3, 5), dt.datetime(2026, 3, 5), dt.datetime(2026, 3, 5, 12, 30),
                     dt.date(2024, 1, 1)]),
)


def _same(a: list, b: list) -> bool:
    """Equal cell for cell, of the same class (1 and 1.0 and True are different cells), NaN equal to NaN."""
    return len(a) == len(b) and all(
        type(x) is type(y) and (x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)))
        for x, y in zip(a, b))


def test_values_that_could_fall_on_one_key_are_not_taken_together():
    assert per_distinct_value([1, 1.0, True], str) is None  # all three are one dictionary key
    assert per_distinct_value([dt.date(2026, 3, 5), dt.datetime(2026, 3, 5)], str) is None
    assert per_distinct_value([[1], "a"], str) is None  # unhashable
    assert per_distinct_value([0.0, -0.0], str) is None  # one key, but "0.0" and "-0.0"
    assert per_distinct_value([0.0, 1.5, 0.0], str) == {0.0: "0.0", 1.5: "1.5"}
    assert per_distinct_value(["a", None, "a", "bc"], lambda v: v and len(v)) == {"a": 1, None: None, "bc": 2}
    assert per_distinct_value(["a", 1.5, None], str) == {"a": "a", 1.5: "1.5", None: "None"}


def test_a_column_of_true_and_one_keeps_both_spellings():
    # True is 是 in a text field, 1 stays "1": one memo keyed by value alone would give one of them the other's
    normalize = _normalizer("hazard_id", COUNTIES)
    assert _normalize_column([True, 1, 1.0, True], normalize) == ["是", "1", "1", "是"]
    assert _normalize_column([0.0, -0.0, 0.0], _normalizer("county", COUNTIES)) == ["0.0", "-0.0", "0.0"]
    assert _normalize_column([0.0, -0.0, 1, 0.0], _normalizer("county", COUNTIES)) == ["0.0", "-0.0", "1", "0.0"]
    dates = _normalizer("found_date", COUNTIES)
    assert _normalize_column([dt.datetime(2026, 3, 5, 12), dt.date(2026, 3, 5)], dates) == [dt.date(2026, 3, 5)] * 2


@hyp_settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, max_size=40), st.sampled_from(["hazard_id", "found_date", "deadline", "status", "county",
                                                       "funds", "description", "customer_grade"]))
def test_normalizing_once_per_distinct_value_equals_normalizing_every_cell(cells, field):
    normalize = _normalizer(field, COUNTIES)
    assert _same(_normalize_column(list(cells), normalize), [normalize(v) for v in cells])


def _naive(rule, values: list) -> bool | list[bool]:
    verdicts = [bool(rule(v)) for v in values]
    return True if all(verdicts) else verdicts


@hyp_settings(max_examples=300, deadline=None)
@given(st.lists(CELLS, min_size=1, max_size=40))
def test_a_column_check_judging_each_distinct_value_once_equals_judging_every_cell(cells):
    rules = {
        "text": lambda v: (type(v) is str and len(v) <= 2000) or v is None or len(str(v)) <= 2000,
        "is_number": lambda v: isinstance(v, (int, float)) or v is None,
        "non_negative": lambda v: v is None or not isinstance(v, (int, float)) or v >= 0,
        "is_date": lambda v: isinstance(v, dt.date) or v is None,
        "not_a_flag": lambda v: type(v) is not bool,  # tells True from 1: wrong if they were taken together
        "no_time": lambda v: type(v) is not dt.datetime,  # tells a datetime from its day's date
    }
    for name, rule in rules.items():
        got = _each(rule)(pd.Series(cells, dtype=object))
        want = _naive(rule, cells)
        if want is True:
            assert got is True, name
        else:
            assert isinstance(got, pd.Series) and got.tolist() == want, name
    vocab = _vocab_check("status", STATUSES)
    got = vocab._check_fn(pd.Series(cells, dtype=object))
    want = _naive(lambda v: v in STATUSES or v is None or (isinstance(v, str) and not v.strip())
                  or (isinstance(v, float) and math.isnan(v)), cells)
    assert (got is True) if want is True else got.tolist() == want


def _tidy_per_cell(rows: list[list]) -> list[list]:
    """_tidy as it was written first: a comparison per cell."""
    out = [[None if v == "" else v for v in row] for row in rows]
    while out and all(v is None for v in out[-1]):
        out.pop()
    width = max((max((i + 1 for i, v in enumerate(row) if v is not None), default=0) for row in out), default=0)
    return [(row + [None] * width)[:width] for row in out]


@hyp_settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(st.just(""), CELLS), max_size=8), max_size=8))
def test_empty_cells_become_none_and_the_grid_is_trimmed_as_cell_by_cell(rows):
    assert [_same(a, b) for a, b in zip(_tidy([list(r) for r in rows]), _tidy_per_cell(rows))] == \
        [True] * len(_tidy_per_cell(rows)) and len(_tidy([list(r) for r in rows])) == len(_tidy_per_cell(rows))


def test_the_register_frame_keeps_every_cell_as_the_python_value_it_was_normalized_to():
    header = ["县(市)", "户号", "客户名称", "隐患描述", "发现日期", "整改期限", "整改状态", "隐患等级", "整改资金(万元)"]
    rows = [header,
            ["格尔木市", 630100001, "盐湖钾肥", "柴油发电机不能启动", dt.datetime(2026, 3, 5), 46100.0, "整改中", "一般",
             "3万元"],
            ["格尔木市", "0630100002", "人民医院", "双电源", "2026年3月6日", "", "已整改", "重大", 1.5]]
    sheet = read_register(WorkbookGrid([SheetGrid("隐患台账", rows, [], False)]), "格尔木市", COUNTIES)
    frame = sheet.frame
    assert set(frame.dtypes.astype(str)) == {"object"} and list(frame.index) == [0, 1]
    assert frame["_row"].tolist() == [1, 2] and all(type(v) is int for v in frame["_row"].tolist())
    assert frame["found_date"].tolist() == [dt.date(2026, 3, 5), dt.date(2026, 3, 6)]
    assert type(frame["found_date"].tolist()[0]) is dt.date  # not a pandas Timestamp
    assert frame["customer_id"].tolist() == ["630100001", "0630100002"]
    assert frame["funds"].tolist() == [3.0, 1.5] and frame["deadline"].tolist()[1] is None
    assert frame["reinspect_date"].tolist() == [None, None]  # a column the sheet does not have


def test_a_findings_json_is_every_field_but_its_sort_keys():
    from dataclasses import asdict

    from hazardnet.intake.findings import WARNING, Finding

    finding = Finding("隐患台账", "J7", "隐患等级", "隐患等级“严重”不在可选范围内", "严重", WARNING, row=7, col=10)
    whole = asdict(finding)
    del whole["row"], whole["col"]
    assert finding.as_json() == whole and list(finding.as_json()) == list(whole)
