"""The monthly bulletin end to end: a store of three counties, a directory, a real SMTP server on loopback.

Every received message is parsed (subject, attachment name, envelope), every attachment opened with
openpyxl and compared with the rows the recipient may see, computed here independently of the engine.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from email.header import decode_header, make_header
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from hazardnet.delivery.ledger import DeliveryLedger
from hazardnet.delivery.mail import EmlFileTransport, SmtpTransport
from hazardnet.delivery.rejection_mail import send_rejection_reports
from hazardnet.publish.bulletin import Period
from tests.jobs import bulletin_job
from hazardnet.store import Store
from schemas.directory_headers import DIRECTORY_HEADERS
from schemas.headers import FIELDS
from tests.smtp_server import smtp_server  # noqa: F401

AS_OF = dt.date(2026, 11, 15)
NOV = Period(2026, 11)
D = dt.date


@dataclass(frozen=True)
class H:
    """A hazard as a test writes it; `expected_*` are computed from these, never from the engine."""

    county: str
    customer_id: str
    customer_name: str
    hazard_id: str
    found: dt.date
    severity: str
    status: str
    deadline: dt.date | None = None
    completed: dt.date | None = None
    description: str = "配电室防小动物措施缺失"
    owner: str | None = None
    suggestion: str | None = None
    remarks: str | None = None


HAZARDS = [
    # 格尔木市: customer A has an overdue major hazard and a new one; customer B one completed in November
    H("格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "GEM-001", D(2026, 3, 5), "重大", "整改中",
      deadline=D(2026, 6, 30), description="单电源供电，未配置自备应急电源", remarks="+86-0979-8412345"),
    H("格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "GEM-002", D(2026, 11, 3), "一般", "未整改",
      deadline=D(2026, 12, 31), description='=HYPERLINK("http://evil.example/","点此整改")', owner="-张三"),
    H("格尔木市", "0630100002", "格尔木市人民医院", "GEM-003", D(2026, 4, 1), "较大", "已整改",
      deadline=D(2026, 10, 31), completed=D(2026, 11, 10)),
    H("格尔木市", "0630100002", "格尔木市人民医院", "GEM-004", D(2026, 2, 1), "一般", "已整改",
      deadline=D(2026, 5, 31), completed=D(2026, 5, 20)),
    # 德令哈市: customer C, a new major hazard without deadline and an overdue 较大 one
    H("德令哈市", "6329397166", "柴达木纯碱化工有限公司", "DLH-001", D(2026, 11, 8), "重大", "未整改",
      suggestion="@SUM(A1:A9) 立即停用失爆设备"),
    H("德令哈市", "6329397166", "柴达木纯碱化工有限公司", "DLH-002", D(2026, 1, 10), "较大", "未整改",
      deadline=D(2026, 8, 1)),
    # 茫崖市: customer D has only a hazard closed long ago: nothing in this month's bulletin
    H("茫崖市", "6328000001", "茫崖石棉矿业有限公司", "MY-001", D(2026, 1, 5), "一般", "已整改",
      deadline=D(2026, 2, 28), completed=D(2026, 3, 1)),
]

GOV_HAIXI = "anquan@haixi-energy.example.cn"
UTIL_HAIXI = "yingxiao@haixi-power.example.cn"
GOV_GEM = "anquan@gem-energy.example.cn"
UTIL_GEM = "yongjian@gem-power.example.cn"
CUST_A = ("dianqi@qhyhkf.example.cn", "houqin@qhyhkf.example.cn")
CUST_B1, CUST_B2 = "dianqi@gemrmyy.example.cn", "houqin@gemrmyy.example.cn"
GOV_DLH = "anquan@dlh-energy.example.cn"
CUST_C = "dianqi@cdmcj.example.cn"
GOV_MY = "anquan@my-energy.example.cn"
CUST_D = "dianqi@mysm.example.cn"

DIRECTORY = [
    ("政府主管部门", "全州", "", "海西州能源局", "王建国", GOV_HAIXI, "13909771234"),
    ("供电企业", "", "", "国网海西供电公司营销部", "李海军", UTIL_HAIXI, "0977-8223456"),
    ("政府主管部门", "格尔木市", "", "格尔木市发展和改革委员会（能源局）", "张永福", GOV_GEM, "13897001234"),
    ("供电企业", "格尔木市", "", "国网格尔木供电公司", "刘晓东", UTIL_GEM, ""),
    ("用电客户", "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "陈志强", "；".join(CUST_A), ""),
    ("用电客户", "格尔木市", "0630100002", "格尔木市人民医院", "杨春梅", CUST_B1, ""),
    ("用电客户", "格尔木市", "0630100002", "格尔木市人民医院", "赵玉兰", CUST_B2, ""),  # a second contact row
    ("政府主管部门", "德令哈市", "", "德令哈市发展和改革委员会（能源局）", "马德明", GOV_DLH, ""),
    ("用电客户", "德令哈市", "6329397166", "柴达木纯碱化工有限公司", "韩正云", CUST_C, ""),
    ("政府主管部门", "茫崖市", "", "茫崖市发展和改革委员会（能源局）", "祁明辉", GOV_MY, ""),
    ("用电客户", "茫崖市", "6328000001", "茫崖石棉矿业有限公司", "鲁国栋", CUST_D, ""),
]


# ---- building the world ----------------------------------------------------------------------------
def hazard_frame(hazards: list[H]) -> pd.DataFrame:
    """A normalized register frame as intake would store it: `_row` plus every field of FIELDS."""
    records = []
    for i, h in enumerate(hazards):
        rec = {f.name: None for f in FIELDS}
        rec.update(county=h.county, customer_id=h.customer_id, customer_name=h.customer_name, customer_grade="一级",
                   industry="其他", hazard_id=h.hazard_id, found_date=h.found, description=h.description,
                   category="供电电源", severity=h.severity, consequence="可能造成停电", suggestion=h.suggestion,
                   deadline=h.deadline, owner=h.owner, status=h.status, completed_date=h.completed,
                   gov_supervised="否", remarks=h.remarks)
        rec["_row"] = i + 1
        records.append(rec)
    return pd.DataFrame(records)


def record_registers(store: Store, hazards: list[H], as_of: dt.date = AS_OF) -> None:
    """One accepted submission per county, as intake records it."""
    for county in dict.fromkeys(h.county for h in hazards):
        mine = [h for h in hazards if h.county == county]
        store.record_submission(county=county, file_name=f"{county}台账.xlsx", sha256=f"sha-{county}-{as_of}",
                                as_of=as_of, outcome="accepted", findings=[], kept_at=None, rows=hazard_frame(mine))


def write_directory_file(path: Path, rows) -> Path:
    """A directory workbook as a person keeps it (openpyxl; every cell typed in as text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "通讯录"
    ws.append(list(DIRECTORY_HEADERS))
    for r in rows:
        ws.append([v if v != "" else None for v in r])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


@pytest.fixture
def world(settings):
    """A store with three counties' registers and the directory in inbox/."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    record_registers(store, HAZARDS)
    write_directory_file(settings.directory_file, DIRECTORY)
    yield store
    store.dispose()


@pytest.fixture
def smtp_settings(settings, smtp_server):  # noqa: F811
    return settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                                       "smtp_security": "none"})


# ---- what each recipient may see, computed independently ---------------------------------------------
def in_bulletin(h: H) -> bool:
    return NOV.contains(h.found) or h.status != "已整改" or NOV.contains(h.completed)


def expected_keys(county: str | None = None, customer_id: str | None = None) -> dict[str, set[str]]:
    mine = [h for h in HAZARDS if (county is None or h.county == county)
            and (customer_id is None or h.customer_id == customer_id)]
    return {"本月新发现": {h.hazard_id for h in mine if NOV.contains(h.found)},
            "未整改": {h.hazard_id for h in mine if h.status != "已整改"},
            "本月已整改": {h.hazard_id for h in mine if h.status == "已整改" and NOV.contains(h.completed)}}


def attachment_of(msg):
    [att] = list(msg.iter_attachments())
    return att.get_filename(), att.get_content()


EMPTY = {"本月新发现": "本月无新发现隐患。", "未整改": "截至统计日无未整改隐患。", "本月已整改": "本月无已整改隐患。"}


def sheet_rows(book: openpyxl.Workbook, title: str) -> list[dict]:
    """The hazard rows of a list sheet; a list with none holds, under its header, the sentence saying so."""
    values = list(book[title].iter_rows(values_only=True))
    header = values[0]
    if values[1:2] and values[1][0] == EMPTY[title] and all(v is None for v in values[1][1:]):
        assert len(values) == 2
        return []
    return [dict(zip(header, r)) for r in values[1:]]


def hazard_ids(book, title) -> set[str]:
    return {r["隐患编号"] for r in sheet_rows(book, title)}


def messages_by_address(server) -> dict[str, object]:
    out = {}
    for m in server.messages:
        for r in m.rcpt_tos:
            assert r not in out, f"{r} received two messages"
            out[r] = m
    return out


# ---- the tests ------------------------------------------------------------------------------------------
def test_every_recipient_gets_exactly_its_scope(smtp_settings, world, smtp_server):  # noqa: F811
    result = bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    by_name = {d["recipient"]: d for d in result["deliveries"]}
    assert len(result["deliveries"]) == 10  # 11 rows, the hospital's two contact rows are one recipient
    assert by_name["茫崖石棉矿业有限公司"]["status"] == "skipped" and by_name["茫崖石棉矿业有限公司"]["rows"] == 0
    assert all(d["status"] == "sent" for n, d in by_name.items() if n != "茫崖石棉矿业有限公司")
    assert by_name["格尔木市人民医院"]["addresses"] == [CUST_B1, CUST_B2]

    received = messages_by_address(smtp_server)
    assert CUST_D not in received  # a customer with nothing in scope gets no mail
    assert len(smtp_server.messages) == 9
    cases = [  # (envelope address, scope county, scope customer, subject scope)
        (GOV_HAIXI, None, None, "海西州"), (UTIL_HAIXI, None, None, "海西州"),
        (GOV_GEM, "格尔木市", None, "格尔木市"), (UTIL_GEM, "格尔木市", None, "格尔木市"),
        (CUST_A[0], "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司"),
        (CUST_B1, "格尔木市", "0630100002", "格尔木市人民医院"),
        (GOV_DLH, "德令哈市", None, "德令哈市"),
        (CUST_C, "德令哈市", "6329397166", "柴达木纯碱化工有限公司"),
        (GOV_MY, "茫崖市", None, "茫崖市"),
    ]
    for address, county, customer, label in cases:
        received_msg = received[address]
        msg = received_msg.message
        assert msg["Subject"] == f"【用电安全1+1+1工作网】2026年11月电力安全隐患通报（{label}）"
        name, data = attachment_of(msg)
        assert name == f"2026年11月电力安全隐患通报（{label}）.xlsx"
        book = openpyxl.load_workbook(io.BytesIO(data))
        assert book.sheetnames == ["通报说明", "本月新发现", "未整改", "本月已整改"]
        for title, ids in expected_keys(county, customer).items():
            assert hazard_ids(book, title) == ids, (address, title)
        seen_customers = {r["户号"] for t in ("本月新发现", "未整改", "本月已整改") for r in sheet_rows(book, t)}
        if customer:  # never another customer's rows
            assert seen_customers <= {customer}
        if county:
            assert {r["县(市)"] for t in ("本月新发现", "未整改", "本月已整改") for r in sheet_rows(book, t)} <= {county}
        assert book["未整改"].oddHeader.center.text.startswith(
            next(d["recipient"] for d in result["deliveries"] if address in d["addresses"]))
        assert "2026年11月" in book["通报说明"].oddHeader.center.text
        assert "&P" in book["本月新发现"].oddFooter.center.text  # page numbers
    # both addresses of customer A are in one message's envelope; the hospital's two contact rows likewise
    assert sorted(received[CUST_A[0]].rcpt_tos) == sorted(CUST_A)
    assert received[CUST_B1] is received[CUST_B2]


def test_nil_report_for_authorities_and_body_states_counts(smtp_settings, world, smtp_server):  # noqa: F811
    bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    received = messages_by_address(smtp_server)
    my = received[GOV_MY].message
    body = my.get_body(("plain",)).get_content()
    assert "零报告" in body
    book = openpyxl.load_workbook(io.BytesIO(attachment_of(my)[1]))
    assert all(hazard_ids(book, t) == set() for t in ("本月新发现", "未整改", "本月已整改"))
    # each empty list says so under its header (a bare header row reads like a table that failed to fill)
    assert all(book[t]["A2"].value == EMPTY[t] and "A2:" in str(book[t].merged_cells) for t in EMPTY)
    gem = received[GOV_GEM].message.get_body(("plain",)).get_content()
    assert "本月新发现隐患 1 条；未整改隐患 2 条，其中逾期 1 条；本月已整改 1 条。" in gem
    assert "逾期未整改的重大隐患 1 条" in gem and "GEM-001" in gem
    assert (AS_OF - D(2026, 6, 30)).days == 138 and "已逾期 138 天" in gem


def test_overdue_rows_highlighted_with_days_and_summary_calls_them_out(smtp_settings, world, smtp_server):  # noqa: F811
    bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    book = openpyxl.load_workbook(io.BytesIO(attachment_of(messages_by_address(smtp_server)[GOV_HAIXI].message)[1]))
    ws = book["未整改"]
    header = [c.value for c in ws[1]]
    col = header.index("逾期天数")
    rows = {r[header.index("隐患编号")].value: r for r in ws.iter_rows(min_row=2)}
    assert rows["GEM-001"][col].value == 138 and rows["DLH-002"][col].value == (AS_OF - D(2026, 8, 1)).days
    assert rows["GEM-002"][col].value is None and rows["DLH-001"][col].value is None
    assert rows["GEM-001"][0].fill.fgColor.rgb.endswith("FFC7CE")  # the alert colour
    assert not str(rows["GEM-002"][0].fill.fgColor.rgb).endswith("FFC7CE")
    summary = [c for row in book["通报说明"].iter_rows(values_only=True) for c in row if c is not None]
    assert "四、逾期未整改的重大隐患（1 条）" in summary and "GEM-001" in summary
    assert book["通报说明"].page_setup.paperSize == 9  # A4
    for name in ("本月新发现", "未整改", "本月已整改"):  # 19 to 22 columns: A3 landscape, one page wide
        setup = book[name].page_setup
        assert (setup.paperSize, setup.orientation) == (8, "landscape"), name
        assert setup.fitToWidth in (None, 1) and setup.fitToHeight == 0
        assert book[name].sheet_properties.pageSetUpPr.fitToPage
        assert book[name].print_title_rows == "$1:$1"  # the header row on every page
    assert header[-1] == "照片" and {"户号", "告知日期", "完成日期", "存续天数"} <= set(header)  # the mail keeps them
    county_table = list(book["通报说明"].iter_rows(values_only=True))
    by_county = {}
    for r in county_table:  # the first table: 按县(市)统计
        if r[0] in ("格尔木市", "德令哈市", "茫崖市", "合计"):
            by_county.setdefault(r[0], r[1:6])
    assert by_county["格尔木市"] == (1, 2, 1, 1, 1) and by_county["德令哈市"] == (1, 2, 1, 1, 0)
    assert by_county["茫崖市"] == (0, 0, 0, 0, 0) and by_county["合计"] == (2, 4, 2, 2, 1)


def test_register_text_that_looks_like_a_formula_arrives_as_text(smtp_settings, world, smtp_server):  # noqa: F811
    bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    for address in (GOV_HAIXI, CUST_A[0], CUST_C):
        book = openpyxl.load_workbook(io.BytesIO(attachment_of(messages_by_address(smtp_server)[address].message)[1]))
        for ws in book.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                    assert cell.hyperlink is None
        texts = {c.value: c.data_type for ws in book.worksheets for row in ws.iter_rows() for c in row
                 if isinstance(c.value, str)}
        if address != CUST_C:
            assert texts['=HYPERLINK("http://evil.example/","点此整改")'] == "s"
            assert texts["-张三"] == "s" and texts["+86-0979-8412345"] == "s"
        if address != CUST_A[0]:
            assert texts["@SUM(A1:A9) 立即停用失爆设备"] == "s"


def test_rerun_sends_nothing_and_resend_sends_again(smtp_settings, world, smtp_server):  # noqa: F811
    transport = SmtpTransport(smtp_settings)
    bulletin_job(smtp_settings, world, NOV, AS_OF, transport)
    assert len(smtp_server.messages) == 9
    again = bulletin_job(smtp_settings, world, NOV, AS_OF + dt.timedelta(days=1), transport)
    assert len(smtp_server.messages) == 9
    assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    resent = bulletin_job(smtp_settings, world, NOV, AS_OF, transport, resend=True)
    assert len(smtp_server.messages) == 18
    assert sum(d["status"] == "sent" for d in resent["deliveries"]) == 9
    first, second = smtp_server.messages[0].message, smtp_server.messages[9].message
    assert first["Message-ID"] != second["Message-ID"]
    ledger = DeliveryLedger(world).entries("bulletin", "2026-11")
    assert sorted({e.generation for e in ledger}) == [0, 1] and all(e.status == "sent" for e in ledger)


def test_refused_recipient_is_named_others_delivered_and_rerun_sends_only_the_missing(
        smtp_settings, world, smtp_server):  # noqa: F811
    smtp_server.refuse(CUST_C)
    smtp_server.refuse(CUST_A[1])  # one of customer A's two addresses
    transport = SmtpTransport(smtp_settings)
    result = bulletin_job(smtp_settings, world, NOV, AS_OF, transport)
    failed = {d["recipient"]: d for d in result["deliveries"] if d["status"] == "failed"}
    assert set(failed) == {"柴达木纯碱化工有限公司", "青海盐湖钾肥股份有限公司"}
    assert CUST_C in failed["柴达木纯碱化工有限公司"]["error"] and "550" in failed["柴达木纯碱化工有限公司"]["error"]
    assert CUST_A[1] in failed["青海盐湖钾肥股份有限公司"]["error"]
    assert len(smtp_server.messages) == 8 and sorted(messages_by_address(smtp_server)) == sorted(
        [GOV_HAIXI, UTIL_HAIXI, GOV_GEM, UTIL_GEM, CUST_A[0], CUST_B1, CUST_B2, GOV_DLH, GOV_MY])

    smtp_server.reset()  # the mailboxes are fixed
    second = bulletin_job(smtp_settings, world, NOV, AS_OF, transport)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == sorted([CUST_A[1], CUST_C])
    assert [m.rcpt_tos for m in smtp_server.messages if CUST_A[1] in m.rcpt_tos] == [[CUST_A[1]]]
    statuses = {d["recipient"]: d["status"] for d in second["deliveries"]}
    assert statuses["柴达木纯碱化工有限公司"] == statuses["青海盐湖钾肥股份有限公司"] == "sent"
    assert sum(s == "sent" for s in statuses.values()) == 2
    # the address served late gets the same Message-ID its colleague got, so a client can match them
    ledger = {e.recipient_key: e for e in DeliveryLedger(world).entries("bulletin", "2026-11")}
    a = next(e for k, e in ledger.items() if "0630100001" in k)
    assert a.status == "sent" and sorted(a.delivered) == sorted(CUST_A)
    assert smtp_server.messages_to(CUST_A[1])[0].message["Message-ID"] == a.message_id


def test_temporary_errors_are_retried_and_delivered_once(smtp_settings, world, smtp_server):  # noqa: F811
    smtp_server.fail_next(2, code=421)
    smtp_server.drop_next(1)
    result = bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings), retries=3)
    assert all(d["status"] in ("sent", "skipped") for d in result["deliveries"])
    assert len(smtp_server.messages) == 9 and len(messages_by_address(smtp_server)) == 11
    assert sum(t["outcome"].startswith("421") for t in smtp_server.transactions) == 2
    assert sum(t["outcome"] == "dropped" for t in smtp_server.transactions) == 1


def test_authorities_are_told_whose_figures_are_not_this_months(smtp_settings, world, smtp_server):  # noqa: F811
    """A county whose latest file came back rejected keeps last month's figures, and a county that never submitted
    has none: the authorities and supply companies in its scope read why (mail and 通报说明), customers do not."""
    world.record_submission(county="格尔木市", file_name="格尔木市11月台账（修订）.xlsx", sha256="sha-bad",
                            as_of=AS_OF, outcome="rejected", kept_at=None,
                            findings=[{"level": "error", "message": "必填项为空"}, {"level": "warning", "message": "x"}])
    bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    received = messages_by_address(smtp_server)
    rejected = ("格尔木市报送的《格尔木市11月台账（修订）.xlsx》未通过校验、已退回（1处问题），"
                "本通报中格尔木市的数据来自2026年11月15日报送的《格尔木市台账.xlsx》。")
    never = "乌兰县尚未报送隐患台账，本通报中暂无乌兰县的数据。"
    gem = received[GOV_GEM].message.get_body(("plain",)).get_content()
    assert f"数据说明：{rejected}" in gem and never not in gem
    summary = [c for row in openpyxl.load_workbook(io.BytesIO(attachment_of(received[GOV_GEM].message)[1]))["通报说明"]
               .iter_rows(values_only=True) for c in row if c]
    start = next(i for i, c in enumerate(summary) if c.startswith("数据说明："))  # on rows of their own
    assert "".join(c.strip("　") for c in summary[start:start + 3]).startswith(f"数据说明：{rejected}")
    prefecture = received[GOV_HAIXI].message.get_body(("plain",)).get_content()
    assert rejected in prefecture and never in prefecture and "德令哈市本月" not in prefecture
    assert "数据说明" not in received[GOV_DLH].message.get_body(("plain",)).get_content()  # submitted, accepted
    assert "数据说明" not in received[CUST_B1].message.get_body(("plain",)).get_content()


def test_without_smtp_host_every_message_is_an_eml_file(settings, world):
    result = bulletin_job(settings, world, NOV, AS_OF, EmlFileTransport(settings.outbox / "mail"))
    written = [d for d in result["deliveries"] if d["status"] == "written"]
    assert len(written) == 9
    files = sorted((settings.outbox / "mail").glob("*.eml"))
    assert len(files) == 9
    from email import policy
    from email.parser import BytesParser

    subjects = {BytesParser(policy=policy.default).parsebytes(p.read_bytes())["Subject"] for p in files}
    assert "【用电安全1+1+1工作网】2026年11月电力安全隐患通报（海西州）" in subjects
    workbooks = list((settings.outbox / "通报" / "2026-11").glob("*.xlsx"))
    assert len(workbooks) == 9
    again = bulletin_job(settings, world, NOV, AS_OF, EmlFileTransport(settings.outbox / "mail"))
    assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    assert len(list((settings.outbox / "mail").glob("*.eml"))) == 9


def test_rejected_register_report_is_mailed_to_the_county_supply_company(smtp_settings, world, smtp_server, tmp_path):  # noqa: F811
    from hazardnet.intake.findings import Finding
    from hazardnet.intake.transaction import FileOutcome, IngestResult
    from hazardnet.xlsx.style import atomic_workbook

    report = tmp_path / "格尔木市2026年11月台账_问题报告.xlsx"
    with atomic_workbook(report) as wb:
        wb.add_worksheet("问题清单").write_string(0, 0, "问题")
    findings = [Finding("隐患台账", "J7", "隐患等级", "隐患等级“严重”不在可选范围内（一般、较大、重大）", "严重", row=7, col=10)]
    ingest_result = IngestResult([
        FileOutcome(str(tmp_path / "格尔木市2026年11月台账.xlsx"), "格尔木市", "rejected", 0, findings, None, str(report)),
        FileOutcome(str(tmp_path / "德令哈台账.xlsx"), "德令哈市", "rejected", 0, findings, None, str(report)),
        FileOutcome(str(tmp_path / "ok.xlsx"), "茫崖市", "accepted", 3),
    ], None)
    transport = SmtpTransport(smtp_settings)
    out = send_rejection_reports(smtp_settings, world, ingest_result, transport, as_of=AS_OF)
    by_county = {d["county"]: d for d in out}
    assert by_county["格尔木市"]["status"] == "sent" and by_county["格尔木市"]["addresses"] == [UTIL_GEM]
    assert by_county["德令哈市"]["status"] == "failed" and "德令哈市供电企业" in by_county["德令哈市"]["error"]
    [m] = smtp_server.messages
    assert m.rcpt_tos == [UTIL_GEM]
    msg = m.message
    assert msg["Subject"] == "【用电安全1+1+1工作网】格尔木市隐患台账未通过校验（格尔木市2026年11月台账.xlsx）"
    assert attachment_of(msg)[0] == report.name
    assert "隐患台账 J7（隐患等级）" in msg.get_body(("plain",)).get_content()
    again = send_rejection_reports(smtp_settings, world, ingest_result, transport, as_of=AS_OF)
    assert len(smtp_server.messages) == 1 and {d["status"] for d in again if d["county"] == "格尔木市"} == {"skipped"}


def test_a_rejection_mail_names_the_headers_not_understood(smtp_settings, world, smtp_server, tmp_path):  # noqa: F811
    """A register whose 户号 header reads 用户号码: the mail lists, beside 缺少必填列“户号”, the header cell the intake
    did not understand (the clerk reads the mail, not always the attached report)."""
    from hazardnet.jobs.ingest import ingest

    from .conftest import DATA, drop

    wb = openpyxl.load_workbook(DATA / "good" / "canonical.xlsx")
    wb["隐患台账"]["B1"] = "用户号码"
    src = tmp_path / "格尔木市12月台账.xlsx"
    wb.save(src)
    drop(smtp_settings, src)
    result = ingest(smtp_settings, AS_OF, mail_rejections=False)
    send_rejection_reports(smtp_settings, world, result, SmtpTransport(smtp_settings), as_of=AS_OF)
    [m] = smtp_server.messages
    body = m.message.get_body(("plain",)).get_content()
    assert "隐患台账 A1（户号）：缺少必填列“户号”" in body
    assert "表头中无法识别的列名（可能就是所缺的必填列）：\n  隐患台账 B1：用户号码\n" in body, body


def test_attachment_name_header_decodes_for_old_clients(smtp_settings, world, smtp_server):  # noqa: F811
    bulletin_job(smtp_settings, world, NOV, AS_OF, SmtpTransport(smtp_settings))
    msg = messages_by_address(smtp_server)[CUST_A[0]].message
    [att] = list(msg.iter_attachments())
    assert str(make_header(decode_header(att.get_param("name")))) == "2026年11月电力安全隐患通报（青海盐湖钾肥股份有限公司）.xlsx"


# ---- the flow under Prefect's test harness -----------------------------------------------------------------
def _smtp_env(monkeypatch, server, home):
    monkeypatch.setenv("HAZARDNET_SMTP_HOST", server.host)
    monkeypatch.setenv("HAZARDNET_SMTP_PORT", str(server.port))
    monkeypatch.setenv("HAZARDNET_SMTP_SECURITY", "none")
    monkeypatch.setenv("HAZARDNET_MAIL_RETRY_DELAYS", "0,0,0")
    monkeypatch.setenv("HAZARDNET_HOME", str(home))


def test_flow_retries_publishes_artifact_and_fails_naming_the_refused(
        prefect_harness, settings, world, smtp_server, monkeypatch):  # noqa: F811
    from flows.bulletin import UndeliveredBulletins, bulletin_flow
    from tests.test_ingest_flow import read_back

    _smtp_env(monkeypatch, smtp_server, settings.home)
    smtp_server.refuse(CUST_C)
    smtp_server.fail_next(2, code=421)
    state = bulletin_flow(home=str(settings.home), month="2026-11", as_of="2026-11-15", return_state=True)
    assert state.is_failed()
    assert "柴达木纯碱化工有限公司" in state.message and "***@cdmcj.example.cn" in state.message  # masked, as the UI's lines
    assert CUST_C not in state.message
    with pytest.raises(UndeliveredBulletins) as exc:
        state.result()
    deliveries = exc.value.result["deliveries"]
    assert sum(d["status"] == "sent" for d in deliveries) == 8
    assert len(smtp_server.messages) == 8 and len(messages_by_address(smtp_server)) == 10  # retried, once each
    run, tasks, artifacts = read_back(state.state_details.flow_run_id)
    send_tasks = [t for t in tasks if t.name.startswith("通报 ")]
    assert len(send_tasks) == 10 and sum(t.run_count for t in send_tasks) >= 12  # two 421s retried
    table = {a.key: a for a in artifacts}["bulletin-deliveries"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert {r["结果"] for r in table} == {"已发送", "失败", "未发送（已发送过或无需发送）"}

    smtp_server.accept(CUST_C)
    smtp_server.reset()
    result = bulletin_flow(home=str(settings.home), month="2026-11", as_of="2026-11-15")
    assert [m.rcpt_tos for m in smtp_server.messages] == [[CUST_C]]
    assert {d["status"] for d in result["deliveries"]} == {"sent", "skipped"}


def test_cli_bulletin_json_shape(prefect_harness, settings, world, smtp_server, monkeypatch):  # noqa: F811
    from tests.test_ingest_flow import run_cli

    _smtp_env(monkeypatch, smtp_server, settings.home)
    done = run_cli("bulletin", "--month", "2026-11", "--as-of", "2026-11-15", "--home", str(settings.home), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data) == ["deliveries"]
    assert len(data["deliveries"]) == 10
    for d in data["deliveries"]:
        assert list(d) == ["recipient", "party", "county", "customer_id", "addresses", "attachment", "status", "rows"]
    hospital = next(d for d in data["deliveries"] if d["recipient"] == "格尔木市人民医院")
    assert hospital == {"recipient": "格尔木市人民医院", "party": "用电客户", "county": "格尔木市",
                        "customer_id": "0630100002", "addresses": [CUST_B1, CUST_B2],
                        "attachment": "2026年11月电力安全隐患通报（格尔木市人民医院）.xlsx", "status": "sent", "rows": 1}
    assert next(d for d in data["deliveries"] if d["recipient"] == "海西州能源局")["county"] == "全州"
    bad = run_cli("bulletin", "--month", "2026-13", "--home", str(settings.home))
    assert bad.returncode == 2 and "月份“2026-13”格式不正确" in bad.stderr and "Traceback" not in bad.stderr
    smtp_server.refuse(GOV_MY)
    again = run_cli("bulletin", "--month", "2026-11", "--as-of", "2026-11-15", "--home", str(settings.home),
                    "--json", "--resend")
    # the error line names the unit, its address masked as on every console line; the JSON keeps the address
    assert again.returncode == 1 and "茫崖市发展和改革委员会（能源局）" in again.stderr and "Traceback" not in again.stderr
    assert GOV_MY not in again.stderr and "***@my-energy.example.cn" in again.stderr
    shown = json.loads(again.stdout)["deliveries"]
    assert {d["status"] for d in shown} == {"sent", "failed", "skipped"}
    assert [d["addresses"] for d in shown if d["status"] == "failed"] == [[GOV_MY]]


@pytest.mark.parametrize("text", ["2026-01", " 2026-12 "])
def test_a_month_is_written_yyyy_mm(text):
    assert Period.parse(text).key == text.strip()


@pytest.mark.parametrize("bad", ["2026-1", "2026/01", "2026.01", "202601", "2026年1月", "26-01", "2026-13", "2026-00",
                                 "２０２６-０１", ""])
def test_any_other_month_is_one_chinese_sentence_naming_the_form(bad):
    with pytest.raises(ValueError, match=f"^通报月份“{bad}”格式不正确，请写成 YYYY-MM（月份写两位），例如 2026-01。$"):
        Period.parse(bad)


def test_the_command_refuses_a_month_without_its_leading_zero(tmp_path):
    import subprocess
    import sys

    home = tmp_path / "home"
    home.mkdir()
    bad = subprocess.run([sys.executable, "-m", "hazardnet.cli", "bulletin", "--month", "2026-1", "--home", str(home)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "错误：通报月份“2026-1”格式不正确，请写成 YYYY-MM（月份写两位），例如 2026-01。", bad.stderr
    assert sorted(p.name for p in home.iterdir()) == []  # refused before anything ran


def test_a_month_not_begun_is_refused_before_anyone_is_mailed(prefect_harness, settings, world):
    """--month 2099-05 (a year mistyped) or an --as-of before the month: refused in one line, exit 2, nothing
    written or mailed (was: every recipient mailed a bulletin of a month with nothing in it, 数据截至 before it).
    The flow itself (the Run form) fails with the same sentence naming its fields."""
    from flows.bulletin import bulletin_flow

    from .test_ingest_flow import run_cli

    for args, day in ((["--month", "2099-05"], None), (["--month", "2026-11", "--as-of", "2026-10-31"], "2026-10-31")):
        done = run_cli("bulletin", *args, "--home", str(settings.home))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        first = "2099-05-01" if day is None else "2026-11-01"
        assert f"早于通报月份{'2099年5月' if day is None else '2026年11月'}的第一天（{first}），该月尚无可通报的隐患；" \
               "请检查 --month 和 --as-of。" in done.stderr, done.stderr
    assert not (settings.outbox / "mail").exists() and not (settings.outbox / "通报").exists()
    state = bulletin_flow(home=str(settings.home), month="2099-05", return_state=True)
    assert state.is_failed() and "早于通报月份2099年5月的第一天（2099-05-01）" in state.message
    assert "请检查通报月份和基准日。" in state.message and "--" not in state.message
    assert not (settings.outbox / "mail").exists()


def test_monthly_deployment_is_on_the_15th_in_shanghai():
    from flows.bulletin import deployments

    [dep] = deployments("/srv/hazardnet")
    [schedule] = dep.schedules
    assert schedule.schedule.cron == "0 8 15 * *" and schedule.schedule.timezone == "Asia/Shanghai"
    assert dep.parameters["home"] == "/srv/hazardnet"


def test_rejection_reports_step_in_a_flow(prefect_harness, smtp_settings, world, smtp_server, tmp_path):  # noqa: F811
    """The ingest job's step 邮寄退回报告 as a Prefect task run: a temporary SMTP error is retried (the one policy)."""
    from prefect import flow

    from flows.runner import PrefectRunner
    from hazardnet.intake.transaction import FileOutcome, IngestResult
    from hazardnet.jobs.ingest import rejection_reports
    from hazardnet.jobs.runner import RetryPolicy
    from hazardnet.xlsx.style import atomic_workbook

    report = tmp_path / "台账_问题报告.xlsx"
    with atomic_workbook(report) as wb:
        wb.add_worksheet("问题清单")
    result = IngestResult([FileOutcome(str(tmp_path / "台账.xlsx"), "格尔木市", "rejected", 0, [], None, str(report))],
                          None)

    @flow
    def after_ingest() -> list[dict]:
        runner = PrefectRunner(RetryPolicy((0, 0, 0)))
        return runner.step("邮寄退回报告", rejection_reports, smtp_settings, world, result, AS_OF, runner, io=True)

    smtp_server.fail_next(1, code=421)
    out = after_ingest()
    assert [d["status"] for d in out] == ["sent"] and [m.rcpt_tos for m in smtp_server.messages] == [[UTIL_GEM]]


def test_flow_writes_the_workbooks_in_worker_processes_exactly_as_in_process(prefect_harness, settings, world,
                                                                              monkeypatch):
    """On a big run the recipients' workbooks are written by worker processes (both cores): the same files."""
    import zipfile

    import hazardnet.xlsx.writers as workbook_writers
    from flows.bulletin import bulletin_flow

    def workbooks() -> dict[str, dict[str, bytes]]:
        out = {}
        for path in sorted((settings.outbox / "通报" / "2026-11").glob("*.xlsx")):
            with zipfile.ZipFile(path) as z:  # docProps holds the time of writing
                out[path.name] = {n: z.read(n) for n in z.namelist() if not n.startswith("docProps/")}
        return out

    monkeypatch.setenv("HAZARDNET_HOME", str(settings.home))
    in_process = bulletin_job(settings, world, NOV, AS_OF, EmlFileTransport(settings.outbox / "mail"))
    expected = workbooks()
    assert len(expected) == 9
    for path in (settings.outbox / "通报" / "2026-11").glob("*.xlsx"):
        path.unlink()

    used = []
    write = workbook_writers.WorkbookWriters.write

    def spy(self, function, *args, **kwargs):
        used.append(self._get() is not None)
        return write(self, function, *args, **kwargs)

    monkeypatch.setattr(workbook_writers, "START_AFTER", 0)
    monkeypatch.setattr(workbook_writers.WorkbookWriters, "write", spy)
    monkeypatch.setenv("HAZARDNET_WORKERS", "2")
    result = bulletin_flow(home=str(settings.home), month="2026-11", as_of="2026-11-15", resend=True)
    assert used == [True] * 9  # every workbook went to a worker process
    assert workbooks() == expected
    assert [d["rows"] for d in result["deliveries"]] == [d["rows"] for d in in_process["deliveries"]]


def test_a_repeat_says_when_it_was_delivered_on_the_configured_clock(settings, world):
    """The 说明 of a bulletin already delivered (console and artifact read it from the record) gives the delivery
    time on the wall clock of HAZARDNET_TIMEZONE, as the hazard file does, not in UTC."""
    from zoneinfo import ZoneInfo

    def local_time(when: dt.datetime, zone: str) -> str:
        return when.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")

    s = settings.model_copy(update={"timezone": "Etc/GMT+12"})  # UTC-12: never the same wall clock as UTC
    bulletin_job(s, world, NOV, AS_OF, EmlFileTransport(s.outbox / "mail"))
    again = bulletin_job(s, world, NOV, AS_OF, EmlFileTransport(s.outbox / "mail"))
    entries = DeliveryLedger(world).entries(kind="bulletin", channel="mail")
    assert len(entries) == 9 and {d["status"] for d in again["deliveries"]} == {"skipped"}
    notes = {d.get("note") for d in again["deliveries"] if "送达" in (d.get("note") or "")}
    assert notes == {f"已于 {local_time(e.updated_at, 'Etc/GMT+12')} 送达，未重复发送" for e in entries}, notes
    assert not any("UTC" in n or f"{e.updated_at:%H:%M}" in n for n in notes for e in entries), notes
