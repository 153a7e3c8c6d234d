"""The customer file (一户一档) and joint drills: real workbooks dropped in inbox/<县(市)>/ are recognised by their
header, checked, kept with every version; the checks agree with an independent reading of issue 26's rules; a
grid warning by line reaches exactly the customers the files name, their authorities and supply companies and the
prefecture, over an SMS gateway on loopback."""

from __future__ import annotations

import datetime as dt
import json

import openpyxl
import pytest
from dateutil.relativedelta import relativedelta

from hazardnet.jobs.customer_checks import customer_checks
from hazardnet.jobs.ingest import ingest
from hazardnet.store import Store
from schemas.customer_checks import ChecksTableError, load_checks
from schemas.customer_file import KIND_CUSTOMERS, KIND_DRILLS

from .customer_files import customer_file, d, drills_file
from .sms_gateways import http_gateway  # noqa: F401  (the fixture)

AS_OF = dt.date(2026, 11, 15)
G, DLH = "格尔木市", "德令哈市"
ALL3 = "政府主管部门、用电客户、供电企业"

GOLMUD = [  # variant headers, a title row, dates typed every way
    dict(customer_id="0630100001", customer_name="青海盐湖钾肥股份有限公司", customer_grade="特级", supply_sources=2,
         supply_lines="330kV 察格线、110kV 钾肥线", substation="察尔汗330kV变", backup_type="柴油发电机+UPS", backup_kw=2000,
         security_load_kw=1500, backup_test_date="2026/3/5", non_electric="有", agreement_date=d("2025-04-01"),
         preventive_test_date="2024年6月1日"),
    dict(customer_id="0630100002", customer_name="格尔木市人民医院", customer_grade="一级", supply_sources=1,
         supply_lines="110kV 城东线", substation="格尔木110kV变", backup_type="无", agreement_date="2025-05-01",
         preventive_test_date="2023.11.14"),  # 36 months and a day before the report date
    dict(customer_id="0630100003", customer_name="格尔木炼油厂", customer_grade="二级", supply_sources="两回路",
         supply_lines="110kV 炼油甲线；110kV 炼油乙线", substation="察尔汗330kV变", backup_type="UPS", backup_kw=300,
         security_load_kw=450, backup_test_date=d("2025-11-14"), preventive_test_date=d("2023-11-15")),
    dict(customer_id="0630100009", customer_name="格尔木某商场", customer_grade="一般", supply_sources=1),
]
DELINGHA = [  # canonical headers
    dict(customer_id="0630200001", customer_name="德令哈纯碱厂", customer_grade="临时性", supply_sources=1,
         supply_lines="330kV 察格线", substation="德令哈330kV变", backup_type="EPS", backup_kw=100, security_load_kw=80,
         backup_test_date=d("2026-10-01"), agreement_date=d("2026-01-01"), preventive_test_date=d("2026-01-01")),
    dict(customer_id="0630200002", customer_name="德令哈水厂", customer_grade="二级", supply_sources=2,
         supply_lines="35kV 水厂线", backup_type="柴油发电机", backup_kw=200, security_load_kw=200,
         backup_test_date=d("2026-06-01"), agreement_date=d("2024-01-01"), preventive_test_date=d("2025-01-01")),
]
GOLMUD_DRILLS = [
    dict(drill_date="2026-03-01", customer_id="0630100001", drill_name="全厂停电应急演练", participants=ALL3),
    dict(drill_date="2026-05-01", customer_id="0630100002", drill_name="双电源切换演练", participants="用电客户、供电企业"),
    dict(drill_date="2025-11-14", customer_id="0630100003", drill_name="停电演练", participants="格尔木市能源局、炼油厂、国网格尔木供电公司"),
]
DELINGHA_DRILLS = [
    dict(drill_date=d("2025-11-15"), customer_id="0630200001", drill_name="联合演练", participants=ALL3),
    dict(drill_date=d("2026-08-01"), customer_id="0630200002", drill_name="联合演练", participants=ALL3),
]


def independent(rows: list[dict], drills: list[dict], as_of: dt.date) -> dict[str, set[str]]:
    """Issue 26's rules, read again without the engine: customer_id -> problem codes."""
    def day(v):
        if v is None:
            return None
        if isinstance(v, dt.datetime):
            return v.date()
        for fmt in ("%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(v, fmt).date()
            except ValueError:
                pass
        raise AssertionError(v)

    year_ago, three_years_ago = as_of - relativedelta(months=12), as_of - relativedelta(months=36)
    out = {}
    for r in rows:
        grade, codes = r["customer_grade"], set()
        important = grade != "一般"
        source = r.get("backup_type") not in (None, "无")
        sources = {"两回路": 2}.get(r.get("supply_sources"), r.get("supply_sources"))
        if grade in ("特级", "一级", "二级") and (sources or 0) < 2:
            codes.add("电源数量不足")
        if grade in ("特级", "一级") and not source:
            codes.add("无自备应急电源")
        if important and source and r.get("backup_kw") is not None and r["backup_kw"] < r.get("security_load_kw", 0):
            codes.add("自备电源容量不足")
        if important and source and (day(r.get("backup_test_date")) is None or day(r["backup_test_date"]) < year_ago):
            codes.add("自备电源试验超期")
        if important and (day(r.get("preventive_test_date")) is None or day(r["preventive_test_date"]) < three_years_ago):
            codes.add("预防性试验超期")
        if r.get("agreement_date") is None:
            codes.add("未签协作书")
        joint = [day(x["drill_date"]) for x in drills if x["customer_id"] == r["customer_id"]
                 and all(any(w in x["participants"] for w in words)
                         for words in (("政府", "能源局"), ("客户", "厂"), ("供电",)))]
        if important and not any(year_ago <= j <= as_of for j in joint):
            codes.add("演练超期")
        out[r["customer_id"]] = codes
    return out


def drop_files(settings):
    customer_file(settings.inbox / G / "格尔木市重要客户档案.xlsx", GOLMUD, variant=True, title="格尔木市重要客户一户一档")
    customer_file(settings.inbox / DLH / "客户档案.xlsx", DELINGHA, traditional=True)
    drills_file(settings.inbox / G / "演练记录.xlsx", GOLMUD_DRILLS, variant=True, title="2026年联合应急演练")
    drills_file(settings.inbox / DLH / "演练.xlsx", DELINGHA_DRILLS)


def test_files_are_recognised_kept_and_checked_as_the_rules_say(settings):
    drop_files(settings)
    result = ingest(settings, AS_OF, mail_rejections=False)
    kinds = {(f.county, f.kind, f.outcome, f.rows) for f in result.files}
    assert kinds == {(G, "customers", "accepted", 4), (DLH, "customers", "accepted", 2),
                     (G, "drills", "accepted", 3), (DLH, "drills", "accepted", 2)}
    assert not any(settings.inbox.glob("*/*.xlsx"))  # taken out of the inbox, kept in the archive
    assert all(f.kept_at and open(f.kept_at, "rb").read()[:2] == b"PK" for f in result.files)

    store = Store(settings.database_url)
    try:
        report = customer_checks(settings, AS_OF, store=store)
        got = {c["customer_id"]: {p["code"] for p in c["problems"]} for c in report["customers"]}
        expected = independent(GOLMUD, GOLMUD_DRILLS, AS_OF) | independent(DELINGHA, DELINGHA_DRILLS, AS_OF)
        assert got == expected
        assert got["0630100009"] == {"未签协作书"}  # 一般: that check only
        assert "演练超期" in got["0630100002"]  # a drill without the authority is no joint drill
        assert {c["county"] for c in report["customers"] if c["customer_id"].startswith("06302")} == {DLH}
        assert all(p["message"] for c in report["customers"] for p in c["problems"])
        # no registers yet: every customer of the files is missing from them
        assert {m["customer_id"] for m in report["not_in_registers"]} == set(got) and report["not_in_file"] == []

        # a new version of 德令哈's file: kept beside the first one, the checks read the newest
        fixed = [dict(DELINGHA[0], supply_sources=2), DELINGHA[1]]
        customer_file(settings.inbox / DLH / "客户档案.xlsx", fixed)
        ingest(settings, AS_OF + dt.timedelta(days=1), store=store, mail_rejections=False)
        assert len([v for v in store.record_file_versions(KIND_CUSTOMERS) if v["county"] == DLH]) == 2
        later = customer_checks(settings, AS_OF + dt.timedelta(days=1), store=store)
        assert {c["customer_id"]: c for c in later["customers"]}["0630200001"]["customer_name"] == "德令哈纯碱厂"
        assert len(store.records_as_of(KIND_CUSTOMERS, AS_OF, [DLH])[DLH]) == 2
        assert store.records_as_of(KIND_DRILLS, AS_OF, [G])[G][0]["drill_name"] == "全厂停电应急演练"
    finally:
        store.dispose()


def test_a_file_with_cell_errors_is_rejected_whole_with_findings_at_its_cells(settings):
    rows = [dict(GOLMUD[0]), dict(GOLMUD[1], customer_grade="三级"), dict(GOLMUD[2], backup_test_date="去年冬天"),
            dict(GOLMUD[3], customer_id="0630100001", backup_kw=-5, backup_type="风力发电")]
    customer_file(settings.inbox / G / "客户档案.xlsx", rows, title="格尔木市重要客户档案")
    drills_file(settings.inbox / DLH / "演练.xlsx", [dict(DELINGHA_DRILLS[0], participants="某某单位"),
                                                      dict(DELINGHA_DRILLS[1], drill_date="2026-13-01")])
    from .test_sms import directory_with_mobiles
    from .test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    result = ingest(settings, AS_OF)  # the reports mailed back (.eml files: no SMTP server set)
    by_kind = {f.kind: f for f in result.files}
    import email
    from email import policy

    subjects = [str(email.message_from_bytes(m.read_bytes(), policy=policy.default)["Subject"])
                for m in (settings.outbox / "mail").rglob("*.eml")]
    assert any(f"{G}客户档案未通过校验（客户档案.xlsx）" in x for x in subjects), subjects
    assert {f.outcome for f in result.files} == {"rejected"}
    cells = {(x.cell, x.field) for x in by_kind["customers"].findings}
    # row 1 title, row 2 header, data from row 3: C = 重要用户等级, K = 自备电源最近试验日期, A = 户号, H = type, I = kW
    assert cells == {("C4", "重要用户等级"), ("K5", "自备电源最近试验日期"), ("A6", "户号"), ("H6", "自备应急电源类型"),
                     ("I6", "自备应急电源容量(kW)")}
    assert any("三级" in x.message for x in by_kind["customers"].findings)
    assert {(x.cell, x.field) for x in by_kind["drills"].findings} == {("D2", "参加单位"), ("A3", "演练日期")}
    for f in result.files:  # the original byte for byte beside its report
        assert (settings.inbox / f.county / "rejected" / f.path.rsplit("/", 1)[-1]).is_file()
        report = openpyxl.load_workbook(f.report)
        assert "问题清单" in report.sheetnames
    store = Store(settings.database_url)
    try:
        versions = store.record_file_versions()
        assert {v["outcome"] for v in versions} == {"rejected"} and len(versions) == 2
        assert store.records_as_of(KIND_CUSTOMERS, AS_OF) == {}
        assert store.submissions_frame().empty  # never taken for a register
    finally:
        store.dispose()


def test_a_number_that_is_not_finite_is_no_number(settings):
    """inf, nan and 1e999 read as floats by Python: 自备应急电源容量 inf would hide 自备电源容量不足."""
    rows = [dict(GOLMUD[0], backup_kw="inf"), dict(GOLMUD[1], supply_sources="nan"),
            dict(GOLMUD[2], security_load_kw="1e999", backup_kw="-inf")]
    customer_file(settings.inbox / G / "客户档案.xlsx", rows)  # header on row 1: E 电源数量, I 容量, J 保安负荷
    [f] = ingest(settings, AS_OF, mail_rejections=False).files
    assert f.outcome == "rejected"
    assert sorted((x.cell, x.message, x.value) for x in f.findings) == [
        ("E3", "不是数字：“nan”", "nan"), ("I2", "不是数字：“inf”", "inf"), ("I4", "不是数字：“-inf”", "-inf"),
        ("J4", "不是数字：“1e999”", "1e999")]


def test_a_date_after_the_report_date_is_an_error(settings):
    """A test, a 协作书 or a drill dated in the future would hide the overdue checks for years."""
    rows = [dict(GOLMUD[0], backup_test_date=d("2062-10-01")), dict(GOLMUD[1], agreement_date="2062年1月1日"),
            dict(GOLMUD[2], preventive_test_date=d("2026-11-16")), dict(GOLMUD[3], agreement_date=d("2026-11-15"))]
    customer_file(settings.inbox / G / "客户档案.xlsx", rows)  # header on row 1: K, M, N the three dates
    drills_file(settings.inbox / DLH / "演练.xlsx", [dict(DELINGHA_DRILLS[0], drill_date=d("2062-06-01")),
                                                      dict(DELINGHA_DRILLS[1], drill_date=d("2026-11-15"))])
    result = ingest(settings, AS_OF, mail_rejections=False)
    by_kind = {f.kind: f for f in result.files}
    assert {f.outcome for f in result.files} == {"rejected"}
    future = "晚于报送基准日，不能是将来的日期"
    assert sorted((x.cell, x.field, x.message) for x in by_kind["customers"].findings) == [
        ("K2", "自备电源最近试验日期", f"日期“2062-10-01”{future}"), ("M3", "协作书签订日期", f"日期“2062年1月1日”{future}"),
        ("N4", "最近预防性试验日期", f"日期“2026-11-16”{future}")]  # the report date itself (M5) is no future
    assert [(x.cell, x.field, x.message) for x in by_kind["drills"].findings] == [
        ("A2", "演练日期", f"日期“2062-06-01”{future}")]


def test_a_drill_of_a_customer_not_in_the_customer_file_is_accepted_with_a_warning(settings):
    drills = [*GOLMUD_DRILLS, dict(GOLMUD_DRILLS[0], customer_id="0630199999", drill_name="外单位演练")]
    drills_file(settings.inbox / DLH / "演练.xlsx", [*DELINGHA_DRILLS, dict(DELINGHA_DRILLS[0], customer_id="0630299999")])
    customer_file(settings.inbox / G / "客户档案.xlsx", GOLMUD)
    first = ingest(settings, AS_OF, mail_rejections=False)
    assert {(f.kind, f.outcome) for f in first.files} == {("drills", "accepted"), ("customers", "accepted")}
    assert [x for f in first.files for x in f.findings] == []  # 德令哈市 has no customer file yet: nothing to say
    drills_file(settings.inbox / G / "演练.xlsx", drills)
    [f] = ingest(settings, AS_OF, mail_rejections=False).files
    assert (f.kind, f.outcome, f.rows) == ("drills", "accepted", 4)
    assert [(x.cell, x.field, x.level, x.value) for x in f.findings] == [("B5", "户号", "warning", "0630199999")]
    assert "不在本县(市)已接收的客户档案" in f.findings[0].message


def test_the_check_table_is_data_and_replaceable(settings, tmp_path):
    checks = load_checks()
    assert [c.code for c in checks] == ["电源数量不足", "无自备应急电源", "自备电源容量不足", "自备电源试验超期",
                                        "预防性试验超期", "未签协作书", "演练超期"]
    assert all(c.source for c in checks) and "GB/T 29328-2018" in checks[0].source
    table = (tmp_path / "checks.csv")
    text = load_checks.__globals__["DEFAULT_TABLE"].read_text(encoding="utf-8")
    table.write_text(text.replace("preventive_test,特级、一级、二级、临时性,36", "preventive_test,特级、一级、二级、临时性,60"),
                     encoding="utf-8")
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    before = {c["customer_id"]: {p["code"] for p in c["problems"]} for c in customer_checks(settings, AS_OF)["customers"]}
    settings.customer_checks = table
    after = {c["customer_id"]: {p["code"] for p in c["problems"]} for c in customer_checks(settings, AS_OF)["customers"]}
    assert "预防性试验超期" in before["0630100002"] and "预防性试验超期" not in after["0630100002"]
    table.write_text(text.replace("supply_sources,", "supply_count,", 1), encoding="utf-8")
    with pytest.raises(ChecksTableError, match="第2行.*supply_count"):
        load_checks(table)


def test_a_grid_warning_by_line_reaches_exactly_the_customers_on_it(settings, http_gateway):  # noqa: F811
    from hazardnet.delivery.mail import EmlFileTransport
    from hazardnet.delivery.sms import AppriseSmsTransport
    from hazardnet.publish.grid_warning import grid_warning

    from .jobs import grid_warning_job

    from .test_sms import MOBILE, directory_with_mobiles
    from .test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    store = Store(settings.database_url)
    try:
        files = store.records_as_of(KIND_CUSTOMERS, AS_OF, settings.counties)
        warning = grid_warning(settings, [], "12月3日330千伏察格线检修，请做好自备应急电源准备。", lines=["330KV察格线"],
                               files=files)
        assert warning.counties == (DLH, G)
        sms = AppriseSmsTransport(http_gateway.url())
        result = grid_warning_job(settings, store, warning, EmlFileTransport(settings.outbox / "mail"), sms, day=AS_OF)
        reached = {d["recipient"]: d["reason"] for d in result["deliveries"]}
        assert set(reached) == {"海西州能源局", "国网海西供电公司营销部", "格尔木市发展和改革委员会(能源局)", "国网格尔木供电公司",
                                "青海盐湖钾肥股份有限公司", "德令哈市发展和改革委员会(能源局)", "德令哈纯碱厂"}
        assert reached["青海盐湖钾肥股份有限公司"] == "本户供电线路 330KV察格线"
        assert "青海盐湖钾肥股份有限公司" in reached["国网格尔木供电公司"] and reached["海西州能源局"] == "州级单位"
        texted = {m for m, _ in http_gateway.messages}
        assert texted == {m for org, m in MOBILE.items() if org in reached}
        assert MOBILE["格尔木市人民医院"] not in texted and MOBILE["格尔木炼油厂"] not in texted
        json.dumps(result, ensure_ascii=False, default=str)

        by_substation = grid_warning(settings, [], "察尔汗变检修。", substations=["察尔汗330kV变"], files=files)
        assert {c[1] for c in by_substation.customers} == {"0630100001", "0630100003"}
        with pytest.raises(ValueError, match="没有哪个客户"):
            grid_warning(settings, [], "x", lines=["750kV 不存在线"], files=files)
    finally:
        store.dispose()


def test_the_commands_print_the_issue_s_json(prefect_harness, settings, http_gateway):  # noqa: F811
    import subprocess
    import sys

    from .conftest import harness_env
    from .test_sms import MOBILE, directory_with_mobiles
    from .test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    env = {**harness_env(), "HAZARDNET_SMS_URL": http_gateway.url()}
    env.pop("HAZARDNET_SMTP_HOST", None)
    checks = subprocess.run([sys.executable, "-m", "hazardnet.cli", "customer-checks", "--as-of", AS_OF.isoformat(),
                             "--home", str(settings.home), "--json"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert checks.returncode == 0, checks.stderr
    out = json.loads(checks.stdout)
    assert set(out) == {"customers", "not_in_file", "not_in_registers"}
    assert all(set(c) == {"county", "customer_id", "customer_name", "problems"} for c in out["customers"])
    got = {c["customer_id"]: {p["code"] for p in c["problems"]} for c in out["customers"]}
    assert got == independent(GOLMUD, GOLMUD_DRILLS, AS_OF) | independent(DELINGHA, DELINGHA_DRILLS, AS_OF)

    grid = subprocess.run([sys.executable, "-m", "hazardnet.cli", "grid-warning", "--line", "330kV 察格线", "--text",
                           "察格线检修，请做好准备。", "--home", str(settings.home), "--json"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert grid.returncode == 0, grid.stderr
    result = json.loads(grid.stdout)
    assert {d["recipient"] for d in result["deliveries"]} == {
        "海西州能源局", "国网海西供电公司营销部", "格尔木市发展和改革委员会(能源局)", "国网格尔木供电公司", "青海盐湖钾肥股份有限公司",
        "德令哈市发展和改革委员会(能源局)", "德令哈纯碱厂"}
    assert all(d["reason"] for d in result["deliveries"])
    assert {m for m, _ in http_gateway.messages} == {
        m for org, m in MOBILE.items() if org in {d["recipient"] for d in result["deliveries"]}}


def test_the_quarter_s_decks_and_newsletter_show_the_files_and_the_drills(settings):
    """Q4 2026 (decks as known on 2026-12-31): a 客户档案问题 slide per county (a county deck its own only) and the
    应急演练 slide; the newsletter's paragraph."""
    import docx
    from pptx import Presentation

    from hazardnet.publish.quarterly import Quarter

    from .jobs import quarter_job

    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    store = Store(settings.database_url)
    try:
        out = quarter_job(store, settings, Quarter(2026, 4), as_of=dt.date(2026, 12, 31))
    finally:
        store.dispose()

    def slides(path):
        return [[sh.text_frame.text for sh in s.shapes if sh.has_text_frame]
                + [c.text for sh in s.shapes if sh.has_table for r in sh.table.rows for c in r.cells]
                for s in Presentation(path).slides]

    decks = {b.name: slides(b.deck) for b in out.books}
    gem = [s for s in decks[G] if any(t.startswith("格尔木市客户档案问题") for t in s)]
    assert len(gem) == 1 and "格尔木市人民医院" in gem[0] and "德令哈纯碱厂" not in " ".join(gem[0])
    assert not any("德令哈" in t for s in decks[G] for t in s if "客户档案问题" in t)
    [drill] = [s for s in decks[G] if any(t.startswith("应急演练") for t in s)]
    # on 2026-12-31: 钾肥 (2026-03-01) is due next quarter, 医院 (no joint drill) and 炼油厂 (2025-11-14) overdue
    row = drill[drill.index("格尔木市"):][:4]
    assert row[1] == "0" and row[2] == "青海盐湖钾肥股份有限公司" and set(row[3].split("、")) == {"格尔木市人民医院", "格尔木炼油厂"}
    prefecture = decks[settings.prefecture] if settings.prefecture in decks else decks[out.books[0].name]
    # 德令哈: only 纯碱厂 (its drill of 2025-11-15 is more than 12 months before 2026-12-31); no slide for a county
    # without a customer file
    assert {t for s in prefecture for t in s if "客户档案问题：" in t} == {"格尔木市客户档案问题：3 户", "德令哈市客户档案问题：1 户"}
    text = "\n".join(p.text for p in docx.Document(out.newsletter).paragraphs)
    assert "联合应急演练 0 次" in text and "客户档案（一户一档）共 6 户" in text


def test_a_drill_reminder_goes_once_to_the_customer_and_its_supply_company(settings, http_gateway):  # noqa: F811
    from hazardnet.settings import load_settings

    from .test_sms import MOBILE, directory_with_mobiles
    from .test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    s = load_settings(settings.home, settle_seconds=0, sms_url=http_gateway.url())
    day = dt.date(2027, 2, 10)  # 钾肥's last joint drill 2026-03-01: its year runs out on 2027-03-01, in 19 days
    first = customer_checks(s, day, remind=True)["reminders"]
    assert {(r["recipient"], r["status"]) for r in first} == {("青海盐湖钾肥股份有限公司", "written"),
                                                            ("国网格尔木供电公司", "written")}
    assert http_gateway.messages == [(MOBILE["青海盐湖钾肥股份有限公司"],
                                      "【海西供电】联合应急演练即将到期：青海盐湖钾肥股份有限公司须在2027-03-01前开展，详见邮件。")]
    mails = sorted((s.outbox / "mail").rglob("演练到期提醒_*.eml"))
    import email
    from email import policy

    bodies = [email.message_from_bytes(m.read_bytes(), policy=policy.default).get_body().get_content() for m in mails]
    assert len(mails) == 2 and all("须在 2027-03-01 前再次开展" in b and "格尔木市人民医院" not in b for b in bodies)
    again = customer_checks(s, day + dt.timedelta(days=3), remind=True)["reminders"]
    assert {r["status"] for r in again} == {"skipped"} and len(http_gateway.messages) == 1
    assert customer_checks(s, dt.date(2027, 1, 20), remind=True)["reminders"] == []  # 40 days before: not yet


def test_a_drill_reminder_text_without_a_gateway_is_named_like_every_other_kind(settings):
    """No SMS gateway: the reminder's text is a file in outbox/sms named <类别>_<date>_<县(市)>_<单位>_<mobile>_…,
    as its .eml is, and as every other kind's text is (it was sms_<mobile>_<hash>.txt)."""
    from hazardnet.settings import load_settings

    from .test_sms import MOBILE, directory_with_mobiles
    from .test_warnings import write_directory_file

    write_directory_file(settings.directory_file, directory_with_mobiles())
    drop_files(settings)
    ingest(settings, AS_OF, mail_rejections=False)
    s = load_settings(settings.home, settle_seconds=0)
    assert s.sms_url is None
    day = dt.date(2027, 2, 10)
    first = customer_checks(s, day, remind=True)["reminders"]
    assert {(r["recipient"], r.get("sms_status")) for r in first} >= {("青海盐湖钾肥股份有限公司", "written")}
    [text] = (s.outbox / "sms").glob("*.txt")
    potash = MOBILE["青海盐湖钾肥股份有限公司"]
    assert text.name.startswith(f"演练到期提醒_20270210_格尔木市_青海盐湖钾肥股份有限公司_{potash}_"), text.name
    assert "联合应急演练即将到期" in text.read_text(encoding="utf-8")
    [mail] = (s.outbox / "mail").glob("演练到期提醒_20270210_格尔木市_青海盐湖钾肥股份有限公司*.eml")


def test_the_command_says_which_counties_have_no_customer_file_instead_of_an_empty_table(prefect_harness, settings):
    """No county's customer file yet: one sentence saying so and what to do, not an empty table followed by every
    customer of the registers; then with 德令哈市's file alone: 格尔木市 named as a county without a file, its
    register's customers not listed one by one as 台账中有、客户档案中没有."""
    from .conftest import DATA, drop
    from .test_ingest_flow import run_cli

    drop(settings, DATA / "good" / "canonical.xlsx")
    ingest(settings, AS_OF, mail_rejections=False)
    wide = {"COLUMNS": "400"}
    none = run_cli("customer-checks", "--as-of", AS_OF.isoformat(), "--home", str(settings.home), env=wide)
    assert none.returncode == 0, none.stderr
    assert "客户档案检查（一户一档）" not in none.stdout and "台账中有、客户档案中没有的客户" not in none.stdout, none.stdout
    assert none.stdout.startswith("尚未收到任何县(市)的客户档案（一户一档），没有可检查的客户。请用 hazardnet template "
                                  "--customers --county <县(市)>"), none.stdout

    customer_file(settings.inbox / DLH / "客户档案.xlsx", DELINGHA, traditional=True)
    ingest(settings, AS_OF, mail_rejections=False)
    one = run_cli("customer-checks", "--as-of", AS_OF.isoformat(), "--home", str(settings.home), env=wide)
    assert one.returncode == 0, one.stderr
    assert "客户档案检查（一户一档）" in one.stdout and "尚未收到任何" not in one.stdout
    assert "尚未报送客户档案的县(市)：格尔木市（其台账中的客户均未建档，不逐户列出）。" in one.stdout, one.stdout
    assert "台账中有、客户档案中没有的客户：格尔木市" not in one.stdout, one.stdout
