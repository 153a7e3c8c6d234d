"""From found to closed: real registers over three months for two counties, with the re-inspection columns
under their variant headers, go through the ingest; then the written notices (read back with python-docx),
the re-inspection reminders through a real SMTP server on loopback (each once, each to its own county's
supply company), the stage of every hazard and the quarter's four closure figures — each against a count
made here from the rows the test wrote, never with hazardnet.rules."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest
from docx import Document

from hazardnet.jobs.ingest import ingest
from hazardnet.jobs.notices import notices
from hazardnet.jobs.reminders import reminders
from hazardnet.jobs.runner import PlainRunner
from hazardnet.publish.notice import Notice, NoticeHazard, notice_letter, notice_sms, write_notice
from hazardnet.publish.consolidated import current_register
from hazardnet.publish.quarterly import Quarter, quarter_data, summaries
from hazardnet.settings import load_settings
from hazardnet.store import Store
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)
from tests.test_warnings import write_directory_file

D = dt.date
G, DLH = "格尔木市", "德令哈市"
A, B, C = "0630100001", "0630100002", "0630100003"
S = "0630200001"
NAMES = {A: "青海盐湖钾肥股份有限公司", B: "格尔木市人民医院", C: "格尔木炼油厂", S: "德令哈纯碱厂"}
G_UTILITY, D_UTILITY = "yongjian@golmud-power.example.cn", "yongjian@delingha-power.example.cn"
DIRECTORY = [
    ("政府主管部门", "全州", None, "海西州能源局", "李局", "anquan@haixi-energy.example.cn", None),
    ("供电企业", "全州", None, "国网海西供电公司营销部", "王工", "yingxiao@haixi-power.example.cn", None),
    ("政府主管部门", G, None, "格尔木市发展和改革委员会(能源局)", "赵科", "anquan@golmud-energy.example.cn", None),
    ("供电企业", G, None, "国网格尔木供电公司", "钱工", G_UTILITY, "13909770001"),
    ("用电客户", G, A, NAMES[A], "孙工", "dianqi@potash.example.cn", "13909770002"),
    ("用电客户", G, B, NAMES[B], "周工", "houqin@hospital.example.cn", None),
    ("用电客户", G, C, NAMES[C], "吴工", "shebei@refinery.example.cn", None),
    ("政府主管部门", DLH, None, "德令哈市发展和改革委员会(能源局)", "郑科", "anquan@delingha-energy.example.cn", None),
    ("供电企业", DLH, None, "国网德令哈供电公司", "冯工", D_UTILITY, None),
    ("用电客户", DLH, S, NAMES[S], "冯工", "dianqi@soda.example.cn", None),
]

# Each county writes the new columns under other headers: 格尔木 the canonical ones, 德令哈 the variants.
HEADERS = {
    G: ["序号", "户号", "客户名称", "重要用户等级", "隐患编号", "发现日期", "隐患描述", "隐患类别", "隐患等级", "可能后果",
        "整改建议", "告知日期", "签收人", "整改期限", "整改责任人", "整改状态", "完成日期", "复查日期", "复查人", "复查结论"],
    DLH: ["序号", "用户编号", "用户名称", "客户等级", "隐患编号", "检查日期", "存在问题", "隐患类型", "隐患级别", "可能造成的后果",
          "整改措施", "书面告知日期", "客户签收人", "计划完成时间", "责任人", "治理状态", "实际完成时间", "验收日期", "验收人",
          "验收结论"],
}
KEYS = ["customer_id", "hazard_id", "found", "desc", "notice", "signed", "deadline", "owner", "status", "completed",
        "re_date", "re_by", "re_result"]


def h(customer, hid, found, status="未整改", *, notice=None, signed=None, deadline=None, owner="客户电工",
      completed=None, re_date=None, re_by=None, re_result=None):
    return dict(customer_id=customer, hazard_id=hid, found=found, desc=f"{hid} 的隐患描述", notice=notice,
                signed=signed, deadline=deadline, owner=owner, status=status, completed=completed, re_date=re_date,
                re_by=re_by, re_result=re_result)


# Month by month (the report date, then each county's whole register as it stood).
MONTHS = {
    D(2026, 7, 10): {
        G: [h(A, "G1", D(2026, 7, 1)),
            h(A, "G2", D(2026, 7, 2), "整改中"),
            h(B, "G3", D(2026, 6, 20), notice=D(2026, 6, 25), signed="张三", deadline=D(2026, 9, 30)),
            h(B, "G4", D(2026, 6, 1), "已整改", notice=D(2026, 6, 3), completed=D(2026, 6, 25)),
            h(C, "G5", D(2026, 6, 1), "已销号", notice=D(2026, 6, 2), owner="孙工", completed=D(2026, 6, 20),
              re_date=D(2026, 6, 28), re_by="钱工", re_result="合格"),
            h(C, "G6", D(2026, 6, 2), "已销号", notice=D(2026, 6, 2), completed=D(2026, 6, 20))],
        DLH: [h(S, "D1", D(2026, 7, 1)),
              h(S, "D2", D(2026, 7, 2), "已完成", notice=D(2026, 7, 2), completed=D(2026, 7, 5)),
              h(S, "D3", D(2026, 6, 1), "已整改", notice=D(2026, 6, 2), completed=D(2026, 6, 10),
                re_date=D(2026, 6, 15), re_by="冯工", re_result="不通过")],
    },
    D(2026, 8, 10): {
        G: [h(A, "G1", D(2026, 7, 1), notice=D(2026, 7, 12), signed="孙工"),
            h(A, "G2", D(2026, 7, 2), "整改中"),
            h(B, "G3", D(2026, 6, 20), "已整改", notice=D(2026, 6, 25), signed="张三", deadline=D(2026, 9, 30),
              completed=D(2026, 7, 20), re_date=D(2026, 7, 25), re_by="客户电工", re_result="合格"),
            h(B, "G4", D(2026, 6, 1), "已整改", notice=D(2026, 6, 3), completed=D(2026, 6, 25),
              re_date=D(2026, 7, 20), re_by="钱工", re_result="合格"),
            h(C, "G5", D(2026, 6, 1), "已销号", notice=D(2026, 6, 2), owner="孙工", completed=D(2026, 6, 20),
              re_date=D(2026, 6, 28), re_by="钱工", re_result="合格"),
            h(C, "G6", D(2026, 6, 2), "已整改", notice=D(2026, 6, 2), completed=D(2026, 6, 20)),
            h(B, "G7", D(2026, 8, 1))],
        DLH: [h(S, "D1", D(2026, 7, 1), "整改中", notice=D(2026, 7, 15), signed="冯工"),
              h(S, "D2", D(2026, 7, 2), "已完成", notice=D(2026, 7, 2), completed=D(2026, 7, 5)),
              h(S, "D3", D(2026, 6, 1), "已整改", notice=D(2026, 6, 2), completed=D(2026, 7, 10),
                re_date=D(2026, 7, 20), re_by="冯工", re_result="不合格")],
    },
    D(2026, 9, 10): {
        G: [h(A, "G1", D(2026, 7, 1), "整改中", notice=D(2026, 7, 12), signed="孙工"),
            h(A, "G2", D(2026, 7, 2), "整改中"),
            h(B, "G3", D(2026, 6, 20), "已整改", notice=D(2026, 6, 25), signed="张三", deadline=D(2026, 9, 30),
              completed=D(2026, 7, 20), re_date=D(2026, 7, 25), re_by="客户电工", re_result="合格"),
            h(B, "G4", D(2026, 6, 1), "已整改", notice=D(2026, 6, 3), completed=D(2026, 6, 25),
              re_date=D(2026, 7, 20), re_by="钱工", re_result="合格"),
            h(C, "G5", D(2026, 6, 1), "已销号", notice=D(2026, 6, 2), owner="孙工", completed=D(2026, 6, 20),
              re_date=D(2026, 6, 28), re_by="钱工", re_result="合格"),
            h(C, "G6", D(2026, 6, 2), "已整改", notice=D(2026, 6, 2), completed=D(2026, 6, 20)),
            h(B, "G7", D(2026, 8, 1), notice=D(2026, 8, 12)),
            h(C, "G8", D(2026, 9, 1))],
        DLH: [h(S, "D1", D(2026, 7, 1), "已整改", notice=D(2026, 7, 15), signed="冯工", completed=D(2026, 8, 20)),
              h(S, "D2", D(2026, 7, 2), "已完成", notice=D(2026, 7, 2), completed=D(2026, 7, 5),
                re_date=D(2026, 8, 1), re_by="冯工", re_result="符合"),
              h(S, "D3", D(2026, 6, 1), "已闭环", notice=D(2026, 6, 2), completed=D(2026, 8, 15),
                re_date=D(2026, 8, 20), re_by="冯工", re_result="合格")],
    },
}
GRADE = {A: "一级", B: "二级", C: "一级", S: "二级"}


def write_register(path: Path, county: str, day: dt.date, rows: list[dict]) -> Path:
    """A county's register as a clerk saves it: a title row, the header, dates as real dates."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "隐患台账"
    ws.append([f"{county}供电公司{day.year}年{day.month}月客户安全隐患台账"])
    ws.append(HEADERS[county])
    for i, r in enumerate(rows, 1):
        ws.append([i, r["customer_id"], NAMES[r["customer_id"]], GRADE[r["customer_id"]], r["hazard_id"], r["found"],
                   r["desc"], "电气设备", "一般", "可能造成停电", "更换设备", r["notice"], r["signed"], r["deadline"],
                   r["owner"], r["status"], r["completed"], r["re_date"], r["re_by"], r["re_result"]])
    for row in ws.iter_rows(min_row=3):
        row[1].number_format = "@"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def submit_month(s, day: dt.date) -> list:
    for county, rows in MONTHS[day].items():
        write_register(s.inbox / county / f"{county}{day:%Y%m}台账.xlsx", county, day, rows)
    result = ingest(s, day, runner=PlainRunner())
    assert {f.outcome for f in result.files} == {"accepted"}, [(f.path, f.findings) for f in result.files]
    return result.files


# ---- the independent count: plain rules written out here -------------------------------------------------
STATUS_WORDS = {"已完成": "已整改", "已销号": "已整改", "已闭环": "已整改"}
VERDICT = {"通过": "合格", "符合": "合格", "不通过": "不合格", "不符合": "不合格"}


def norm(r: dict) -> dict:
    return {**r, "status": STATUS_WORDS.get(r["status"], r["status"]),
            "re_result": VERDICT.get(r["re_result"], r["re_result"])}


def is_closed(r: dict) -> bool:
    r = norm(r)
    return (r["status"] == "已整改" and r["re_result"] == "合格" and r["re_date"] is not None
            and r["re_date"] >= r["completed"] and r["re_by"] not in (None, r["owner"]))


def expected_stage(r: dict) -> str:
    r = norm(r)
    if is_closed(r):
        return "已销号"
    if r["re_result"] == "不合格":
        return "整改中"
    if r["status"] == "已整改":
        return "待复查"
    if r["status"] == "整改中":
        return "整改中"
    return "已告知" if r["notice"] else "未告知"


def latest(day: dt.date) -> dict[tuple[str, str], dict]:
    out = {}
    for d in sorted(MONTHS):
        if d <= day:
            for county, rows in MONTHS[d].items():
                for r in rows:
                    out[(county, r["hazard_id"])] = r
    return out


def unnotified_customers(day: dt.date, already: set[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    want: dict[tuple[str, str], set[str]] = {}
    for (county, hid), r in latest(day).items():
        if norm(r)["status"] in ("未整改", "整改中") and r["notice"] is None and (county, hid) not in already:
            want.setdefault((county, r["customer_id"]), set()).add(hid)
    return want


@pytest.fixture
def home(settings, smtp_server):
    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none",
                      settle_seconds=0, mail_retry_delays=[])
    write_directory_file(s.directory_file, DIRECTORY)
    return s


def docx_text(path: str) -> str:
    doc = Document(path)
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.append("|".join(c.text for c in row.cells))
    return "\n".join(parts)


def notice_hazards_in(path: str) -> set[str]:
    doc = Document(path)
    return {row.cells[1].text for t in doc.tables for row in t.rows[1:]}


def test_a_register_saying_closed_without_a_passing_reinspection_is_stored_as_remediated_with_a_warning(home):
    files = submit_month(home, D(2026, 7, 10))
    golmud = next(f for f in files if f.county == G)
    warned = [x for x in golmud.findings if x.level == "warning" and x.field == "整改状态"]
    # G6 (row 8: title, header, then G1…) says 已销号 without a re-inspection; G5's 已销号 is backed by one
    assert [(x.cell, x.value) for x in warned] == [("P8", "已销号")]
    assert "已整改" in warned[0].message
    store = Store(home.database_url)
    try:
        reg = current_register(store, home, D(2026, 7, 10))
    finally:
        store.dispose()
    rows = {r["hazard_id"]: r for r in reg.to_dict("records")}
    assert rows["G6"]["status"] == "已整改" and rows["G6"]["stage"] == "待复查"
    assert rows["D3"]["reinspect_result"] == "不合格" and rows["D3"]["stage"] == "整改中"
    assert rows["G1"]["stage"] == "未告知" and rows["G3"]["stage"] == "已告知" and rows["G5"]["stage"] == "已销号"


def test_reinspection_cells_outside_the_rules_are_pointed_at(home):
    rows = [h(A, "X1", D(2026, 7, 1), "已整改", completed=D(2026, 7, 5), re_date=D(2026, 7, 3), re_by="钱工",
              re_result="合格"),
            h(A, "X2", D(2026, 7, 1), "已整改", completed=D(2026, 7, 5), re_date=D(2026, 6, 3), re_by="钱工",
              re_result="合格"),
            h(A, "X3", D(2026, 7, 1), "已整改", completed=D(2026, 7, 5), re_date=D(2026, 7, 8), re_by="钱工",
              re_result="差不多"),
            h(A, "X4", D(2026, 7, 1), "已整改", completed=D(2026, 7, 5), re_date=D(2026, 7, 20), re_by="钱工",
              re_result="合格")]
    write_register(home.inbox / G / "bad.xlsx", G, D(2026, 7, 10), rows)
    result = ingest(home, D(2026, 7, 10), runner=PlainRunner(), mail_rejections=False)
    (f,) = result.files
    assert f.outcome == "rejected"
    errors = {(x.cell, x.message) for x in f.findings if x.level == "error"}
    assert ("R3", "复查日期“2026-07-03”早于完成日期") in errors
    assert ("R4", "复查日期“2026-06-03”早于发现日期") in errors
    assert any(cell == "T5" and "复查结论“差不多”" in m for cell, m in errors)
    assert any(cell == "R6" and "晚于报送基准日" in m for cell, m in errors)


def test_loop_contradictions_are_accepted_with_a_warning_at_their_cell(home):
    done = dict(completed=D(2026, 7, 5), re_date=D(2026, 7, 8), re_by="钱工", re_result="合格")
    rows = [h(A, "Y1", D(2026, 7, 1), "整改中", re_date=D(2026, 7, 5), re_by="钱工", re_result="合格"),  # row 3
            h(A, "Y2", D(2026, 7, 1), "未整改", re_date=D(2026, 7, 5), re_by="钱工", re_result="合格"),
            h(A, "Y3", D(2026, 7, 1), "已整改", **dict(done, re_by="客户电工")),  # the owner (客户电工) himself
            h(A, "Y4", D(2026, 7, 1), "已整改", **dict(done, re_date=None)),
            h(A, "Y5", D(2026, 7, 1), "已整改", **dict(done, re_result=None)),
            h(A, "Y6", D(2026, 7, 1), "未整改", completed=D(2026, 7, 5)),
            h(A, "Y7", D(2026, 7, 1), "已整改", **done),  # closed: nothing to say
            h(A, "Y8", D(2026, 7, 1), "整改中", **dict(done, re_result="不合格"))]  # reopened: nothing to say
    write_register(home.inbox / G / "loop.xlsx", G, D(2026, 7, 10), rows)
    (f,) = ingest(home, D(2026, 7, 10), runner=PlainRunner(), mail_rejections=False).files
    assert f.outcome == "accepted"
    assert not [x for x in f.findings if x.level == "error"]
    got = {(x.cell, x.field, x.value): x.message for x in f.findings if x.level == "warning" and x.cell}
    assert set(got) == {("T3", "复查结论", "合格"), ("T4", "复查结论", "合格"), ("S5", "复查人", "客户电工"),
                        ("T6", "复查结论", "合格"), ("R7", "复查日期", "2026-07-08"), ("Q8", "完成日期", "2026-07-05")}
    assert "整改状态为“整改中”" in got[("T3", "复查结论", "合格")] and "销号" in got[("T4", "复查结论", "合格")]
    assert "整改责任人" in got[("S5", "复查人", "客户电工")]
    assert "未填写复查日期" in got[("T6", "复查结论", "合格")] and "未填写复查结论" in got[("R7", "复查日期", "2026-07-08")]
    assert "整改状态为“未整改”，却填写了完成日期“2026-07-05”" in got[("Q8", "完成日期", "2026-07-05")]


def test_notices_go_to_exactly_the_customers_with_unnotified_hazards_once_per_hazard(home):
    submit_month(home, D(2026, 7, 10))
    first = notices(home, D(2026, 7, 10), runner=PlainRunner())
    want = unnotified_customers(D(2026, 7, 10), set())
    got = {(n["county"], n["customer_id"]): set(n["hazard_ids"]) for n in first.notices}
    assert got == want == {(G, A): {"G1", "G2"}, (DLH, S): {"D1"}}
    numbers = {n["number"] for n in first.notices}
    assert numbers == {"格尔木-2026-0001", "德令哈-2026-0001"}
    for n in first.notices:
        path = Path(n["path"])
        assert path.parent == home.outbox / "通知书" / n["county"]
        assert path.name == f"{n['customer_id']}_{NAMES[n['customer_id']]}_{n['number']}.docx"
        text = docx_text(n["path"])
        assert "第一联（客户留存）" in text and "第二联（供电企业存档）" in text
        assert text.count("签收人：") == 2 and "用电安全隐患整改通知书" in text and "《供电营业规则》" in text
        issuer = {G: "国网格尔木供电公司", DLH: "国网德令哈供电公司"}[n["county"]]  # as the directory names it
        assert f"签发单位：{issuer}（盖章）" in text and f"{n['county']}供电公司" not in text
        assert f"户号：{n['customer_id']}" in text
        assert notice_hazards_in(n["path"]) == set(n["hazard_ids"])  # and no other customer's hazard
        others = {hid for (c, hid), r in latest(D(2026, 7, 10)).items() if hid not in n["hazard_ids"]}
        assert not any(re.search(rf"\b{o}\b", text) for o in others)

    again = notices(home, D(2026, 7, 10), runner=PlainRunner())
    assert again.notices == [] and len(again.issued) == 2

    submit_month(home, D(2026, 8, 10))  # G1 and D1 served; G2 still without 告知日期; G7 found later
    later = notices(home, D(2026, 8, 10), runner=PlainRunner())
    on_earlier = {hid for n in first.notices for hid in n["hazard_ids"]}
    want = unnotified_customers(D(2026, 8, 10), {(n["county"], x) for n in first.notices for x in n["hazard_ids"]})
    assert {(n["county"], n["customer_id"]): set(n["hazard_ids"]) for n in later.notices} == want == {(G, B): {"G7"}}
    assert [n["number"] for n in later.notices] == ["格尔木-2026-0002"]
    assert not on_earlier & {x for n in later.notices for x in n["hazard_ids"]}
    served = {n["number"]: n for n in later.issued}
    assert served["德令哈-2026-0001"]["served"] and served["德令哈-2026-0001"]["signed_by"] == ["冯工"]
    assert not served["格尔木-2026-0001"]["served"]  # G2 has no 告知日期 yet


def test_sending_a_notice_reaches_only_its_customer_once(home, smtp_server):
    submit_month(home, D(2026, 7, 10))
    run = notices(home, D(2026, 7, 10), runner=PlainRunner(), send=True)
    got = {rcpt: m for m in smtp_server.messages for rcpt in m.rcpt_tos}
    assert set(got) == {"dianqi@potash.example.cn", "dianqi@soda.example.cn"}
    potash = got["dianqi@potash.example.cn"].message
    names = [part.get_filename() for part in potash.iter_attachments()]
    assert names == ["0630100001_青海盐湖钾肥股份有限公司_格尔木-2026-0001.docx"]
    assert "格尔木-2026-0001" in str(potash["Subject"])
    assert {d["number"]: d["status"] for d in run.deliveries} == {"格尔木-2026-0001": "sent", "德令哈-2026-0001": "sent"}
    sms = list((home.outbox / "sms").rglob("*.txt"))
    assert len(sms) == 1 and "格尔木-2026-0001" in sms[0].read_text(encoding="utf-8")
    # named as every kind's text is: <类别>_…_<单位>_<mobile>_<hash>
    assert sms[0].name.startswith("通知书_格尔木-2026-0001_青海盐湖钾肥股份有限公司_1"), sms[0].name
    count = len(smtp_server.messages)
    rerun = notices(home, D(2026, 7, 10), runner=PlainRunner(), send=True)
    assert len(smtp_server.messages) == count  # once, through the ledger
    assert {d["status"] for d in rerun.deliveries} == {"skipped"}
    assert len(list((home.outbox / "sms").rglob("*.txt"))) == 1


def test_reinspection_reminders_name_every_due_hazard_to_its_own_county_supply_company_once(home, smtp_server):
    submit_month(home, D(2026, 7, 10))
    day = D(2026, 7, 10)
    res = reminders(home, day, runner=PlainRunner())
    due = {(c, hid) for (c, hid), r in latest(day).items()
           if expected_stage(r) == "待复查" and (day - r["completed"]).days > 10}
    assert {(r.county, r.hazard_id) for r in res.reinspection_due} == due == {(G, "G4"), (G, "G6")}
    late = {(c, hid) for (c, hid), r in latest(day).items()
            if norm(r)["status"] in ("未整改", "整改中") and r["notice"] is None and (day - r["found"]).days > 7}
    assert {(r.county, r.hazard_id) for r in res.unnotified} == late
    by_kind: dict[str, dict[str, str]] = {}
    for m in smtp_server.messages:
        body = m.message.get_body(("plain",)).get_content()
        kind = "reinspection" if "待复查" in str(m.message["Subject"]) else "unnotified"
        for rcpt in m.rcpt_tos:
            by_kind.setdefault(kind, {})[rcpt] = body
    assert set(by_kind["reinspection"]) == {G_UTILITY}
    body = by_kind["reinspection"][G_UTILITY]
    assert {x for x in ("G1", "G2", "G3", "G4", "G5", "G6", "D1", "D2", "D3") if re.search(rf"\b{x}\b", body)} \
        == {"G4", "G6"}
    assert set(by_kind["unnotified"]) == {G_UTILITY, D_UTILITY}
    assert re.search(r"\bD1\b", by_kind["unnotified"][D_UTILITY]) and "G1" not in by_kind["unnotified"][D_UTILITY]
    recs = [r for r in res.reminders if r["kind"] == "reinspection"]
    assert [(r["recipient"], sorted(r["hazard_ids"]), r["status"]) for r in recs] == \
        [("国网格尔木供电公司", ["G4", "G6"], "sent")]
    sms = [p.read_text(encoding="utf-8") for p in (home.outbox / "sms").rglob("*.txt")]
    assert any("G4" in t and "G6" in t for t in sms)
    names = sorted(p.name for p in (home.outbox / "sms").rglob("*.txt"))  # <类别>_<date>_<县(市)>_<单位>_<mobile>_…
    assert [n.rsplit("_", 2)[0] for n in names if "复查" in n] == ["隐患待复查提醒_20260710_格尔木市_国网格尔木供电公司"], names
    assert [n.rsplit("_", 2)[0] for n in names if "告知" in n] == ["隐患未书面告知提醒_20260710_格尔木市_国网格尔木供电公司"]
    assert not [n for n in names if n.startswith("sms_")], names
    count = len(smtp_server.messages)
    again = reminders(home, day, runner=PlainRunner())
    assert len(smtp_server.messages) == count and all(r["sent_hazard_ids"] == [] for r in again.reminders)


def test_stage_of_every_hazard_and_the_four_quarter_figures_match_an_independent_count(home):
    for day in sorted(MONTHS):
        submit_month(home, day)
    as_of = D(2026, 10, 8)
    store = Store(home.database_url)
    try:
        reg = current_register(store, home, as_of)
        data = quarter_data(store, Quarter(2026, 3), as_of)
    finally:
        store.dispose()
    now = latest(as_of)
    assert {(r["county"], r["hazard_id"]): r["stage"] for r in reg.to_dict("records")} == \
        {k: expected_stage(r) for k, r in now.items()}
    g8 = reg[reg["hazard_id"] == "G8"].iloc[0]
    assert g8["days_in_stage"] == (as_of - D(2026, 9, 1)).days
    qs, qe = D(2026, 7, 1), D(2026, 9, 30)
    per_county = {}
    for county in (G, DLH):
        mine = {hid: r for (c, hid), r in now.items() if c == county}
        failed = {(hid, r["re_date"]) for d in MONTHS for hid, r in
                  ((x["hazard_id"], x) for x in MONTHS[d][county])
                  if VERDICT.get(r["re_result"], r["re_result"]) == "不合格" and qs <= r["re_date"] <= qe}
        per_county[county] = {
            "closed_in_quarter": sum(1 for r in mine.values() if is_closed(r) and qs <= r["re_date"] <= qe),
            "awaiting_at_end": sum(1 for r in mine.values() if norm(r)["status"] == "已整改" and r["completed"] <= qe
                                   and not (r["re_date"] and r["re_date"] <= qe
                                            and (is_closed(r) or norm(r)["re_result"] == "不合格"))),
            "failed_in_quarter": len(failed),
            "found_notified": sum(1 for r in mine.values() if qs <= r["found"] <= qe and r["notice"]),
        }
    assert per_county[G] == {"closed_in_quarter": 1, "awaiting_at_end": 2, "failed_in_quarter": 0,
                             "found_notified": 2}
    assert per_county[DLH] == {"closed_in_quarter": 2, "awaiting_at_end": 1, "failed_in_quarter": 1,
                               "found_notified": 2}
    (prefecture, *counties) = summaries(data, home)
    got = {rec["county"]: {k: rec[k] for k in per_county[G]} for rec in prefecture.by_county}
    assert got[G] == per_county[G] and got[DLH] == per_county[DLH]
    assert got["合计"] == {k: per_county[G][k] + per_county[DLH][k] for k in per_county[G]}


def test_the_decks_show_each_hazards_stage_and_the_prefecture_lists_hazards_awaiting_reinspection(home, tmp_path):
    from pptx import Presentation

    from hazardnet.publish.briefing_deck import write_briefing_deck

    for day in sorted(MONTHS):
        submit_month(home, day)
    as_of = D(2026, 10, 8)
    store = Store(home.database_url)
    try:
        data = quarter_data(store, Quarter(2026, 3), as_of)
    finally:
        store.dispose()
    prefecture, *counties = summaries(data, home)
    golmud = next(s for s in counties if s.scope_name == G)
    write_briefing_deck(tmp_path / "g.pptx", golmud, as_of=as_of, company=home.company)
    now = latest(as_of)
    seen = []
    for slide in Presentation(tmp_path / "g.pptx").slides:
        text = "\n".join(sh.text_frame.text for sh in slide.shapes if sh.has_text_frame)
        m = re.search(r"隐患 \d+/\d+\s+(G\d)", text)
        if m:
            assert f"阶段：{expected_stage(now[(G, m.group(1))])}" in text
            seen.append(m.group(1))
    assert set(seen) == {"G1", "G2", "G7", "G8"}  # one slide per hazard found in the quarter
    write_briefing_deck(tmp_path / "p.pptx", prefecture, as_of=as_of, company=home.company)
    qe = D(2026, 9, 30)
    # the 总览 figure 季末待复查 beside it: 已整改 by the quarter's end, no 复查结论 by then (as known on the report date)
    awaiting = [(c, hid) for c in home.counties for (cc, hid), r in now.items()
                if cc == c and norm(r)["status"] == "已整改" and r["completed"] <= qe
                and not (r["re_date"] and r["re_date"] <= qe and (is_closed(r) or norm(r)["re_result"] == "不合格"))]
    listed, titles = [], []
    for slide in Presentation(tmp_path / "p.pptx").slides:
        if any(sh.name == "待复查" for sh in slide.shapes):
            table = next(sh for sh in slide.shapes if sh.has_table).table
            listed += [(table.cell(r, 0).text, table.cell(r, 2).text) for r in range(1, len(table.rows))]
            titles += [sh.text_frame.text for sh in slide.shapes if sh.has_text_frame]
    assert sorted(listed) == sorted(awaiting) and len(listed) == prefecture.total["awaiting_at_end"] == 3
    assert [c for c, _ in listed] == sorted((c for c, _ in listed), key=home.counties.index)  # configured order
    assert any(f"季末待复查：截至2026年09月30日已整改尚未复查销号的隐患 {len(awaiting)} 项" in t for t in titles), titles


def test_the_hazard_file_shows_every_version_reinspection_and_message(home):
    import json

    from typer.testing import CliRunner

    from hazardnet.cli.app import UserError
    from hazardnet.cli.main import app

    submit_month(home, D(2026, 7, 10))
    notices(home, D(2026, 7, 10), runner=PlainRunner(), send=True)
    for day in sorted(MONTHS)[1:]:
        submit_month(home, day)
    out = home.home / "D1.xlsx"
    result = CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", DLH, "--id", "D1",
                                      "--as-of", "2026-10-08", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert [v["as_of"] for v in record["versions"]] == ["2026-07-10", "2026-08-10", "2026-09-10"]
    assert [v["status"] for v in record["versions"]] == ["未整改", "整改中", "已整改"]
    assert [(n["number"], n["served"], n["served_on"], n["signed_by"]) for n in record["notices"]] == \
        [("德令哈-2026-0001", True, "2026-07-15", ["冯工"])]
    assert {(m["kind"], m["channel"]) for m in record["messages"]} == {("notice", "mail")}
    # in words: what, to whom by name (not 户号 alone, nor a ledger key), on the local clock (UTC+8)
    [m] = record["messages"]
    assert (m["kind_name"], m["item"], m["recipient"], m["channel_name"], m["status_name"]) == \
        ("整改通知书", "德令哈-2026-0001", f"{NAMES[S]}（户号 {S}）", "邮件", "已发送")
    utc = dt.datetime.fromisoformat(m["sent_at_utc"])
    assert m["sent_at"] == f"{utc + dt.timedelta(hours=8):%Y-%m-%d %H:%M}"
    assert record["stage"] == "待复查" and record["days_in_stage"] == (D(2026, 10, 8) - D(2026, 8, 20)).days
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["一患一档", "台账版本", "通知书", "期限变更", "复查", "督办建议函", "预警与消息"]
    assert [r[0] for r in book["台账版本"].iter_rows(min_row=2, values_only=True)] == \
        ["2026-07-10", "2026-08-10", "2026-09-10"]
    assert list(book["预警与消息"].iter_rows(values_only=True)) == [
        ("类别", "事项", "收件方", "渠道", "结果", "发送时间"),
        ("整改通知书", "德令哈-2026-0001", f"{NAMES[S]}（户号 {S}）", "邮件", "已发送", m["sent_at"])]
    assert record["letters"] == []  # a part of its life with nothing in it says so under the header
    assert list(book["督办建议函"].iter_rows(values_only=True))[1:] == [("尚未列入任何隐患督办建议函。",) + (None,) * 5]
    shown = CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", DLH, "--id", "D1",
                                     "--as-of", "2026-10-08"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[1].endswith("复查：无") and not any(line.rstrip().endswith("复查") for line in lines)
    assert f"{m['sent_at']} 整改通知书：德令哈-2026-0001 → {NAMES[S]}（户号 {S}）（邮件，已发送）" in \
        "".join(lines), shown.output
    out3 = home.home / "G3.xlsx"
    CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", G, "--id", "G3", "--as-of", "2026-10-08",
                             "-o", str(out3)])
    assert list(openpyxl.load_workbook(out3)["期限变更"].iter_rows(values_only=True)) == [
        ("报送基准日", "类型", "原期限", "整改期限", "来源", "原因", "批准", "承诺责任人"),
        ("2026-07-10", "首次填写", "—", "2026-09-30", "台账", None, None, None)]
    result = CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", DLH, "--id", "D3",
                                      "--as-of", "2026-10-08", "--json"])
    d3 = json.loads(result.output)
    assert [(r["reinspect_date"], r["reinspect_result"]) for r in d3["reinspections"]] == \
        [("2026-06-15", "不合格"), ("2026-07-20", "不合格"), ("2026-08-20", "合格")]
    assert d3["stage"] == "已销号"
    missing = CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", DLH, "--id", "NOPE"])
    assert missing.exit_code != 0
    # a county mistyped is said so, not "库中没有北京市的隐患“D1”"
    with pytest.raises(UserError, match="^“北京市”不是已配置的县\\(市\\)：德令哈市、格尔木市"):
        CliRunner().invoke(app, ["hazard", "--home", str(home.home), "--county", "北京市", "--id", "D1"],
                           catch_exceptions=False)


def test_a_notice_prints_to_pdf_with_both_copies(home):
    import shutil
    import subprocess

    if not shutil.which("soffice") or not shutil.which("pdftotext"):
        pytest.skip("LibreOffice (soffice) or pdftotext not installed: scripts/ensure_libreoffice.sh installs them")
    submit_month(home, D(2026, 7, 10))
    run = notices(home, D(2026, 7, 10), runner=PlainRunner(), pdf=True)
    assert run.pdf["failed"] == [] and run.pdf["unavailable"] is None
    for n in run.notices:
        pdf = Path(n["path"]).with_suffix(".pdf")
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert "第一联（客户留存）" in text and "第二联（供电企业存档）" in text and n["number"] in text
        assert all(hid in text for hid in n["hazard_ids"])


def test_notices_pdf_without_libreoffice_exits_2_after_issuing(prefect_harness, home):
    """As `hazardnet bulletin --pdf`: the notices are issued (without PDFs) and sent, then one line saying what to
    install, exit status 2. The console words each delivery in Chinese."""
    from tests.conftest import harness_env
    from tests.test_quarterly import run_cli

    submit_month(home, D(2026, 7, 10))
    proc = run_cli("notices", "--home", str(home.home), "--as-of", "2026-07-10", "--pdf", "--send",
                   env={**harness_env(), "HAZARDNET_SOFFICE": "/nonexistent/soffice"})
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("错误：")]
    assert len(errors) == 1 and "apt-get install libreoffice-calc-nogui fonts-noto-cjk" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert "：已写入 .eml（未配置邮件服务器）" in proc.stdout and "written" not in proc.stdout, proc.stdout
    issued = list((home.home / "outbox" / "通知书").rglob("*.docx"))
    assert issued and not list((home.home / "outbox" / "通知书").rglob("*.pdf"))


def test_the_flows_run_the_jobs_once(prefect_harness, home, smtp_server, monkeypatch):
    from flows.notices import notices_flow
    from flows.reminders import reminders_flow

    for var, value in (("HAZARDNET_SMTP_HOST", smtp_server.host), ("HAZARDNET_SMTP_PORT", str(smtp_server.port)),
                       ("HAZARDNET_SMTP_SECURITY", "none"), ("HAZARDNET_MAIL_RETRY_DELAYS", "[]")):
        monkeypatch.setenv(var, value)
    submit_month(home, D(2026, 7, 10))
    first = notices_flow(home=str(home.home), as_of="2026-07-10", send=True)
    assert {(n["county"], n["customer_id"]): set(n["hazard_ids"]) for n in first["notices"]} == \
        unnotified_customers(D(2026, 7, 10), set())
    assert {d["status"] for d in first["deliveries"]} == {"sent"}
    rem = reminders_flow(home=str(home.home), as_of="2026-07-10")
    assert [(r["recipient"], sorted(r["hazard_ids"])) for r in rem["reinspection_reminders"]] == \
        [("国网格尔木供电公司", ["G4", "G6"])]
    count = len(smtp_server.messages)
    again = notices_flow(home=str(home.home), as_of="2026-07-10", send=True)
    assert again["notices"] == [] and len(smtp_server.messages) == count


def test_a_notice_asks_for_what_each_deadline_allows(tmp_path):
    """A deadline passed before the notice's date is marked 已逾期 and asked for at once, in both copies; no
    deadline is not covered by 在整改期限内; a notice whose deadlines are all to come asks as before."""
    day = D(2026, 12, 8)

    def hazard(hid, deadline):
        return NoticeHazard(hid, f"{hid}：配电室柜体绝缘老化", "可能造成停电", "更换设备", deadline, "一般")

    mixed = Notice("德令哈-2026-0009", DLH, S, NAMES[S], day, "国网德令哈供电公司",
                   (hazard("D1", D(2026, 3, 22)), hazard("D2", D(2027, 1, 31)), hazard("D3", None)))
    path = write_notice(tmp_path / "mixed.docx", mixed)
    doc = Document(str(path))
    body = [p.text for p in doc.paragraphs if "经我公司用电检查" in p.text]
    assert len(body) == 2 and body[0] == body[1]  # 第一联 and 第二联 say the same
    assert "整改期限已过的 1 项隐患（表中标“已逾期”）请立即整改" in body[0]
    assert "未明确整改期限的 1 项隐患请尽快书面报告我公司整改计划" in body[0]
    assert "整改期限未到的隐患请在整改期限内完成整改" in body[0]
    assert len(doc.tables) == 2
    for table in doc.tables:
        deadlines = {r.cells[1].text: r.cells[5].text for r in table.rows[1:]}
        assert deadlines == {"D1": "2026年3月22日（已逾期）", "D2": "2027年1月31日", "D3": "未明确"}
    letter = notice_letter(mixed, [])
    assert "整改期限：2026年3月22日（已逾期）" in letter.body and "按期整改" not in letter.body
    assert "按期整改" not in notice_sms(mixed)
    on_time = Notice("德令哈-2026-0010", DLH, S, NAMES[S], day, "国网德令哈供电公司", (hazard("D2", D(2027, 1, 31)),))
    text = docx_text(str(write_notice(tmp_path / "on_time.docx", on_time)))
    assert "在整改期限内完成整改" in text and "已逾期" not in text and "按期整改" in notice_sms(on_time)


def test_notices_send_lists_the_notices_in_the_configured_county_order(prefect_harness, home, monkeypatch):
    """Notices issued over two months (德令哈-0001 and 格尔木-0001 in July, 格尔木-0002 in August) are sent and listed
    county by county in settings.counties' order, whatever order they were issued in: the flow's result and its
    artifact table, and the console of `hazardnet notices --send`."""
    import json

    from flows.notices import notices_flow
    from tests.conftest import harness_env
    from tests.test_ingest_flow import read_back
    from tests.test_quarterly import run_cli

    submit_month(home, D(2026, 7, 10))
    notices(home, D(2026, 7, 10), runner=PlainRunner())
    submit_month(home, D(2026, 8, 10))
    notices(home, D(2026, 8, 10), runner=PlainRunner())
    order = [G, DLH, "茫崖市", "乌兰县", "都兰县", "天峻县"]  # 格尔木市 first: not the order of issue, nor of names
    monkeypatch.setenv("HAZARDNET_COUNTIES", json.dumps(order, ensure_ascii=False))
    want = ["格尔木-2026-0001", "格尔木-2026-0002", "德令哈-2026-0001"]
    state = notices_flow(home=str(home.home), as_of="2026-08-10", send=True, return_state=True)
    result = state.result()
    assert [d["number"] for d in result["deliveries"]] == want
    assert [n["number"] for n in result["issued"]] == want
    _, _, artifacts = read_back(state.state_details.flow_run_id)
    [table] = [a.data for a in artifacts if a.key == "notice-deliveries"]
    table = json.loads(table) if isinstance(table, str) else table
    assert [r["通知书编号"] for r in table] == want
    proc = run_cli("notices", "--home", str(home.home), "--as-of", "2026-08-10", "--send",
                   env={**harness_env(), "HAZARDNET_COUNTIES": json.dumps(order, ensure_ascii=False)})
    assert proc.returncode == 0, proc.stderr
    lines = [ln.split(" → ")[0] for ln in proc.stdout.splitlines() if " → " in ln]
    assert lines == want, proc.stdout
