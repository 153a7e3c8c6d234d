"""The derived facts (hazardnet.rules) at their edges, and the frame helper equal to a column-wise oracle."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace

import pandas as pd
import pytest

from hazardnet import rules
from schemas.vocab import PARTY_CUSTOMER, PARTY_GOV, STATUS_DONE

from .test_consolidated_stream import oracle_derived

AS_OF = dt.date(2026, 11, 15)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize("status, deadline, overdue, days", [
    ("未整改", AS_OF - DAY, True, 1),
    ("整改中", AS_OF - 40 * DAY, True, 40),
    ("未整改", AS_OF, False, None),  # due today is not overdue yet
    ("未整改", None, False, None),  # no deadline: reported as such, never overdue
    (STATUS_DONE, AS_OF - 40 * DAY, False, None),
])
def test_overdue_and_days_overdue(status, deadline, overdue, days):
    assert rules.is_overdue(status, deadline, AS_OF) is overdue
    assert rules.days_overdue(status, deadline, AS_OF) == days


def test_a_failed_re_inspection_reopens_a_remediated_hazard_until_its_deadline_is_met_again():
    """已整改 with 复查结论 不合格 is a claim that did not hold: open again, so overdue past its deadline, its days
    open running to the as-of date — on and after the re-inspection's day only."""
    found, deadline, completed = AS_OF - 90 * DAY, AS_OF - 20 * DAY, AS_OF - 30 * DAY
    failed = {"status": STATUS_DONE, "reinspect_result": "不合格", "reinspect_date": AS_OF - 10 * DAY}
    again = rules.reopened_on(failed, AS_OF)
    assert again and rules.is_open(STATUS_DONE, again)
    assert rules.is_overdue(STATUS_DONE, deadline, AS_OF, again)
    assert rules.days_overdue(STATUS_DONE, deadline, AS_OF, again) == 20
    assert rules.days_open(STATUS_DONE, found, completed, AS_OF, again) == 90
    before = AS_OF - 11 * DAY  # the day before the re-inspection: 已整改, awaiting it
    assert not rules.reopened_on(failed, before) and not rules.is_overdue(STATUS_DONE, deadline, before, False)
    passed = {**failed, "reinspect_result": "合格"}
    assert not rules.reopened_on(passed, AS_OF)
    # the supervision ladder and reminders see the same hazard as open
    row = {**failed, "severity": "一般", "deadline": deadline}
    assert not rules.is_closed(row) and rules.rung(row, AS_OF) == rules.OVERDUE
    assert rules.reminder_due({**row, "deadline": AS_OF + 3 * DAY}, AS_OF) == 3


def test_days_open_ends_at_completion_or_the_as_of_date_and_never_goes_below_zero():
    found = AS_OF - 30 * DAY
    assert rules.days_open("未整改", found, None, AS_OF) == 30
    assert rules.days_open(STATUS_DONE, found, found + 5 * DAY, AS_OF) == 5
    assert rules.days_open(STATUS_DONE, found, None, AS_OF) is None
    assert rules.days_open("未整改", AS_OF + 3 * DAY, None, AS_OF) == 0
    assert rules.days_open("未整改", None, None, AS_OF) is None


def test_done_on_and_remediated_in_a_quarter():
    qs, qe = dt.date(2026, 7, 1), dt.date(2026, 9, 30)
    assert rules.done_on(STATUS_DONE, qe, dt.date(2026, 10, 15)) == qe
    assert rules.done_on(STATUS_DONE, None, dt.date(2026, 10, 15)) == dt.date(2026, 10, 15)  # legacy row
    assert rules.done_on("整改中", qe, qe) is None
    assert rules.remediated_in(qs, qs, qe) and rules.remediated_in(qe, qs, qe)
    assert not rules.remediated_in(qe + DAY, qs, qe) and not rules.remediated_in(None, qs, qe)


def test_scope_a_customer_sees_its_own_hazards_in_its_own_county_only():
    customer = SimpleNamespace(party=PARTY_CUSTOMER, county="格尔木市", customer_id="0901", org_name="钾肥")
    assert rules.in_scope("格尔木市", "0901", customer)
    assert not rules.in_scope("德令哈市", "0901", customer)  # the same 户号 in another county
    assert not rules.in_scope("格尔木市", "901", customer)
    assert not rules.in_scope("格尔木市", None, customer)
    nameless = SimpleNamespace(party=PARTY_CUSTOMER, county="格尔木市", customer_id=None, org_name="无户号")
    assert not rules.in_scope("格尔木市", None, nameless)
    county = SimpleNamespace(party=PARTY_GOV, county="格尔木市", customer_id=None, org_name="格尔木市能源局")
    prefecture = SimpleNamespace(party=PARTY_GOV, county=None, customer_id=None, org_name="海西州能源局")
    assert rules.in_scope("格尔木市", "0902", county) and not rules.in_scope("德令哈市", "0902", county)
    assert rules.in_scope("德令哈市", "0902", prefecture)
    assert [rules.scope_label(r, "海西州") for r in (customer, county, prefecture)] == ["钾肥", "格尔木市", "海西州"]


def _blank(rng: random.Random):
    return rng.choice([None, pd.NaT, float("nan")])


@pytest.mark.parametrize("seed", range(3))
def test_the_frame_helper_equals_the_column_wise_oracle(seed):
    """Dates as the store gives them and as frames hold them (Timestamps), blanks as None, NaT or NaN."""
    rng = random.Random(seed)
    rows = []
    for _ in range(400):
        status = rng.choice(["未整改", "整改中", STATUS_DONE])
        found = AS_OF - rng.randint(-5, 400) * DAY
        deadline = found + rng.randint(-10, 300) * DAY

        def date(d):
            return rng.choice([d, d, pd.Timestamp(d), _blank(rng)])
        completed = found + rng.randint(0, 90) * DAY
        # a re-inspection (some after the as-of date: not seen yet), 不合格 reopening a 已整改 hazard
        reinspected = completed + rng.randint(1, 60) * DAY if status == STATUS_DONE and rng.random() < 0.5 else None
        rows.append({"status": status, "found_date": date(found), "deadline": date(deadline),
                     "completed_date": date(completed) if status == STATUS_DONE else None,
                     "reinspect_date": reinspected and date(reinspected),
                     "reinspect_result": rng.choice(["合格", "不合格", " 不合格 "]) if reinspected else None,
                     "in_latest": rng.random() < 0.8})
    df = pd.DataFrame(rows)
    ours, oracle = rules.with_derived(df, AS_OF), oracle_derived(df, AS_OF)
    for column in ("overdue", "days_overdue", "days_open", "absent"):  # stage: tests/test_notices.py counts it
        assert str(ours[column].dtype) == str(oracle[column].dtype), column
        assert ours[column].astype(object).where(ours[column].notna(), None).tolist() == \
            oracle[column].astype(object).where(oracle[column].notna(), None).tolist(), column
    assert ours["overdue"].any() and not ours["overdue"].all()
    assert (ours["overdue"] & (ours["status"] == STATUS_DONE)).any()  # reopened hazards among the overdue


def test_a_blank_deadline_keeps_the_last_date_given_and_says_so():
    from hazardnet.rules import DeadlineEvent, current_deadline, deadline_history, deadline_note, with_current_deadlines

    d = dt.date
    given = deadline_history([DeadlineEvent(d(2026, 7, 10), d(2026, 8, 20)), DeadlineEvent(d(2026, 8, 10), None)])
    assert current_deadline(None, given) == d(2026, 8, 20)
    assert deadline_note(None, given) == "本期台账未填写整改期限，沿用2026-07-10台账的整改期限"
    assert deadline_note(d(2026, 8, 20), given) is None  # the register says it itself
    never = deadline_history([DeadlineEvent(d(2026, 7, 10), None), DeadlineEvent(d(2026, 8, 10), None)])
    assert current_deadline(None, never) is None and deadline_note(None, never) is None  # 未明确整改期限
    committed = deadline_history([DeadlineEvent(d(2026, 7, 10), d(2026, 8, 20)),
                                  DeadlineEvent(d(2026, 10, 12), d(2026, 10, 25), "commitment", person="张三"),
                                  DeadlineEvent(d(2026, 11, 10), None)])
    assert current_deadline(None, committed) == d(2026, 10, 25)
    assert deadline_note(None, committed) == "整改期限为通报会承诺（2026-10-12，责任人 张三）"
    frame = pd.DataFrame({"county": ["格尔木市"] * 2, "hazard_id": ["G1", "G2"], "deadline": [None, None],
                          "remarks": ["已停产", None]})
    out = with_current_deadlines(frame, {("格尔木市", "G1"): given, ("格尔木市", "G2"): never})
    assert out["deadline"].tolist() == [d(2026, 8, 20), None]
    assert out["remarks"].tolist()[0] == "已停产；本期台账未填写整改期限，沿用2026-07-10台账的整改期限"
