"""Quarterly summaries over two quarters of re-submitted registers, checked against plain-Python counts.

The test data are a story told by submissions (statuses move on, a hazard is reported late, a completed
date is corrected, one hazard drops out of the register, a submission after quarter end must not count).
`expected()` recomputes every figure from those rows with nothing but loops and dates, and the tests
compare it with the cells of the workbooks and with the chart ranges inside the xlsx zip.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import zipfile
from collections import defaultdict
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from hazardnet.publish.quarterly import Quarter
from hazardnet.publish.quarterly_workbook import (
    BRIEFING,
    COMMITMENTS,
    OVERDUE,
    OVERVIEW,
    REMEDIATED,
)
from hazardnet.store import Store
from schemas.headers import FIELDS
from schemas.vocab import CATEGORIES, CUSTOMER_GRADES
from tests.conftest import harness_env
from tests.jobs import quarter_sent_job, quarter_job
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)

D = dt.date
Q2, Q3 = Quarter(2026, 2), Quarter(2026, 3)
FIGURE_HEADERS = ["涉及客户数", "本季度涉及隐患", "季初未整改", "本季度新发现", "本季度报告已整改", "季末未整改", "季末逾期",
                  "整改率", "整改用时中位数(天)", "本季度县级督办", "本季度州级挂牌督办"]

CUSTOMERS = {
    "0630100001": ("青海盐湖钾肥股份有限公司", "一级", "危险化学品"),
    "0630100002": ("格尔木市人民医院", "二级", "医疗"),
    "0630100003": ("格尔木炼油厂", "特级", "石油化工"),
    "0630200001": ("德令哈纯碱厂", "一级", "危险化学品"),
    "0630200002": ("德令哈市自来水公司", "二级", "供水"),
}


def H(hid, cid, found, severity="一般", category="电气设备", status="未整改", deadline=None, completed=None,
      supervised=None):
    """One register row of the story."""
    name, grade, industry = CUSTOMERS[cid]
    return {"hazard_id": hid, "customer_id": cid, "customer_name": name, "customer_grade": grade,
            "industry": industry, "found_date": found, "description": f"{name}{hid}隐患描述",
            "category": category, "severity": severity, "consequence": f"{hid}可能导致停电",
            "suggestion": f"{hid}整改建议", "deadline": deadline, "owner": "张三", "status": status,
            "completed_date": completed, "gov_supervised": supervised}


G = "格尔木市"
DLH = "德令哈市"
# (county, submission date, rows). Every version of every hazard, as county clerks re-submitted them.
STORY = [
    (G, D(2026, 5, 20), [
        H("G1", "0630100001", D(2026, 3, 10), "重大", "供电电源", deadline=D(2026, 6, 30), supervised="是"),
        H("G2", "0630100001", D(2026, 4, 2), deadline=D(2026, 8, 31), status="整改中"),
        H("G3", "0630100002", D(2026, 2, 1), "较大", "自备应急电源", "已整改", D(2026, 4, 30), D(2026, 5, 1)),
        H("G4", "0630100003", D(2026, 5, 10), "重大", "运行管理"),
    ]),
    (G, D(2026, 6, 25), [
        H("G1", "0630100001", D(2026, 3, 10), "重大", "供电电源", deadline=D(2026, 6, 30), supervised="是"),
        H("G2", "0630100001", D(2026, 4, 2), deadline=D(2026, 8, 31), status="整改中"),
        H("G3", "0630100002", D(2026, 2, 1), "较大", "自备应急电源", "已整改", D(2026, 4, 30), D(2026, 5, 1)),
        H("G4", "0630100003", D(2026, 5, 10), "重大", "运行管理", "整改中"),
        H("G5", "0630100002", D(2026, 6, 20), deadline=D(2026, 7, 20)),
    ]),
    (G, D(2026, 8, 18), [
        H("G1", "0630100001", D(2026, 3, 10), "重大", "供电电源", deadline=D(2026, 6, 30), supervised="是"),
        H("G2", "0630100001", D(2026, 4, 2), deadline=D(2026, 8, 31), status="已整改", completed=D(2026, 8, 5)),
        H("G3", "0630100002", D(2026, 2, 1), "较大", "自备应急电源", "已整改", D(2026, 4, 30), D(2026, 5, 1)),
        H("G4", "0630100003", D(2026, 5, 10), "重大", "运行管理", "已整改", D(2026, 7, 31), D(2026, 7, 15)),
        H("G5", "0630100002", D(2026, 6, 20), status="整改中", deadline=D(2026, 7, 20)),
        H("G6", "0630100003", D(2026, 7, 8), "较大", "非电性质保安措施", "已整改", D(2026, 8, 30), D(2026, 8, 10)),
        H("G7", "0630100002", D(2026, 8, 1), deadline=D(2026, 9, 15)),
        H("G8", "0630100001", D(2026, 6, 5), "一般", "其他", deadline=D(2026, 12, 31)),  # reported late
    ]),
    (G, D(2026, 9, 20), [  # G3 (long done) no longer listed
        H("G1", "0630100001", D(2026, 3, 10), "重大", "供电电源", "整改中", D(2026, 6, 30), supervised="是"),
        H("G2", "0630100001", D(2026, 4, 2), deadline=D(2026, 8, 31), status="已整改", completed=D(2026, 8, 5)),
        H("G4", "0630100003", D(2026, 5, 10), "重大", "运行管理", "已整改", D(2026, 7, 31), D(2026, 7, 15)),
        H("G5", "0630100002", D(2026, 6, 20), status="已整改", deadline=D(2026, 7, 20), completed=D(2026, 9, 18)),
        H("G6", "0630100003", D(2026, 7, 8), "较大", "非电性质保安措施", "已整改", D(2026, 8, 30), D(2026, 8, 10)),
        H("G7", "0630100002", D(2026, 8, 1), deadline=D(2026, 9, 15)),
        H("G8", "0630100001", D(2026, 6, 5), "一般", "其他", deadline=D(2026, 12, 31)),
        H("G9", "0630100003", D(2026, 9, 10), "重大", "供电电源", deadline=D(2026, 10, 31)),
    ]),
    (G, D(2026, 10, 15), [  # after the quarter: must not change the Q3 summary
        H("G1", "0630100001", D(2026, 3, 10), "重大", "供电电源", "已整改", D(2026, 6, 30), D(2026, 10, 10)),
        H("G7", "0630100002", D(2026, 8, 1), "一般", status="已整改", deadline=D(2026, 9, 15),
          completed=D(2026, 9, 25)),
    ]),
    (DLH, D(2026, 6, 10), [
        H("D1", "0630200001", D(2026, 6, 1), deadline=D(2026, 9, 1)),
        H("D2", "0630200002", D(2026, 4, 15), "较大", "供电电源", "已整改", D(2026, 5, 31), D(2026, 6, 5)),
    ]),
    (DLH, D(2026, 9, 5), [
        # D1 corrected: it was in fact completed before the quarter began
        H("D1", "0630200001", D(2026, 6, 1), status="已整改", deadline=D(2026, 9, 1), completed=D(2026, 6, 28)),
        H("D2", "0630200002", D(2026, 4, 15), "较大", "供电电源", "已整改", D(2026, 5, 31), D(2026, 6, 5)),
        H("D3", "0630200002", D(2026, 7, 20), "重大", "供电电源", deadline=D(2026, 8, 20)),
        H("D4", "0630200001", D(2026, 9, 1), status="整改中", deadline=D(2026, 9, 30)),  # due on the last day
    ]),
]


def frame(rows: list[dict]) -> pd.DataFrame:
    recs = []
    for i, r in enumerate(rows):
        rec = {f.name: r.get(f.name) for f in FIELDS}
        rec["_row"] = i + 1
        recs.append(rec)
    return pd.DataFrame(recs)


def load_story(store: Store, story=STORY) -> None:
    for n, (county, as_of, rows) in enumerate(story):
        store.record_submission(county=county, file_name=f"{county}{as_of}.xlsx", sha256=f"{n:064d}", as_of=as_of,
                                outcome="accepted", findings=[], kept_at=None, rows=frame(rows))
    # a rejected file carries no hazards and must change nothing
    store.record_submission(county=DLH, file_name="bad.xlsx", sha256="f" * 64, as_of=D(2026, 9, 25),
                            outcome="rejected", findings=[{"message": "x"}], kept_at=None)


# ---- the independent computation: plain Python over STORY ----------------------------------------
def state_on(day: dt.date, story=STORY) -> dict[tuple[str, str], dict]:
    """Latest version of every hazard reported by a submission dated on or before `day`."""
    state: dict[tuple[str, str], dict] = {}
    for county, as_of, rows in sorted(story, key=lambda s: s[1]):
        if as_of <= day:
            for r in rows:
                state[(county, r["hazard_id"])] = {**r, "county": county}
    return state


def expected(q: Quarter, story=STORY) -> dict[str, dict]:
    """Figures per county (and "合计"), per severity/category/grade, per month, and the hazard sets."""
    qs, qe = q.start, q.end
    hazards = state_on(qe, story)
    before = state_on(qs - dt.timedelta(days=1), story)

    def done(h):
        return h["completed_date"] if h["status"] == "已整改" else None

    def flags(h):
        d = done(h)
        return {"start": h["found_date"] < qs and (d is None or d >= qs),
                "found": qs <= h["found_date"] <= qe,
                "rem": d is not None and qs <= d <= qe,
                "end": d is None or d > qe,
                "overdue": h["status"] != "已整改" and h["deadline"] is not None and h["deadline"] < qe}

    def figures(keys, reported_keys=None):
        fl = {k: flags(hazards[k]) for k in keys}
        quarter = [k for k in keys if fl[k]["start"] or fl[k]["found"]]
        rem = [k for k in keys if fl[k]["rem"]]
        days = [(done(hazards[k]) - hazards[k]["found_date"]).days for k in rem]
        out = {"涉及客户数": len({(k[0], hazards[k]["customer_id"]) for k in quarter}),
               "本季度涉及隐患": len(quarter),
               "季初未整改": sum(fl[k]["start"] for k in keys),
               "本季度新发现": sum(fl[k]["found"] for k in keys),
               "本季度报告已整改": len(rem),
               "季末未整改": sum(fl[k]["end"] for k in keys),
               "季末逾期": sum(fl[k]["overdue"] for k in keys),
               "整改率": len(rem) / len(quarter) if quarter else "—",
               "整改用时中位数(天)": statistics.median(days) if days else "—",
               "本季度县级督办": 0, "本季度州级挂牌督办": 0}  # no supervision run in this story
        if reported_keys is not None:
            out["上季度末台账记载未整改"] = len(reported_keys)
            out["补报及更正"] = out["季初未整改"] - len(reported_keys)
            # the closure columns (no re-inspection in this story: nothing closed, nothing failed)
            out["本季度复查销号"] = 0
            out["季末待复查"] = sum(1 for k in keys if hazards[k]["status"] == "已整改"
                                and hazards[k]["completed_date"] <= qe)
            out["本季度复查不合格"] = 0
            out["本季度新发现其中已告知"] = sum(1 for k in keys if fl[k]["found"] and hazards[k].get("notice_date"))
        return out

    reported = [k for k, h in before.items() if h["found_date"] < qs and (done(h) is None or done(h) >= qs)]
    counties = ["德令哈市", "格尔木市", "茫崖市", "乌兰县", "都兰县", "天峻县"]
    by_county = {c: figures([k for k in hazards if k[0] == c], [k for k in reported if k[0] == c]) for c in counties}
    by_county["合计"] = figures(list(hazards), reported)
    fl = {k: flags(h) for k, h in hazards.items()}
    months = {f"{m}月": (sum(1 for h in hazards.values() if qs <= h["found_date"] <= qe and h["found_date"].month == m),
                        sum(1 for h in hazards.values() if fl[(h["county"], h["hazard_id"])]["rem"]
                            and done(h).month == m)) for m in q.months}
    return {
        "by_county": by_county,
        "severity": {s: figures([k for k, h in hazards.items() if h["severity"] == s]) for s in ("一般", "较大", "重大")},
        "category": {c: figures([k for k, h in hazards.items() if h["category"] == c]) for c in CATEGORIES},
        "grade": {g: figures([k for k, h in hazards.items() if h["customer_grade"] == g]) for g in CUSTOMER_GRADES},
        "months": months,
        "in_quarter": {k for k in hazards if fl[k]["start"] or fl[k]["found"]},
        "overdue": {k: (qe - hazards[k]["deadline"]).days for k in hazards if fl[k]["overdue"]},
        "remediated": {k for k in hazards if fl[k]["rem"]},
        "status": {c: (sum(1 for k in hazards if k[0] == c and fl[k]["end"] and hazards[k]["status"] == "未整改"),
                       sum(1 for k in hazards if k[0] == c and fl[k]["end"] and hazards[k]["status"] != "未整改"),
                       sum(1 for k in hazards if k[0] == c and fl[k]["rem"])) for c in counties},
        "hazards": hazards,
    }


# ---- reading the workbooks back ---------------------------------------------------------------
def tables(ws) -> dict[str, dict[str, dict]]:
    """The figures tables of 总览, keyed by their first header cell, rows keyed by their label."""
    out: dict[str, dict[str, dict]] = {}
    rows = list(ws.iter_rows(values_only=True))
    i = 0
    while i < len(rows):
        r = rows[i]
        if r[1] == "涉及客户数":
            header = [h for h in r if h is not None]
            body = {}
            i += 1
            while i < len(rows) and rows[i][0] is not None:
                body[rows[i][0]] = dict(zip(header[1:], rows[i][1:len(header)]))
                i += 1
            out[header[0]] = body
        i += 1
    return out


EMPTY_SENTENCES = ("季末无逾期未整改隐患。", "本季度无报告已整改的隐患。")


def split_note(ws) -> tuple[list[tuple], str | None]:
    """(data rows, the note under them) of a table sheet whose header is row 2: the rows end at the first blank one;
    a table with no rows holds the sentence saying so (EMPTY_SENTENCES) under its header instead, the note."""
    rows = list(ws.iter_rows(min_row=3, values_only=True))
    if rows and rows[0][0] in EMPTY_SENTENCES and all(c is None for c in rows[0][1:]):
        return [], rows[0][0]
    blank = next((i for i, r in enumerate(rows) if all(c is None for c in r)), len(rows))
    tail = [r[0] for r in rows[blank:] if r[0] is not None]
    return rows[:blank], (tail[0] if tail else None)


def as_cmp(v):
    return round(v, 6) if isinstance(v, float) else v


def briefing_keys(ws, counties) -> list[tuple[str, str]]:
    """(county, hazard id) of every hazard row of 通报清单, following the county band rows."""
    keys, county = [], None
    for r in ws.iter_rows(min_row=4, values_only=True):
        if isinstance(r[0], str) and r[0].split("：")[0] in counties:
            county = r[0].split("：")[0]
        elif isinstance(r[0], int):
            keys.append((county, r[1]))
    return keys


def charts(path: Path) -> dict[str, list[str]]:
    """Chart title → its <c:f> range references, read from the xlsx zip (openpyxl drops charts on load)."""
    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if re.fullmatch(r"xl/charts/chart\d+\.xml", name):
                xml = zf.read(name).decode()
                title = "".join(re.findall(r"<a:t>([^<]*)</a:t>", xml.split("</c:title>")[0]))
                out[title] = re.findall(r"<c:f>([^<]*)</c:f>", xml)
        drawings = [n for n in zf.namelist() if n.startswith("xl/drawings/drawing")]
    assert drawings, "charts must be anchored on a sheet"
    return out


def resolve(wb, ref: str) -> list:
    """Values of a chart range such as 总览!$A$5:$A$10 (sheet name possibly quoted)."""
    sheet, rng = ref.rsplit("!", 1)
    ws = wb[sheet.strip("'")]
    cells = ws[rng.replace("$", "")]
    if not isinstance(cells, tuple):
        return [cells.value]
    return [c.value for row in cells for c in (row if isinstance(row, tuple) else (row,))]


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def home(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    return settings


@pytest.fixture
def store(home, settings):
    s = Store(settings.database_url)
    load_story(s)
    yield s
    s.dispose()


@pytest.fixture
def q3_books(store, settings):
    """Q3 as the store stood at its end (as_of = 2026-09-30): the October register does not count yet."""
    return {b.name: b for b in quarter_job(store, settings, Q3, as_of=Q3.end).books}


# ---- tests ------------------------------------------------------------------------------------
def test_a_summary_knows_its_own_scope(store, settings):
    """Prefecture, county or customer: the summary says so itself, whatever order the summaries come in; the
    workbook (and deck) written from it take its scope."""
    from hazardnet.publish.quarterly import customer_summary, quarter_data, summaries

    data = quarter_data(store, Q3, Q3.end)
    scoped = summaries(data, settings)
    assert [(s.scope, s.scope_name) for s in scoped] == \
        [("prefecture", settings.prefecture), *[("county", c) for c in settings.counties]]
    rec = data.flags[data.flags["in_quarter"].astype(bool)].iloc[0]
    mine = customer_summary(data, settings, rec["county"], rec["customer_id"])
    assert mine.scope == "customer"
    books = quarter_job(store, settings, Q3, as_of=Q3.end).books
    assert [(b.scope, b.name) for b in books] == [(s.scope, s.scope_name) for s in scoped]


def test_hand_checked_figures_of_the_story():
    """Guard the independent computation itself with numbers worked out by hand."""
    e = expected(Q3)["by_county"]
    g = e["格尔木市"]
    assert (g["季初未整改"], g["本季度新发现"], g["本季度报告已整改"], g["季末未整改"], g["季末逾期"]) == (5, 3, 4, 4, 2)
    assert (g["上季度末台账记载未整改"], g["补报及更正"]) == (4, 1)  # G8 reported late
    d = e["德令哈市"]
    assert (d["季初未整改"], d["本季度新发现"], d["本季度报告已整改"], d["季末未整改"], d["季末逾期"]) == (0, 2, 0, 2, 1)
    assert (d["上季度末台账记载未整改"], d["补报及更正"]) == (1, -1)  # D1's completed date corrected
    assert g["整改用时中位数(天)"] == statistics.median([125, 66, 90, 33])


def test_prefecture_workbook_counts_equal_the_register(q3_books, settings):
    book = q3_books[settings.prefecture]
    assert book.path == settings.outbox / "quarterly" / "2026Q3" / "海西州2026年第三季度电力安全隐患治理情况汇总.xlsx"
    wb = openpyxl.load_workbook(book.path)
    assert wb.sheetnames == [OVERVIEW, BRIEFING, OVERDUE, REMEDIATED, COMMITMENTS]
    e = expected(Q3)
    t = tables(wb[OVERVIEW])
    got_county = t["县(市)"]
    assert list(got_county) == [*settings.counties, "合计"]
    for county, want in e["by_county"].items():
        assert {k: as_cmp(v) for k, v in got_county[county].items()} == {k: as_cmp(v) for k, v in want.items()}, county
    for label, key in (("隐患等级", "severity"), ("隐患类别", "category"), ("重要用户等级", "grade")):
        got = t[label]
        assert list(got) == list(e[key])
        for value, want in e[key].items():
            assert {k: as_cmp(got[value][k]) for k in FIGURE_HEADERS} == {k: as_cmp(v) for k, v in want.items()}, value


def test_figures_reconcile_for_every_row(q3_books, settings):
    for book in q3_books.values():
        t = tables(openpyxl.load_workbook(book.path)[OVERVIEW])
        for name, body in t.items():
            for label, r in body.items():
                assert r["季初未整改"] + r["本季度新发现"] - r["本季度报告已整改"] == r["季末未整改"], (book.name, name, label)
                assert r["本季度涉及隐患"] == r["季初未整改"] + r["本季度新发现"]
        total = t["县(市)"]["合计"]
        counties = [r for k, r in t["县(市)"].items() if k != "合计"]
        for k in ("季初未整改", "本季度新发现", "本季度报告已整改", "季末未整改", "季末逾期", "涉及客户数"):
            assert total[k] == sum(r[k] for r in counties)
        for label in ("隐患等级", "隐患类别", "重要用户等级"):
            for k in ("季初未整改", "本季度新发现", "本季度报告已整改", "季末未整改", "季末逾期"):
                assert sum(r[k] for r in t[label].values()) == total[k], (label, k)


def test_next_quarter_starts_where_the_last_one_ended(store, settings):
    """Without late reports or corrections, last quarter's open at end is this quarter's open at start."""
    q2 = {b.name: b for b in quarter_job(store, settings, Q2, as_of=Q2.end).books}
    q3 = {b.name: b for b in quarter_job(store, settings, Q3, as_of=Q3.end).books}
    t2 = tables(openpyxl.load_workbook(q2[settings.prefecture].path)[OVERVIEW])["县(市)"]
    t3 = tables(openpyxl.load_workbook(q3[settings.prefecture].path)[OVERVIEW])["县(市)"]
    e2 = expected(Q2)["by_county"]
    for county in [*settings.counties, "合计"]:
        assert t2[county]["季末未整改"] == e2[county]["季末未整改"]
        assert t3[county]["上季度末台账记载未整改"] == t2[county]["季末未整改"], county
        assert t3[county]["季初未整改"] == t2[county]["季末未整改"] + t3[county]["补报及更正"]
    assert (t2["格尔木市"]["季初未整改"], t2["格尔木市"]["本季度新发现"], t2["格尔木市"]["本季度报告已整改"]) == (2, 3, 1)


def test_hazard_lists(q3_books, settings):
    e = expected(Q3)
    wb = openpyxl.load_workbook(q3_books[settings.prefecture].path)
    keys = briefing_keys(wb[BRIEFING], settings.counties)
    assert sorted(keys) == sorted(e["in_quarter"])
    assert len(keys) == len(set(keys))
    # grouped by county in configured order; within a county customers with a major hazard first, majors first
    order = [settings.counties.index(c) for c, _ in keys]
    assert order == sorted(order)
    g = [e["hazards"][k] for k in keys if k[0] == "格尔木市"]
    first_customer = g[0]["customer_id"]
    assert g[0]["severity"] == "重大"
    for cid in {h["customer_id"] for h in g}:
        sev = [h["severity"] for h in g if h["customer_id"] == cid]
        rank = {"重大": 0, "较大": 1, "一般": 2}
        assert [rank[s] for s in sev] == sorted(rank[s] for s in sev)
    assert first_customer in {h["customer_id"] for h in g if h["severity"] == "重大"}
    rows = {r[1]: r for r in wb[BRIEFING].iter_rows(min_row=4, values_only=True) if isinstance(r[0], int)}
    g9 = rows["G9"]
    assert g9[2] == "重大" and g9[5] == "本季度新发现" and g9[6] == "格尔木炼油厂G9隐患描述"
    assert g9[7] == "G9可能导致停电" and g9[8] == "G9整改建议" and g9[9] == dt.datetime(2026, 10, 31)
    assert g9[10] == "张三" and g9[11] == "未整改"
    assert rows["G6"][11] == "已整改（本季度）" and rows["G6"][5] == "本季度新发现"
    assert rows["G8"][5] == "季初未整改"

    ws = wb[OVERDUE]
    header = [c.value for c in ws[2]]
    got = {}
    rows_, note = split_note(ws)
    for r in rows_:
        rec = dict(zip(header, r))
        got[(rec["县(市)"], rec["隐患编号"])] = rec
    assert {k: v["逾期天数"] for k, v in got.items()} == e["overdue"]
    # under the list, the request: only the hazards not reported done since the quarter's end are to be supervised
    done_after = {k for k, v in got.items() if v["整改状态"] == "已整改（季度结束后）"}
    assert done_after == {k for k in e["overdue"] if e["hazards"][k]["status"] == "已整改"}
    ask = len(got) - len(done_after)
    assert note == (f"请政府主管部门对逾期督办清单中尚未整改的 {ask} 项隐患予以督办。"
                    + (f"整改状态为“已整改（季度结束后）”的 {len(done_after)} 项已在季度结束后报告整改，不列入督办。"
                       if done_after else ""))
    assert got[("格尔木市", "G1")]["政府督办"] == "是" and got[("德令哈市", "D3")]["政府督办"] == "否"
    assert ("德令哈市", "D4") not in got  # due on the last day of the quarter: not yet overdue

    ws = wb[REMEDIATED]
    header = [c.value for c in ws[2]]
    got = {(r[0], r[4]): dict(zip(header, r)) for r in ws.iter_rows(min_row=3, values_only=True)}
    assert set(got) == e["remediated"]
    assert got[("格尔木市", "G4")]["完成日期"] == dt.datetime(2026, 7, 15)
    assert got[("格尔木市", "G4")]["是否按期"] == "是" and got[("格尔木市", "G5")]["是否按期"] == "否"
    assert got[("格尔木市", "G4")]["整改用时(天)"] == 66


def test_county_workbooks_hold_only_their_county(q3_books, settings):
    e = expected(Q3)
    assert set(q3_books) == {settings.prefecture, *settings.counties}
    empty_overdue_seen = False
    for county in settings.counties:
        book = q3_books[county]
        assert book.path.name == f"{county}2026年第三季度电力安全隐患治理情况汇总.xlsx"
        wb = openpyxl.load_workbook(book.path)
        t = tables(wb[OVERVIEW])["县(市)"]
        assert list(t) == [county, "合计"]
        want = {k: as_cmp(v) for k, v in e["by_county"][county].items()}
        assert {k: as_cmp(v) for k, v in t[county].items()} == want
        assert {k: as_cmp(v) for k, v in t["合计"].items()} == want
        keys = briefing_keys(wb[BRIEFING], settings.counties)
        assert sorted(keys) == sorted(k for k in e["in_quarter"] if k[0] == county)
        listed, note = split_note(wb[OVERDUE])
        overdue = {r[4] for r in listed}
        assert overdue == {k[1] for k in e["overdue"] if k[0] == county}
        if not overdue:  # an empty list says so under its header, on screen and on paper
            assert note == "季末无逾期未整改隐患。"
            empty_overdue_seen = True
    assert empty_overdue_seen  # some county had nothing overdue: the sentence was checked


def test_native_charts_and_their_ranges(q3_books, settings):
    e = expected(Q3)
    path = q3_books[settings.prefecture].path
    found = charts(path)
    assert set(found) == {"各县(市)季末整改状态", "本季度分月新发现与报告已整改", "本季度涉及隐患（按类别）"}
    wb = openpyxl.load_workbook(path)
    for refs in found.values():
        assert all(re.fullmatch(r"'?总览'?!\$[A-Z]+\$\d+(:\$[A-Z]+\$\d+)?", r) for r in refs), refs

    # status by county: three series (name, categories, values) over the six counties
    refs = found["各县(市)季末整改状态"]
    assert len(refs) == 9
    assert [resolve(wb, refs[i])[0] for i in (0, 3, 6)] == ["未整改", "整改中", "已整改（本季度）"]
    assert resolve(wb, refs[1]) == settings.counties
    for j in range(3):
        assert resolve(wb, refs[3 * j + 2]) == [e["status"][c][j] for c in settings.counties]
    for c, (a, b, done) in e["status"].items():
        assert a + b == e["by_county"][c]["季末未整改"] and done == e["by_county"][c]["本季度报告已整改"]

    refs = found["本季度分月新发现与报告已整改"]
    assert len(refs) == 6
    assert resolve(wb, refs[1]) == ["7月", "8月", "9月"]
    assert resolve(wb, refs[2]) == [e["months"][m][0] for m in ("7月", "8月", "9月")]
    assert resolve(wb, refs[5]) == [e["months"][m][1] for m in ("7月", "8月", "9月")]
    assert sum(resolve(wb, refs[2])) == e["by_county"]["合计"]["本季度新发现"]
    assert sum(resolve(wb, refs[5])) == e["by_county"]["合计"]["本季度报告已整改"]

    refs = found["本季度涉及隐患（按类别）"]
    assert resolve(wb, refs[1]) == list(CATEGORIES)
    assert resolve(wb, refs[2]) == [e["category"][c]["本季度涉及隐患"] for c in CATEGORIES]


def test_every_workbook_prints_as_a_handout(q3_books, store, settings, tmp_path):
    """Every sheet on A3 landscape, one page wide (on A4 the tables printed at 4 to 7 pt), the header rows on
    every page; 总览's page breaks fall before a section heading, the notes or the charts. The paper layout's
    逾期督办 leaves 户号 and 告知日期 out and fits A3 at 80 % or more (10-pt text at 8 pt); the mailed workbook
    keeps every column."""
    from hazardnet.publish.quarterly import quarter_data, summaries
    from hazardnet.publish.quarterly_workbook import OVERDUE_HEADERS, OVERDUE_WIDTHS, write_quarterly_workbook
    from hazardnet.xlsx.style import A3, fit_scale

    wb = openpyxl.load_workbook(q3_books[settings.prefecture].path)
    ws = wb[BRIEFING]
    assert ws.print_title_rows == "$3:$3"
    assert "&P" in ws.oddFooter.center.text
    for name in wb.sheetnames:
        setup = wb[name].page_setup
        assert (setup.paperSize, setup.orientation) == (8, "landscape"), name
        assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, name
        assert wb[name].sheet_properties.pageSetUpPr.fitToPage, name
    assert [c.value for c in wb[OVERDUE][2]] == OVERDUE_HEADERS and wb[OVERDUE].print_title_rows == "$2:$2"
    overview = wb[OVERVIEW]
    for brk in overview.row_breaks.brk:  # the row after the break opens the next page
        first = overview.cell(brk.id + 1, 1).value
        assert first is None or re.match(r"^([一二三四五六]、|口径说明)", first), (brk.id, first)

    s = summaries(quarter_data(store, Q3, Q3.end), settings)[0]
    paper = openpyxl.load_workbook(write_quarterly_workbook(tmp_path / "纸质版.xlsx", s, settings, paper=True))
    headers = [c.value for c in paper[OVERDUE][2]]
    assert "户号" not in headers and "告知日期" not in headers and "整改期限变更次数" in headers
    widths = {c: int(d.width) for d in paper[OVERDUE].column_dimensions.values() for c in range(d.min, d.max + 1)}
    widths = [widths[c] for c in range(1, len(headers) + 1)]  # as written (int: less xlsxwriter's padding)
    assert fit_scale(widths, A3) >= 0.8 > fit_scale(OVERDUE_WIDTHS, A3)
    assert paper[OVERDUE].page_setup.paperSize == 8


def test_text_that_looks_like_a_formula_stays_text(home, settings):
    store = Store(settings.database_url)
    row = H("X1", "0630100001", D(2026, 7, 2))
    row["description"] = "=HYPERLINK(\"http://evil\",\"点我\")"
    row["suggestion"] = "+1-2"
    store.record_submission(county=G, file_name="x.xlsx", sha256="a" * 64, as_of=D(2026, 7, 3), outcome="accepted",
                            findings=[], kept_at=None, rows=frame([row]))
    books = quarter_job(store, settings, Q3, as_of=Q3.end).books
    wb = openpyxl.load_workbook(books[0].path)
    [hazard] = [r for r in wb[BRIEFING].iter_rows(min_row=4) if isinstance(r[0].value, int)]
    assert hazard[6].value.startswith("=HYPERLINK") and hazard[6].data_type == "s"
    assert hazard[8].value == "+1-2" and hazard[8].data_type == "s"
    store.dispose()


def test_an_empty_store_gives_nil_reports(home, settings):
    store = Store(settings.database_url)
    books = quarter_job(store, settings, Q3, as_of=Q3.end).books
    assert len(books) == 1 + len(settings.counties)
    wb = openpyxl.load_workbook(books[0].path)
    t = tables(wb[OVERVIEW])["县(市)"]
    assert t["合计"]["本季度涉及隐患"] == 0 and t["合计"]["整改率"] == "—"
    assert len(charts(books[0].path)) == 3
    store.dispose()


@pytest.mark.parametrize("text,label", [("2026Q3", "2026Q3"), ("2026q1", "2026Q1"), ("2026-Q4", "2026Q4")])
def test_quarter_parsing(text, label):
    q = Quarter.parse(text)
    assert q.label == label
    assert q.start.day == 1 and (q.end + dt.timedelta(days=1)).day == 1
    assert Quarter.parse("2026Q1").previous() == Quarter(2025, 4)


@pytest.mark.parametrize("bad", ["2026Q5", "2026", "Q3", "2026年第三季度x"])
def test_bad_quarter_is_one_chinese_sentence(bad):
    with pytest.raises(ValueError, match="格式不正确"):
        Quarter.parse(bad)


# ---- sending to the three parties --------------------------------------------------------------
def attachment_workbook(message, tmp_path: Path) -> tuple[str, openpyxl.Workbook]:
    [part] = [p for p in message.iter_attachments() if p.get_filename().endswith(".xlsx")]
    name = part.get_filename()
    path = tmp_path / f"att-{abs(hash(message['message-id']))}.xlsx"
    path.write_bytes(part.get_content())
    return name, openpyxl.load_workbook(path)


def test_send_scoped_once_over_smtp(home, store, settings, smtp_server, tmp_path):
    from hazardnet.delivery.ledger import DeliveryLedger
    from hazardnet.delivery.mail import SmtpTransport
    from hazardnet.settings import load_settings
    from tests.test_warnings import (
        DIRECTORY,
        DLH_GOV,
        GOV,
        HOSPITAL,
        POTASH,
        PREF_GOV,
        REFINERY,
        SODA,
        UTILITY,
        write_directory_file,
    )

    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none")
    write_directory_file(s.directory_file, DIRECTORY)
    result = quarter_sent_job(s, store, Q3, SmtpTransport(s), as_of=Q3.end)
    e = expected(Q3)
    statuses = {d["recipient"]: d["status"] for d in result["deliveries"]}
    assert set(statuses.values()) == {"sent"}, result["deliveries"]
    assert len(smtp_server.messages) == len(DIRECTORY)

    def scope_of(address):
        [m] = smtp_server.messages_to(address)
        assert "2026年第三季度电力安全隐患治理情况汇总" in m.message["subject"]
        name, wb = attachment_workbook(m.message, tmp_path)
        assert name.endswith("2026年第三季度电力安全隐患治理情况汇总.xlsx")
        return name, set(briefing_keys(wb[BRIEFING], settings.counties)), wb

    def decks_of(address):
        [m] = smtp_server.messages_to(address)
        decks = [p for p in m.message.iter_attachments() if p.get_filename().endswith(".pptx")]
        assert all(p.get_content_type() == "application/vnd.openxmlformats-officedocument.presentationml.presentation"
                   for p in decks)
        return [p.get_filename() for p in decks]

    name, keys, _ = scope_of(PREF_GOV[0])
    assert name.startswith("海西州") and keys == e["in_quarter"]
    assert decks_of(PREF_GOV[0]) == ["海西州2026年第三季度用电安全隐患通报会.pptx"]
    for address, county in ((GOV[0], G), (UTILITY[0], G), (DLH_GOV[0], DLH)):
        name, keys, _ = scope_of(address)
        assert name.startswith(county) and keys == {k for k in e["in_quarter"] if k[0] == county}
        assert decks_of(address) == [f"{county}2026年第三季度用电安全隐患通报会.pptx"]
    for address, county, cid in ((POTASH[0], G, "0630100001"), (HOSPITAL[0], G, "0630100002"),
                                 (REFINERY[0], G, "0630100003"), (SODA[0], DLH, "0630200001")):
        name, keys, wb = scope_of(address)
        mine = {k for k in e["in_quarter"] if k[0] == county and e["hazards"][k]["customer_id"] == cid}
        assert keys == mine and mine, cid  # its own hazards, never another customer's
        t = tables(wb[OVERVIEW])["县(市)"]
        assert t["合计"]["本季度涉及隐患"] == len(mine) and t["合计"]["涉及客户数"] == 1
        text = "".join(str(c) for row in wb[OVERVIEW].iter_rows(values_only=True) for c in row if c is not None)
        others = {n for k, (n, _, _) in CUSTOMERS.items() if k != cid}
        for sheet in wb.sheetnames:
            text += "".join(str(c) for row in wb[sheet].iter_rows(values_only=True) for c in row if c is not None)
        assert not any(o in text for o in others), cid
        assert decks_of(address) == []  # a deck names other customers: customers get none

    smtp_server.reset()
    again = quarter_sent_job(s, store, Q3, SmtpTransport(s), as_of=Q3.end)
    assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    assert smtp_server.messages == []
    entries = DeliveryLedger(store).entries(kind="quarterly", period="2026Q3")
    assert len(entries) == len(DIRECTORY) and all(e.is_delivered for e in entries)


def run_cli(*args, env=None):
    """The installed `hazardnet` entry point (`python -m hazardnet.cli` would not load the cli_* commands:
    they attach to the imported module's app, not __main__'s)."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from hazardnet.cli.main import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_quarterly_flow_artifacts_and_cli(prefect_harness, store, settings, monkeypatch):
    import json as json_

    from flows.quarterly import quarterly_flow
    from tests.test_ingest_flow import read_back

    state = quarterly_flow(home=str(settings.home), quarter="2026Q3", as_of="2026-09-30", return_state=True)
    assert state.is_completed()
    result = state.result()
    assert [b["name"] for b in result["workbooks"]] == [settings.prefecture, *settings.counties]
    _, tasks, artifacts = read_back(state.state_details.flow_run_id)
    assert sum(1 for t in tasks if t.name.startswith("生成季度汇总：")) == 1 + len(settings.counties)
    assert sum(1 for t in tasks if t.name.startswith("生成通报会PPT：")) == 1 + len(settings.counties)
    by_key = {a.key: a for a in artifacts}
    table = by_key["quarterly-figures"].data
    table = json_.loads(table) if isinstance(table, str) else table
    e = expected(Q3)["by_county"]
    assert [r["县(市)"] for r in table] == [*settings.counties, "合计"]
    for r in table:
        want = e[r["县(市)"]]
        assert [r[k] for k in ("季初未整改", "本季度新发现", "本季度报告已整改", "季末未整改", "季末逾期")] == \
               [want[k] for k in ("季初未整改", "本季度新发现", "本季度报告已整改", "季末未整改", "季末逾期")]
    assert "海西州2026年第三季度电力安全隐患治理情况汇总.xlsx" in by_key["quarterly-workbook-prefecture"].data
    assert "海西州2026年第三季度用电安全隐患通报会.pptx" in by_key["quarterly-deck-prefecture"].data
    decks = [a for a in artifacts if (a.key or "").startswith("quarterly-deck-county-")]
    assert len(decks) == len(settings.counties) and all("通报会.pptx" in a.data for a in decks)
    assert "工作开展情况.docx" in by_key["quarterly-newsletter"].data
    assert result["as_of"] == "2026-09-30" and all(b["deck"] for b in result["workbooks"])

    env = harness_env()  # the harness's server: a CLI run must not start an ephemeral one of its own
    proc = run_cli("quarterly", "--quarter", "2026q3", "--as-of", "2026-09-30", "--home", str(settings.home),
                   "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json_.loads(proc.stdout)
    assert out["quarter"] == "2026Q3" and out["figures"][-1]["open_at_end"] == e["合计"]["季末未整改"]
    # with no --as-of the report date is today: the October register's September remediation (G7) counts
    proc = run_cli("quarterly", "--quarter", "2026q3", "--home", str(settings.home), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json_.loads(proc.stdout)
    assert out["figures"][-1]["remediated"] == e["合计"]["本季度报告已整改"] + 1 and out["as_of"] > "2026-10-15"
    bad = run_cli("quarterly", "--quarter", "2026Q5", "--home", str(settings.home), env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "格式不正确" in bad.stderr
    early = run_cli("quarterly", "--quarter", "2026Q3", "--as-of", "2026-06-30", "--home", str(settings.home),
                    env=env)
    assert early.returncode == 2 and "Traceback" not in early.stderr and "早于2026年第三季度的第一天" in early.stderr
    # a quarter not begun as known today (2099Q2 typed for 2026Q2): refused too, nothing written
    future = run_cli("quarterly", "--quarter", "2099Q2", "--home", str(settings.home), env=env)
    assert future.returncode == 2 and "Traceback" not in future.stderr, future.stderr
    assert "早于2099年第二季度的第一天（2099-04-01），该季度尚无可统计的台账。" in future.stderr, future.stderr
    state = quarterly_flow(home=str(settings.home), quarter="2099Q2", send=True, return_state=True)  # the Run form
    assert state.is_failed() and "早于2099年第二季度的第一天（2099-04-01）" in state.message
    assert not (settings.outbox / "quarterly" / "2099Q2").exists()
    helps = run_cli("warnings", "--help", env=env)
    assert helps.returncode == 0 and "风险预警" in helps.stdout


def test_quarterly_flow_sends_once_and_warnings_cli(prefect_harness, store, settings, monkeypatch):
    """--send without a mail server: every message an .eml file, a second run writes none."""
    import json as json_

    from flows.quarterly import quarterly_flow
    from tests.test_warnings import DIRECTORY, write_directory_file

    monkeypatch.delenv("HAZARDNET_SMTP_HOST", raising=False)
    write_directory_file(settings.directory_file, DIRECTORY)
    result = quarterly_flow(home=str(settings.home), quarter="2026Q3", send=True, as_of="2026-09-30")
    assert [d["status"] for d in result["deliveries"]] == ["written"] * len(DIRECTORY)
    emls = sorted((settings.outbox / "mail").glob("2026Q3_*.eml"))
    assert len(emls) == len(DIRECTORY)
    again = quarterly_flow(home=str(settings.home), quarter="2026Q3", send=True, as_of="2026-09-30")
    assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    assert len(list((settings.outbox / "mail").glob("*.eml"))) == len(DIRECTORY)

    env = {**harness_env(), "HAZARDNET_SMTP_HOST": ""}
    proc = run_cli("warnings", "--as-of", "2026-09-30", "--home", str(settings.home), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json_.loads(proc.stdout)
    overdue = expected(Q3)["overdue"]
    assert {(w["county"], w["hazard_id"]) for w in out["warnings"] if w["stage"] != "no_deadline"} == set(overdue)
    assert {d["status"] for d in out["deliveries"]} == {"written"}


def test_a_hazard_reopened_by_a_failed_re_inspection_is_open_at_quarter_end_never_remediated():
    """R1 and R2 were both reported 已整改 on 8/20 (deadline 8/31). R1's re-inspection on 9/1 failed: known on the
    report date, its claim did not hold — no *done on*, open at the quarter's end and overdue there (30 days), on
    the commitment table; R2 passed: remediated in the quarter. The per-hazard identity still holds."""
    from hazardnet.publish.quarterly import quarter_flags

    done = dict(status="已整改", deadline=D(2026, 8, 31), completed=D(2026, 8, 20))
    rows = [{**H("R1", "0630100001", D(2026, 7, 1), **done), "reinspect_date": D(2026, 9, 1),
             "reinspector": "李工", "reinspect_result": "不合格"},
            {**H("R2", "0630100002", D(2026, 7, 1), **done), "reinspect_date": D(2026, 9, 1),
             "reinspector": "李工", "reinspect_result": "合格"}]
    register = frame(rows).assign(county=G, version_as_of=D(2026, 9, 5), in_latest=True)
    flags = quarter_flags(register, Q3).set_index("hazard_id")
    r1, r2 = flags.loc["R1"], flags.loc["R2"]
    assert r1["done_on"] is None and not r1["remediated_in_quarter"] and r1["open_at_end"]
    assert r1["overdue_at_end"] and int(r1["days_overdue"]) == 30 and r1["status_at_end"] == "整改中"
    assert r2["done_on"] == D(2026, 8, 20) and r2["remediated_in_quarter"] and not r2["open_at_end"]
    assert not r2["overdue_at_end"]
    for r in (r1, r2):
        assert int(r["open_at_start"]) + int(r["found_in_quarter"]) - int(r["remediated_in_quarter"]) == \
            int(r["open_at_end"])


def test_a_quarterly_mail_after_the_meeting_deadline_does_not_ask_for_it_and_is_signed_once(settings):
    from hazardnet.delivery.directory import Recipient
    from hazardnet.publish.quarterly_mail import quarterly_mail_text
    from hazardnet.publish.quarterly_workbook import QuarterlyWorkbook

    figures = {"open_at_start": 2, "found": 7, "remediated": 3, "open_at_end": 6, "overdue_at_end": 2,
               "remediation_rate": 0.333}
    customer = Recipient("用电客户", "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", (), ())
    utility = Recipient("供电企业", "格尔木市", None, "国网格尔木供电公司", (), ())

    def body(recipient, as_of):
        book = QuarterlyWorkbook("county", "格尔木市", "格尔木市", None, Path("x.xlsx"), "", figures, 6, as_of=as_of)
        return quarterly_mail_text(recipient, book, Q3, settings)[1]

    before = body(customer, dt.date(2026, 10, 9))
    assert "季度隐患通报会请于 2026年10月10日前召开" in before and "在季度隐患通报会上明确整改期限" in before
    for recipient in (customer, utility):
        after = body(recipient, dt.date(2026, 12, 8))
        assert "请于" not in after and "季度隐患通报会的召开期限（2026年10月10日）已过" in after
        assert "在季度隐患通报会上" not in after and "准备季度隐患通报会材料" not in after
        lines = after.splitlines()
        assert settings.mail_from_name in lines and settings.company not in lines  # signed once


def test_the_first_quarter_the_system_knows_has_no_figure_to_reconcile_with(store, settings):
    """2026Q2 is the story's first quarter: on the previous report date (2026-03-31) no county had a register, so
    上季度末台账记载未整改 and 补报及更正 read "—" (with a note), not 0 and 季初未整改 — in the workbook (read back),
    the flow's figures (JSON) and its artifact table; 2026Q3 reconciles with Q2 as before."""
    from hazardnet.publish.quarterly import county_figures_rows

    outcome = quarter_job(store, settings, Q2, as_of=Q2.end)
    books = {b.name: b for b in outcome.books}
    overview = openpyxl.load_workbook(books[settings.prefecture].path)[OVERVIEW]
    t2 = tables(overview)["县(市)"]
    assert t2["格尔木市"]["季初未整改"] == 2  # G1 and G3, found before Q2, known only from the May register
    open_at_start = {c for c in settings.counties if t2[c]["季初未整改"]}
    assert open_at_start == {"格尔木市"}
    for county in [*settings.counties, "合计"]:
        want = ("—", "—") if county in open_at_start | {"合计"} else (0, 0)  # nothing to reconcile: truly 0
        assert (t2[county]["上季度末台账记载未整改"], t2[county]["补报及更正"]) == want, county
    notes = [r[0] for r in overview.iter_rows(values_only=True) if isinstance(r[0], str) and r[0].startswith("7. ")]
    assert notes and "两项显示为“—”" in notes[0]
    county = openpyxl.load_workbook(books["格尔木市"].path)[OVERVIEW]
    assert tables(county)["县(市)"]["格尔木市"]["补报及更正"] == "—"
    figures = outcome.result["figures"]
    assert [(r["county"], r["restated"]) for r in figures if r["open_at_start_reported"] is None] == \
        [("格尔木市", None), ("合计", None)]
    artifact = {r["县(市)"]: r["补报及更正"] for r in county_figures_rows(outcome.prefecture)}  # the flow's artifact
    assert (artifact["格尔木市"], artifact["合计"], artifact["茫崖市"]) == ("—", "—", 0)
    # the next quarter has Q2's summary to reconcile with: numbers again where a county had a register by 06-30
    t3 = tables(openpyxl.load_workbook(quarter_job(store, settings, Q3, as_of=Q3.end).books[0].path)[OVERVIEW])["县(市)"]
    assert (t3["格尔木市"]["上季度末台账记载未整改"], t3["格尔木市"]["补报及更正"]) == (4, 1)
