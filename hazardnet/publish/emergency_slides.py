"""The quarterly briefing's emergency-management part (应急管理): a slide per county listing its customers' file
problems (客户档案问题, from the customer checks), an 应急演练 slide (joint drills held this quarter, due next quarter,
overdue) and the newsletter's paragraph on them. `quarter_emergency` computes it from the store once per run;
`add_emergency_slides` is one call from the deck writer; `drill_paragraph` one line of the newsletter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hazardnet.publish.customer_checks import drills_summary, problems_of_county, stored_customer_report

PROBLEM_ROWS_PER_SLIDE = 9


@dataclass
class QuarterEmergency:
    """What the quarter's decks and newsletter show of the customer files and the joint drills."""

    quarter_title: str
    quarter_end: dt.date
    report: dict  # the customer-checks report as of the quarter's end (publish.customer_checks)
    drills: dict[str, dict[str, list[dict]]]  # county -> {"held", "due", "overdue"} (drills_summary)


def quarter_emergency(store, settings, quarter, as_of: dt.date) -> QuarterEmergency | None:
    """The customer checks and the drills of `quarter` as known on `as_of`; None when no county has a customer file."""
    from schemas.customer_file import KIND_CUSTOMERS, KIND_DRILLS

    day = min(as_of, quarter.end)
    report = stored_customer_report(store, settings, day)
    if report is None:
        return None
    files = store.records_as_of(KIND_CUSTOMERS, day, settings.counties)
    drills = store.records_as_of(KIND_DRILLS, day, settings.counties)
    return QuarterEmergency(quarter.title, quarter.end, report, drills_summary(files, drills, quarter.start, quarter.end))


def add_emergency_slides(prs, emergency: QuarterEmergency, counties: Sequence[str], footer: str,
                         table_slides) -> None:
    """A 客户档案问题 slide per county of the deck that has a customer file (paged when long) and the 应急演练 slide;
    `table_slides` is the deck's paged-table helper (briefing_deck._table_slides), handed in so the two modules do
    not import each other."""
    from pptx.util import Inches

    _table_slides = table_slides

    counties = [c for c in counties if c in emergency.drills]  # drills_summary has a key per county with a file
    if not counties:
        return
    for county in counties:
        rows = [[c["customer_name"], c["customer_id"], "、".join(p["code"] for p in c["problems"])]
                for c in problems_of_county(emergency.report, county)]
        _table_slides(prs, rows, PROBLEM_ROWS_PER_SLIDE, footer, ["客户名称", "户号", "客户档案问题"], [3.2, 1.8, 7.7],
                      name="客户档案问题", title=f"{county}客户档案问题{{part}}：{len(rows)} 户",
                      empty=f"{county}客户档案未发现问题。", row_h=Inches(0.55))
    rows = []
    for county in counties:
        d = emergency.drills.get(county) or {"held": [], "due": [], "overdue": []}
        rows.append([county, len(d["held"]), "、".join(x["customer_name"] for x in d["due"]) or "无",
                     "、".join(x["customer_name"] for x in d["overdue"]) or "无"])
    _table_slides(prs, rows, PROBLEM_ROWS_PER_SLIDE, footer, ["县(市)", "本季度开展演练（次）", "下季度到期", "已超期（12个月内无联合演练）"],
                  [1.4, 1.8, 4.6, 4.9], name="应急演练", title=f"应急演练{{part}}：{emergency.quarter_title}联合应急演练情况",
                  empty="没有客户档案。", row_h=Inches(0.7))


def drill_paragraph(emergency: QuarterEmergency | None) -> str | None:
    """The newsletter's paragraph on the joint drills and the customer files, or None without customer files."""
    if emergency is None:
        return None
    held = sum(len(d["held"]) for d in emergency.drills.values())
    due = sum(len(d["due"]) for d in emergency.drills.values())
    overdue = sum(len(d["overdue"]) for d in emergency.drills.values())
    customers = emergency.report["customers"]
    with_problems = sum(1 for c in customers if c["problems"])
    return (f"应急管理方面，{emergency.quarter_title}各县(市)组织政府、客户、供电企业联合应急演练 {held} 次；"
            f"下季度有 {due} 户重要客户的年度演练到期，{overdue} 户近12个月内未开展联合应急演练，须尽快安排。"
            f"客户档案（一户一档）共 {len(customers)} 户，其中 {with_problems} 户存在电源配置、自备应急电源、试验或协作书等方面的问题，"
            f"已列入通报督促整改。")
