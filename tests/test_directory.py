"""The recipient directory: every problem pointed at its cell; a row with errors is left out while every valid
row is served; only an unusable file falls back to the last valid one; mobiles stored normalized."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pandera.errors as pe
import pytest

from hazardnet.delivery.directory import DirectoryStore, load_directory, recipients_of
from hazardnet.rules import scoped
from hazardnet.store import Store
from schemas.directory import directory_schema, split_emails
from tests.test_bulletin import AS_OF, DIRECTORY, HAZARDS, record_registers, write_directory_file


@pytest.fixture
def store(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    s = Store(settings.database_url)
    record_registers(s, HAZARDS)
    yield s
    s.dispose()


BAD_ROWS = [  # each row breaks one rule; row 2 of the sheet is the first data row
    ("政府主管部门", "全州", "", "海西州能源局", "王建国", "anquan@haixi-energy.example.cn", "13909771234"),  # row 2 ok
    ("用电客户", "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "陈志强", "dianqi@qhyhkf", ""),  # row 3: F
    ("供电企业", "西宁市", "", "国网西宁供电公司", "赵", "a@xn-power.example.cn", ""),  # row 4: B
    ("用电客户", "格尔木市", "0630199999", "不存在的客户", "钱", "b@example.cn", ""),  # row 5: C
    ("银行", "格尔木市", "", "某银行", "孙", "c@example.cn", ""),  # row 6: A
    ("用电客户", "格尔木市", "", "缺户号的客户", "李", "d@example.cn", ""),  # row 7: C
    ("用电客户", "全州", "0630100002", "格尔木市人民医院", "周", "e@example.cn", ""),  # row 8: B
    ("政府主管部门", "德令哈市", "", "德令哈市能源局", "吴", "ok@dlh.example.cn、坏地址@", "1390977"),  # row 9: F, G
    ("供电企业", "格尔木市", "", "", "郑", "", ""),  # row 10: D, F
]


def test_every_directory_problem_is_pointed_at_its_cell(settings, store):
    write_directory_file(settings.directory_file, BAD_ROWS)
    result = load_directory(settings, store, AS_OF)
    errors = {(f.cell, f.field): f.message for f in result.findings if f.level == "error" and f.cell}
    assert errors == {
        ("F3", "电子邮箱"): "电子邮箱“dianqi@qhyhkf”格式不正确（多个邮箱请用“;”或“、”分隔）",
        ("B4", "县(市)"): "县(市)“西宁市”不是已配置的县(市)（德令哈市、格尔木市、茫崖市、乌兰县、都兰县、天峻县）；州级单位请填“全州”或留空",
        ("C5", "户号"): "户号“0630199999”不在格尔木市已接收的隐患台账中，请核对户号",
        ("A6", "单位类型"): "单位类型“银行”不在可选范围内（政府主管部门、用电客户、供电企业）",
        ("C7", "户号"): "单位类型为“用电客户”，但未填写户号",
        ("B8", "县(市)"): "用电客户必须填写所属县(市)，不能为空或“全州”",
        ("F9", "电子邮箱"): "电子邮箱“坏地址@”格式不正确（多个邮箱请用“;”或“、”分隔）",
        ("D10", "单位名称"): "必填项为空",
        ("F10", "电子邮箱"): "必填项为空",
    }
    warnings = {(f.cell, f.field): f.message for f in result.findings if f.level == "warning" and f.cell}
    assert warnings == {("G9", "手机号码"): "手机号码“1390977”不是中国大陆手机号（11 位，1 开头），该单位不会收到短信"}
    assert all(f.sheet == "通讯录" for f in result.findings if f.level == "error" and f.cell)
    # the one valid row is served; every row with an error is left out and named
    assert result.source == "file" and [r.org_name for r in result.recipients] == ["海西州能源局"]
    assert result.recipients[0].mobiles == ("13909771234",)
    assert result.left_out == [3, 4, 5, 6, 7, 8, 9, 10]
    assert any("第 3、4、5、6、7、8、9、10 行" in f.message for f in result.findings)
    report = openpyxl.load_workbook(result.report)
    assert "其余行照常使用" in report["问题清单"]["A1"].value
    issues = list(report["问题清单"].iter_rows(min_row=3, values_only=True))
    assert {(r[2], r[3]) for r in issues if r[6] == "错误"} == set(errors)
    marked = report["通讯录（问题已标红）"]
    assert marked["F3"].fill.fgColor.rgb.endswith("FF0000") and marked["F3"].comment is not None
    assert not marked["F2"].fill.fgColor.rgb.endswith("FF0000")


def test_an_unusable_directory_does_not_replace_the_last_valid_one(settings, store):
    write_directory_file(settings.directory_file, DIRECTORY)
    good = load_directory(settings, store, AS_OF)
    assert good.source == "file" and len(good.recipients) == 10 and good.report is None

    write_directory_file(settings.directory_file, [*DIRECTORY[:3], BAD_ROWS[1]])  # one bad row: only it is left out
    partial = load_directory(settings, store, AS_OF)
    assert partial.source == "file" and len(partial.recipients) == 3 and partial.left_out == [5]
    assert any(f.cell == "F5" and f.level == "error" for f in partial.findings)
    assert (settings.outbox / "通讯录问题报告.xlsx").is_file()

    write_directory_file(settings.directory_file, DIRECTORY)
    assert len(load_directory(settings, store, AS_OF).recipients) == 10
    write_directory_file(settings.directory_file, [BAD_ROWS[1], BAD_ROWS[2]])  # no valid row at all
    fallback = load_directory(settings, store, AS_OF)
    assert fallback.source == "store"
    assert fallback.recipients == good.recipients  # the last valid version stays in use
    assert any(f.cell == "F2" for f in fallback.findings)
    assert any("继续使用" in f.message for f in fallback.findings)
    assert (settings.outbox / "通讯录问题报告.xlsx").is_file()

    settings.directory_file.write_bytes(b"PK\x03\x04 not a workbook")  # unreadable
    unreadable = load_directory(settings, store, AS_OF)
    assert unreadable.source == "store" and unreadable.recipients == good.recipients

    settings.directory_file.unlink()  # even with the file gone
    assert load_directory(settings, store, AS_OF).recipients == good.recipients

    write_directory_file(settings.directory_file, DIRECTORY[:4])  # a corrected, smaller directory
    fixed = load_directory(settings, store, AS_OF)
    assert fixed.source == "file" and len(fixed.recipients) == 4
    assert not (settings.outbox / "通讯录问题报告.xlsx").exists()
    assert len(DirectoryStore(store).latest()[0]) == 4


def test_header_variants_title_row_and_separators(settings, store):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "收件人"
    ws.append(["海西州用电安全1+1+1工作网通讯录"])
    ws.append(["序号", "类型", "所属县市", "客户编号", "单位", "联系人", "邮箱", "手机"])
    ws.append([1, "政府", "格尔木市", None, "格尔木市能源局", "张", "a@gem.example.cn; b@gem.example.cn", "13897001234"])
    ws.append([2, "客户", "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "陈", "c@k.example.cn、d@k.example.cn，c@k.example.cn", None])
    ws.append([3, "供电公司", None, None, "国网海西供电公司营销部", "李", "ＹＩＮＧＸＩＡＯ＠haixi.example.cn", "0977-8223456"])
    settings.directory_file.parent.mkdir(parents=True, exist_ok=True)
    wb.save(settings.directory_file)
    result = load_directory(settings, store, AS_OF)
    assert [f for f in result.findings if f.level == "error"] == []
    by_org = {r.org_name: r for r in result.recipients}
    assert by_org["格尔木市能源局"].addresses == ("a@gem.example.cn", "b@gem.example.cn")
    assert by_org["青海盐湖钾肥股份有限公司"].addresses == ("c@k.example.cn", "d@k.example.cn")
    assert by_org["国网海西供电公司营销部"].county is None  # blank county: the whole prefecture
    assert by_org["国网海西供电公司营销部"].addresses == ("YINGXIAO@haixi.example.cn",)  # full-width folded


def test_customer_of_a_county_without_register_is_a_warning_not_an_error(settings, store):
    rows = [("用电客户", "乌兰县", "6328100001", "乌兰某煤矿", "马", "m@wl.example.cn", "")]
    write_directory_file(settings.directory_file, rows)
    result = load_directory(settings, store, AS_OF)
    assert result.source == "file"
    assert [f.message for f in result.findings] == ["乌兰县尚无已接收的隐患台账，无法核对该县(市)用电客户的户号。"]


def test_scope_rules():
    from hazardnet.delivery.directory import DirectoryEntry

    frame = pd.DataFrame([{"county": h.county, "customer_id": h.customer_id, "hazard_id": h.hazard_id} for h in HAZARDS])
    entries = [DirectoryEntry("用电客户", "格尔木市", "0630100001", "钾肥", None, ("a@x.cn",)),
               DirectoryEntry("用电客户", "德令哈市", "0630100001", "同号不同县", None, ("b@x.cn",)),
               DirectoryEntry("政府主管部门", "德令哈市", None, "德令哈市能源局", None, ("c@x.cn",)),
               DirectoryEntry("供电企业", None, None, "营销部", None, ("d@x.cn",))]
    by_org = {r.org_name: r for r in recipients_of(entries)}
    assert set(scoped(frame, by_org["钾肥"])["hazard_id"]) == {"GEM-001", "GEM-002"}
    assert scoped(frame, by_org["同号不同县"]).empty  # a 户号 counts only in its own county
    assert set(scoped(frame, by_org["德令哈市能源局"])["hazard_id"]) == {"DLH-001", "DLH-002"}
    assert len(scoped(frame, by_org["营销部"])) == len(HAZARDS)


def test_schema_pins_its_messages_inline():
    schema = directory_schema(["格尔木市"], {"格尔木市": {"001"}})
    frame = pd.DataFrame([{"party_type": "用电客户", "county": "格尔木市", "customer_id": "002", "org_name": "x",
                           "contact": None, "email": "a@b.cn", "mobile": None}], dtype=object)
    with pytest.raises(pe.SchemaErrors, match="unknown_customer"):
        schema.validate(frame, lazy=True)
    assert split_emails("a@b.cn；c@d.cn、a@b.cn , e@f.cn") == ("a@b.cn", "c@d.cn", "e@f.cn")


def test_mobiles_in_their_written_forms_are_stored_normalized(settings, store):
    rows = [
        ("政府主管部门", "格尔木市", "", "格尔木市能源局", "张", "a@gem.example.cn", "+86 139-0000-0010"),
        ("政府主管部门", "格尔木市", "", "格尔木市能源局", "王", "b@gem.example.cn", "１３９ ００００ ００１１"),
        ("用电客户", "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "陈", "c@k.example.cn",
         "0086 13900000012；(+86)139.0000.0010"),
        ("供电企业", "格尔木市", "", "国网格尔木供电公司", "李", "d@gem-power.example.cn", "0979-8412345"),
        ("供电企业", "全州", "", "国网海西供电公司营销部", "赵", "e@haixi.example.cn", "+1 415 555 0100"),
    ]
    write_directory_file(settings.directory_file, rows)
    result = load_directory(settings, store, AS_OF)
    assert result.source == "file" and result.left_out == []
    by_org = {r.org_name: r for r in result.recipients}
    assert by_org["格尔木市能源局"].mobiles == ("13900000010", "13900000011")  # two contacts merged
    assert by_org["青海盐湖钾肥股份有限公司"].mobiles == ("13900000012", "13900000010")
    assert by_org["国网格尔木供电公司"].mobiles == () and by_org["国网海西供电公司营销部"].mobiles == ()
    warned = {f.cell: f.message for f in result.findings if f.level == "warning" and f.cell}
    assert warned == {"G5": "手机号码“0979-8412345”不是中国大陆手机号（11 位，1 开头），该单位不会收到短信",
                      "G6": "手机号码“+1 415 555 0100”不是中国大陆手机号（11 位，1 开头），该单位不会收到短信"}
    stored, _ = DirectoryStore(store).latest()
    assert [e.mobile for e in stored] == ["13900000010", "13900000011", "13900000012；13900000010", None, None]


def test_a_directory_stored_before_sms_reads_its_mobiles():
    from hazardnet.delivery.directory import DirectoryEntry

    old = {"party": "政府主管部门", "county": "格尔木市", "customer_id": None, "org_name": "格尔木市能源局",
           "contact": "张", "addresses": ["a@gem.example.cn"], "mobile": "+86 139-0000-0010", "row": 2}
    entry = DirectoryEntry.from_json(old)
    assert entry.mobiles == ("13900000010",) and entry.mobile == "13900000010"


def test_rows_left_out_are_mailed_to_the_prefecture_supply_company_once(settings, store):
    import email
    from email import policy

    from hazardnet.delivery.dispatch import Dispatcher
    from hazardnet.delivery.mail import EmlFileTransport
    from hazardnet.delivery.rejection_mail import send_directory_problems

    rows = [("供电企业", "全州", "", "国网海西供电公司营销部", "王", "yingxiao@haixi.example.cn", ""),
            ("供电企业", "格尔木市", "", "国网格尔木供电公司", "李", "gem@haixi.example.cn", ""),
            BAD_ROWS[1]]
    write_directory_file(settings.directory_file, rows)
    directory = load_directory(settings, store, AS_OF)
    assert directory.left_out == [4] and len(directory.recipients) == 2
    transport = EmlFileTransport(settings.outbox / "mail")
    [sent] = send_directory_problems(settings, directory, Dispatcher(store, settings, transport))
    assert sent["recipient"] == "国网海西供电公司营销部" and sent["status"] == "written"
    [eml] = (settings.outbox / "mail").glob("*.eml")
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    assert "第 4 行有错误" in body and "F4" in body and "dianqi@qhyhkf" in body
    assert [p.get_filename() for p in msg.iter_attachments()] == ["通讯录问题报告.xlsx"]
    again = send_directory_problems(settings, load_directory(settings, store, AS_OF),
                                    Dispatcher(store, settings, transport))
    assert [d["status"] for d in again] == ["skipped"] and len(list((settings.outbox / "mail").glob("*.eml"))) == 1
