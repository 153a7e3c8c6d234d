"""Supervision (issue 24): reminders before a deadline, the ladder with its 《隐患督办建议函》, extensions with
reasons, the meeting's commitments fed back.

Real registers (xlsx) over four months and a filled 整改承诺表 go through the ingest job; the supervision job
then runs every day from 2026-08-10 to 2026-11-01 against a real SMTP server and an HTTP SMS gateway on
loopback. What must happen is worked out by hand from the story below (EXPECTED_*), not by the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from docx import Document

from hazardnet.delivery.directory import Recipient
from hazardnet.jobs.ingest import ingest
from hazardnet.jobs.runner import PlainRunner
from hazardnet.jobs.supervision import supervision
from hazardnet.publish.supervision import NO_INTERIM, LetterDraft, LetterHazard, letter_mail, letter_sms, write_letter
from hazardnet.rules import COUNTY, OVERDUE, PREFECTURE, DeadlineEvent, deadline_history, reminder_due, rung
from hazardnet.settings import load_settings
from hazardnet.store import Store
from tests.sms_gateways import http_gateway  # noqa: F401  (the fixture)
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)
from tests.test_warnings import write_directory_file

D = dt.date
G, DLH = "格尔木市", "德令哈市"

POTASH, HOSPITAL, REFINERY, SODA = "0630100001", "0630100002", "0630100003", "0630200001"
CUSTOMER = {POTASH: ("青海盐湖钾肥股份有限公司", "一级", "危险化学品"), HOSPITAL: ("格尔木市人民医院", "二级", "医疗"),
            REFINERY: ("格尔木炼油厂", "一级", "石油化工"), SODA: ("德令哈纯碱厂", "二级", "危险化学品")}
MAIL = {POTASH: "dianqi@potash.example.cn", HOSPITAL: "houqin@hospital.example.cn",
        REFINERY: "shebei@refinery.example.cn", SODA: "dianqi@soda.example.cn",
        "G_GOV": "anquan@golmud-energy.example.cn", "G_UTIL": "yongjian@golmud-power.example.cn",
        "D_GOV": "anquan@delingha-energy.example.cn", "D_UTIL": "yongjian@delingha-power.example.cn",
        "P_GOV": "anquan@haixi-energy.example.cn", "P_UTIL": "yingxiao@haixi-power.example.cn"}
MOBILE = {POTASH: "13900000011", HOSPITAL: "13900000012", REFINERY: "13900000013", SODA: "13900000021",
          "G_GOV": "13900000001", "G_UTIL": "13900000002", "D_GOV": "13900000003", "D_UTIL": "13900000004",
          "P_GOV": "13900000005", "P_UTIL": "13900000006"}
DIRECTORY = [
    ("政府主管部门", "全州", None, "海西州能源局", "李局", MAIL["P_GOV"], MOBILE["P_GOV"]),
    ("供电企业", "全州", None, "国网海西供电公司营销部", "王工", MAIL["P_UTIL"], MOBILE["P_UTIL"]),
    ("政府主管部门", G, None, "格尔木市发展和改革委员会(能源局)", "赵科", MAIL["G_GOV"], MOBILE["G_GOV"]),
    ("供电企业", G, None, "国网格尔木供电公司", "钱工", MAIL["G_UTIL"], MOBILE["G_UTIL"]),
    ("政府主管部门", DLH, None, "德令哈市发展和改革委员会(能源局)", "郑科", MAIL["D_GOV"], MOBILE["D_GOV"]),
    ("供电企业", DLH, None, "国网德令哈供电公司", "冯工", MAIL["D_UTIL"], MOBILE["D_UTIL"]),
    *[("用电客户", DLH if cid == SODA else G, cid, CUSTOMER[cid][0], "某工", MAIL[cid], MOBILE[cid])
      for cid in (POTASH, HOSPITAL, REFINERY, SODA)],
]


def row(hid, cid, found, deadline, severity="一般", status="未整改", completed=None, interim=None, reason=None,
        approval=None, supervisor=None):
    name, grade, industry = CUSTOMER[cid]
    return {"隐患编号": hid, "户号": cid, "客户名称": name, "重要用户等级": grade, "行业类别": industry,
            "发现日期": found, "隐患描述": f"{hid}：配电室{hid}号柜绝缘老化", "隐患类别": "电气设备", "隐患等级": severity,
            "整改期限": deadline, "整改责任人": "张三", "防控措施": interim, "整改状态": status, "完成日期": completed,
            "延期原因": reason, "延期批准": approval, "督办单位": supervisor}


# Every register of the story: (county, report date, header spelling of the extension columns, rows)
CANON = {}
VARIANTS = {"延期原因": "延期理由", "延期批准": "批准单位", "督办单位": "督办部门"}
REGISTERS = [
    (G, D(2026, 7, 10), CANON, [
        row("G1", POTASH, D(2026, 7, 1), D(2026, 8, 20)),
        row("G2", POTASH, D(2026, 7, 2), D(2026, 8, 15), "重大", interim="临时加装围栏"),
        row("G3", HOSPITAL, D(2026, 7, 3), D(2026, 9, 25)),
        row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25)),
        row("G5", REFINERY, D(2026, 7, 5), D(2026, 10, 20), interim="专人巡视")]),
    (DLH, D(2026, 7, 10), CANON, [
        row("D1", SODA, D(2026, 6, 1), D(2026, 7, 31), "重大", interim="每日巡检"),
        row("D2", SODA, D(2026, 6, 1), D(2026, 6, 30))]),
    # August: G2's deadline moved later with no reason and no approval (a 重大 hazard): two warnings at its cell
    (G, D(2026, 8, 10), CANON, [
        row("G1", POTASH, D(2026, 7, 1), D(2026, 8, 20)),
        row("G2", POTASH, D(2026, 7, 2), D(2026, 9, 30), "重大", interim="临时加装围栏"),
        row("G3", HOSPITAL, D(2026, 7, 3), D(2026, 9, 25)),
        row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25)),
        row("G5", REFINERY, D(2026, 7, 5), D(2026, 10, 20), interim="专人巡视")]),
    # September (header variants): G2 moved again, with a reason but no approval: one warning; G4 remediated
    (G, D(2026, 9, 10), VARIANTS, [
        row("G1", POTASH, D(2026, 7, 1), D(2026, 8, 20)),
        row("G2", POTASH, D(2026, 7, 2), D(2026, 10, 31), "重大", interim="临时加装围栏", reason="设备到货延迟"),
        row("G3", HOSPITAL, D(2026, 7, 3), D(2026, 9, 25)),
        row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25), status="已整改", completed=D(2026, 9, 5)),
        row("G5", REFINERY, D(2026, 7, 5), D(2026, 10, 20), interim="专人巡视")]),
]
# November: G3's deadline moved past the meeting's commitment without a reason: a warning; G1 moved with one
LATE_REGISTER = (G, D(2026, 11, 10), CANON, [
    row("G1", POTASH, D(2026, 7, 1), D(2026, 12, 31), reason="停产检修期间整改"),
    row("G2", POTASH, D(2026, 7, 2), D(2026, 10, 31), "重大", interim="临时加装围栏", reason="设备到货延迟",
        supervisor="格尔木市能源局"),
    row("G3", HOSPITAL, D(2026, 7, 3), D(2026, 12, 31)),
    row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25), status="已整改", completed=D(2026, 9, 5)),
    row("G5", REFINERY, D(2026, 7, 5), D(2026, 10, 20), interim="专人巡视")])
COMMITMENT_DAY = D(2026, 10, 12)
COMMITTED = D(2026, 10, 25)  # G3, promised at the meeting

# By hand from the story: the days a reminder is due (deadline - 10 and - 3, the current deadline then).
EXPECTED_REMINDERS = {
    D(2026, 8, 10): {("G1", POTASH)}, D(2026, 8, 15): {("G4", REFINERY)}, D(2026, 8, 17): {("G1", POTASH)},
    D(2026, 8, 22): {("G4", REFINERY)},
    D(2026, 9, 15): {("G3", HOSPITAL)}, D(2026, 9, 22): {("G3", HOSPITAL)}, D(2026, 10, 10): {("G5", REFINERY)},
    D(2026, 10, 15): {("G3", HOSPITAL)}, D(2026, 10, 17): {("G5", REFINERY)}, D(2026, 10, 21): {("G2", POTASH)},
    D(2026, 10, 22): {("G3", HOSPITAL)}, D(2026, 10, 28): {("G2", POTASH)},
}
# The letters: (day, rung, scope) -> hazards newly at that rung.
EXPECTED_LETTERS = {
    (D(2026, 8, 10), COUNTY, DLH): {"D1", "D2"},  # D1 重大 and overdue; D2 41 days overdue
    (D(2026, 8, 30), PREFECTURE, "海西州"): {"D1"},  # 重大, 30 days overdue
    (D(2026, 9, 19), COUNTY, G): {"G1"},  # 30 days overdue
    (D(2026, 9, 28), PREFECTURE, "海西州"): {"D2"},  # 90 days overdue
    (D(2026, 10, 26), COUNTY, G): {"G3"},  # the meeting's commitment missed
    (D(2026, 11, 1), COUNTY, G): {"G2"},  # 重大, overdue
}
LETTER_TO = {(COUNTY, G): ("G_GOV", "G_UTIL"), (COUNTY, DLH): ("D_GOV", "D_UTIL"),
             (PREFECTURE, "海西州"): ("P_GOV", "P_UTIL")}


def expected_rungs(day: dt.date) -> dict[str, str]:
    """The rung of every hazard on `day`, counted from the story by hand-written rules of docs/domain.md (the ladder)."""
    deadline = {"G1": D(2026, 8, 20), "G2": D(2026, 9, 30) if day < D(2026, 9, 10) else D(2026, 10, 31),
                "G3": D(2026, 9, 25) if day < COMMITMENT_DAY else COMMITTED, "G4": D(2026, 8, 25),
                "G5": D(2026, 10, 20), "D1": D(2026, 7, 31), "D2": D(2026, 6, 30)}
    if day < D(2026, 8, 10):
        deadline["G2"] = D(2026, 8, 15)
    major = {"G2", "D1"}
    out = {}
    for hid, d in deadline.items():
        if hid == "G4" and day >= D(2026, 9, 10):
            continue  # remediated
        late = (day - d).days
        missed = hid == "G3" and day > COMMITTED
        if late <= 0 and not missed:
            continue
        if late >= 90 or (hid in major and late >= 30):
            out[hid] = PREFECTURE
        elif late >= 30 or hid in major or missed:
            out[hid] = COUNTY
        else:
            out[hid] = OVERDUE
    return out


def write_register(path: Path, rows: list[dict], spelling: dict[str, str]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "隐患台账"
    headers = list(rows[0])
    ws.append([spelling.get(h, h) for h in headers])
    for r in rows:
        ws.append([r[h] for h in headers])
    for r in ws.iter_rows(min_row=2):
        r[1].number_format = "@"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_commitment_table(path: Path, rows: list[tuple]) -> Path:
    """The quarterly workbook's 整改承诺 sheet, filled in at the meeting and saved as a workbook."""
    from hazardnet.publish.quarterly_workbook import COMMITMENT_HEADERS

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "整改承诺"
    ws.append(["格尔木市2026年第三季度隐患通报会整改承诺表（截至2026-10-10尚未整改的隐患）"])
    ws.append(list(COMMITMENT_HEADERS))
    for r in rows:
        ws.append(list(r))
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def ingest_on(s, day: dt.date, files: list[tuple[str, Path]]):
    for county, src in files:
        dst = s.inbox / county / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    return ingest(s, day, runner=PlainRunner(), mail_rejections=False)


@pytest.fixture
def home(settings, smtp_server, http_gateway, tmp_path):
    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none",
                      settle_seconds=0, sms_url=http_gateway.url(), mail_retry_delays=[])
    write_directory_file(s.directory_file, DIRECTORY)
    ingested = {}
    for n, (county, day, spelling, rows) in enumerate(REGISTERS):
        src = write_register(tmp_path / "src" / f"{county}{day:%Y%m}台账.xlsx", rows, spelling)
        ingested[(county, day)] = ingest_on(s, day, [(county, src)])
    return s, ingested, tmp_path


def commit_rows(hid_date: dict[str, dt.date | str | None]) -> list[tuple]:
    out = []
    for i, (hid, date) in enumerate(hid_date.items(), start=1):
        out.append((i, G, POTASH, "客户", hid, "一般", "描述", "2026-09-25", "未整改", date, "张三"))
    return out


def addresses_of(message) -> set[str]:
    return set(message.rcpt_tos)


def body(message) -> str:
    return message.message.get_body(("plain",)).get_content()


def attachments(message) -> list[tuple[str, bytes]]:
    return [(p.get_filename(), p.get_content()) for p in message.message.iter_attachments()]


def letter_hazard_ids(docx: bytes) -> set[str]:
    table = Document(io.BytesIO(docx)).tables[0]
    return {r.cells[2].text for r in table.rows[1:]}


def test_registers_with_moved_deadlines_get_warnings_at_their_cells(home):
    s, ingested, _ = home
    aug, sep = ingested[(G, D(2026, 8, 10))], ingested[(G, D(2026, 9, 10))]
    assert [f.outcome for f in aug.files] == ["accepted"] and [f.outcome for f in sep.files] == ["accepted"]
    # G2 is the second data row (Excel row 3); 整改期限 is the 10th column (J)
    moved = [(f.cell, f.message) for f in aug.files[0].findings if "推迟" in f.message]
    assert [c for c, _ in moved] == ["J3", "J3"]
    assert "未填写延期原因" in moved[0][1] and "未填写延期批准" in moved[1][1]
    moved = [(f.cell, f.message) for f in sep.files[0].findings if "推迟" in f.message]
    assert moved == [("J3", moved[0][1])] and "延期批准" in moved[0][1]  # a reason was given (延期理由)
    assert not [f for f in ingested[(DLH, D(2026, 7, 10))].files[0].findings if "推迟" in f.message]


def test_the_self_check_warns_of_a_moved_deadline_as_the_intake_does(settings, tmp_path):
    """`hazardnet check` (预检) gives the intake's warnings that need the county's earlier registers — G2's 整改期限
    moved later without 延期原因 / 延期批准 — at the same cell, from the home's store; a home without a store gets
    none of them and is left without one."""
    import os
    import subprocess
    import sys

    import sqlalchemy as sa

    from hazardnet.intake.self_check import check_register
    from hazardnet.store import submissions

    settings.home.mkdir(parents=True, exist_ok=True)
    july, august = REGISTERS[0], REGISTERS[2]
    ingest_on(settings, july[1], [(G, write_register(tmp_path / "src" / "7月台账.xlsx", july[3], july[2]))])
    checked = write_register(tmp_path / "clerk" / "格尔木市8月台账.xlsx", august[3], august[2])

    result = check_register(settings, checked, G, august[1], tmp_path / "report")
    moved = [(f.cell, f.message) for f in result.findings if "推迟" in f.message]
    assert result.passed and [c for c, _ in moved] == ["J3", "J3"], result.findings
    assert "未填写延期原因" in moved[0][1] and "未填写延期批准" in moved[1][1]
    store = Store(settings.database_url)
    try:  # nothing stored: still July's register alone
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(submissions)).scalar() == 1
    finally:
        store.dispose()

    # the command a clerk runs prints them
    done = subprocess.run([sys.executable, "-m", "hazardnet.cli", "check", str(checked), "--county", G,
                           "--home", str(settings.home), "--as-of", august[1].isoformat()],
                          capture_output=True, text=True, env={**os.environ, "HAZARDNET_SETTLE_SECONDS": "0", "COLUMNS": "200"},
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "提示 隐患台账 J3（整改期限）：重大隐患“G2”的整改期限由 2026-08-15 推迟至 2026-09-30" in done.stdout, done.stdout

    fresh = load_settings(tmp_path / "new-home", settle_seconds=0)
    fresh.home.mkdir()
    result = check_register(fresh, checked, G, august[1], tmp_path / "report2")
    assert result.passed and not [f for f in result.findings if "推迟" in f.message]
    assert not (fresh.home / "hazardnet.db").exists()


def test_commitment_table_rejected_whole_with_findings_at_cells(home):
    s, _, tmp = home
    src = write_commitment_table(tmp / "bad" / "格尔木承诺表.xlsx", commit_rows(
        {"G3": COMMITTED, "X9": COMMITTED, "D1": COMMITTED, "G5": D(2026, 10, 1), "G1": D(2207, 1, 31)}))
    out = ingest_on(s, COMMITMENT_DAY, [(G, src)])
    f = out.files[0]
    assert f.outcome == "rejected"
    errors = {(x.cell, x.field) for x in f.findings if x.level == "error"}
    assert errors == {("E4", "隐患编号"), ("E5", "隐患编号"), ("J6", "承诺完成日期"),  # unknown, other county, too early
                      ("J7", "承诺完成日期")}  # 2207 for 2027: more than two years after the meeting
    assert "两年以上" in next(x.message for x in f.findings if x.cell == "J7")
    store = Store(s.database_url)
    try:
        assert store.commitments_through(D(2026, 12, 31)) == []  # nothing of a rejected table is kept
    finally:
        store.dispose()


def test_cli_ingest_json_gives_a_commitment_tables_kind_and_its_rejection_mail_names_it(prefect_harness, home):
    """`hazardnet ingest --json`: an accepted, a rejected and a re-sent commitment table are each of kind
    "commitments" (not "register"); the rejection mail (.eml in outbox/mail, no SMTP in the environment) calls the
    file a 整改承诺表, not a 隐患台账."""
    import email
    import email.policy
    import json
    import subprocess
    import sys

    from tests.conftest import harness_env

    s, _, tmp = home
    good = write_commitment_table(tmp / "c" / "格尔木市整改承诺表.xlsx", commit_rows({"G3": COMMITTED}))
    bad = write_commitment_table(tmp / "b" / "格尔木市承诺表（有误）.xlsx", commit_rows({"X9": COMMITTED}))
    env = {k: v for k, v in harness_env().items() if not k.startswith(("HAZARDNET_SMTP_", "HAZARDNET_SMS_"))}

    def cli_ingest(*sources: Path) -> dict:
        for src in sources:
            (s.inbox / G / src.name).write_bytes(src.read_bytes())
        proc = subprocess.run([sys.executable, "-m", "hazardnet", "ingest", "--home", str(s.home), "--as-of",
                               COMMITMENT_DAY.isoformat(), "--json"], capture_output=True, text=True, env=env,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        return {Path(f["path"]).name: (f["outcome"], f["kind"]) for f in json.loads(proc.stdout)["files"]}

    assert cli_ingest(good, bad) == {good.name: ("commitments", "commitments"), bad.name: ("rejected", "commitments")}
    assert cli_ingest(good) == {good.name: ("duplicate", "commitments")}
    [eml] = (s.outbox / "mail").glob("*.eml")
    body = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default).get_body(("plain",)).get_content()
    assert f"整改承诺表《{bad.name}》未通过校验" in body and "报送的隐患台账" not in body, body


def test_a_meeting_commitment_is_the_current_deadline_of_every_output(home):
    """The commitment moves the deadline for the warnings, the consolidated register (and the bulletins read from
    it) and the hazard file, as for the ladder; a later register that moves it again wins (latest version)."""
    from hazardnet.jobs.hazard_file import hazard_file
    from hazardnet.publish.consolidated import current_register
    from hazardnet.publish.fingerprint import inputs_fingerprint
    from hazardnet.publish.quarterly import Quarter, quarter_data
    from hazardnet.publish.warnings import due_warnings, warnings_on

    s, _, tmp = home
    store = Store(s.database_url)
    try:
        day = COMMITMENT_DAY  # G3's register deadline 2026-09-25 is 17 days past; G4 is 已整改
        before = inputs_fingerprint(store, s, day)
        src = write_commitment_table(tmp / "c" / "格尔木市整改承诺表.xlsx", commit_rows({"G3": COMMITTED, "G4": COMMITTED}))
        f = ingest_on(s, day, [(G, src)]).files[0]
        assert f.outcome == "commitments"
        assert [(x.cell, x.level) for x in f.findings] == [("J4", "warning")]  # G4: kept, the clerk told it is done
        assert "已整改" in f.findings[0].message
        assert inputs_fingerprint(store, s, day) != before  # the consolidated register of the day is rewritten
        assert "G3" in {w.hazard_id for w in due_warnings(store.register_as_of(day), day)}  # the register alone
        assert "G3" not in {w.hazard_id for w in warnings_on(store, day)}
        late = {w.hazard_id: w for w in warnings_on(store, D(2026, 10, 30))}["G3"]  # the commitment missed
        assert (late.deadline, late.days_overdue, late.stage) == (COMMITTED, 5, "overdue")
        ws = openpyxl.load_workbook(s.consolidated_path)["隐患台账"]  # as the ingest wrote it, opened again
        values = list(ws.iter_rows(values_only=True))
        g3 = next(dict(zip(values[0], r)) for r in values[1:] if r[values[0].index("隐患编号")] == "G3")
        assert (g3["整改期限"].date(), g3["是否逾期"], g3["逾期天数"]) == (COMMITTED, "否", None)
        assert g3["备注"] == f"整改期限为通报会承诺（{day:%Y-%m-%d}，责任人 张三）"
        frame = current_register(store, s, day).set_index("hazard_id")  # what the bulletins count from
        assert (frame.at["G3", "deadline"], bool(frame.at["G3", "overdue"])) == (COMMITTED, False)
        assert hazard_file(store, G, "G3", day)["current"]["deadline"] == COMMITTED.isoformat()
        changes = hazard_file(store, G, "G3", day)["deadline_changes"]
        assert [(c["as_of"], c["previous"], c["deadline"], c["source"], c["committed_by"]) for c in changes] == [
            ("2026-07-10", None, "2026-09-25", "台账", None),
            ("2026-10-12", "2026-09-25", "2026-10-25", "通报会承诺", "张三")]
        flags = quarter_data(store, Quarter(2026, 3), D(2026, 10, 20)).flags.set_index("hazard_id")  # the meeting's
        assert (flags.at["G3", "deadline_at_end"], flags.at["G3", "deadline"]) == (D(2026, 9, 25), COMMITTED)
        assert bool(flags.at["G3", "overdue_at_end"]) and flags.at["G3", "deadline_changes"] == 1  # 逾期督办 sheet
        # November's register moves G3 to 2026-12-31: the latest version is the current deadline everywhere
        ingest_on(s, LATE_REGISTER[1], [(G, write_register(tmp / "late" / "格尔木11月.xlsx", LATE_REGISTER[3],
                                                           LATE_REGISTER[2]))])
        assert "G3" not in {w.hazard_id for w in warnings_on(store, D(2026, 11, 10))}
        assert {w.hazard_id: w.deadline for w in warnings_on(store, D(2027, 1, 2))}["G3"] == D(2026, 12, 31)
        frame = current_register(store, s, D(2026, 11, 10)).set_index("hazard_id")
        assert frame.at["G3", "deadline"] == D(2026, 12, 31) and not isinstance(frame.at["G3", "remarks"], str)
        last = hazard_file(store, G, "G3", D(2026, 11, 10))["deadline_changes"][-1]
        assert (last["previous"], last["deadline"], last["source"]) == ("2026-10-25", "2026-12-31", "台账")
    finally:
        store.dispose()


def ingest_register_then(settings, tmp: Path, table: Path):
    """G1, G2, G3 of the story as a 格尔木市 register on 2026-10-10, then `table` (a 整改承诺表) on COMMITMENT_DAY."""
    src = write_register(tmp / "src" / "格尔木市台账.xlsx", [
        row("G1", POTASH, D(2026, 7, 1), D(2026, 8, 20)), row("G2", POTASH, D(2026, 7, 2), D(2026, 8, 15)),
        row("G3", POTASH, D(2026, 7, 3), D(2026, 9, 25))], CANON)
    assert [f.outcome for f in ingest_on(settings, D(2026, 10, 10), [(G, src)]).files] == ["accepted"]
    return ingest_on(settings, COMMITMENT_DAY, [(G, table)]).files[0]


def committed(settings) -> list[tuple]:
    store = Store(settings.database_url)
    try:
        return [(c["hazard_id"], c["committed_date"], c["person"]) for c in store.commitments_through(D(2026, 12, 31))]
    finally:
        store.dispose()


@pytest.mark.parametrize("header", ["承诺完成日期", "承诺日期", "承诺整改期限"])
def test_a_register_with_a_commitment_column_is_a_register_not_a_commitment_table(settings, tmp_path, header):
    rows = [{**row("G1", POTASH, D(2026, 9, 1), D(2026, 12, 31)), header: D(2027, 1, 31)},
            {**row("G2", HOSPITAL, D(2026, 9, 2), D(2026, 12, 31)), header: None}]
    src = write_register(tmp_path / "src" / "格尔木市台账.xlsx", rows, CANON)
    f = ingest_on(settings, D(2026, 10, 10), [(G, src)]).files[0]
    assert f.outcome == "accepted" and not [x for x in f.findings if x.level == "error"]
    store = Store(settings.database_url)
    try:
        assert sorted(store.register_as_of(D(2026, 10, 10)).hazard_id) == ["G1", "G2"]
        assert store.commitments_through(D(2026, 12, 31)) == []
    finally:
        store.dispose()
    # the quarterly workbook's own 整改承诺 sheet (户号, 隐患描述, 整改状态 and all) is still a commitment table
    table = write_commitment_table(tmp_path / "c" / "承诺表.xlsx", [
        (1, G, POTASH, "客户", "G1", "一般", "描述", "2026-12-31", "未整改", COMMITTED, "张三")])
    assert ingest_on(settings, COMMITMENT_DAY, [(G, table)]).files[0].outcome == "commitments"
    assert committed(settings) == [("G1", COMMITTED, "张三")]


def test_a_commitment_table_whose_header_is_far_down_is_recognised(settings, tmp_path):
    """A table under a dozen lines of title and notes: its header on row 12, as deep as a register's may be."""
    path = write_commitment_table(tmp_path / "c" / "承诺表.xlsx", commit_rows({"G1": COMMITTED}))
    wb = openpyxl.load_workbook(path)
    wb.active.insert_rows(1, 10)
    for r in range(1, 11):
        wb.active.cell(r, 1, f"说明第{r}条：承诺完成日期须晚于通报会日期。")
    wb.save(path)
    f = ingest_register_then(settings, tmp_path, path)
    assert f.outcome == "commitments", f.findings
    assert committed(settings) == [("G1", COMMITTED, "张三")]


def test_a_commitment_date_merged_over_a_customer_s_rows_commits_each(settings, tmp_path):
    path = write_commitment_table(tmp_path / "c" / "承诺表.xlsx", commit_rows({"G1": COMMITTED, "G2": None, "G3": None}))
    wb = openpyxl.load_workbook(path)
    for rows in ("J3:J5", "K3:K5"):  # one date and one signature for the customer's three hazards
        wb.active.merge_cells(rows)
    wb.save(path)
    f = ingest_register_then(settings, tmp_path, path)
    assert f.outcome == "commitments", f.findings
    assert committed(settings) == [("G1", COMMITTED, "张三"), ("G2", COMMITTED, "张三"), ("G3", COMMITTED, "张三")]


def test_a_commitment_date_typed_as_a_number_is_quoted_as_typed(settings, tmp_path):
    f = ingest_register_then(settings, tmp_path, write_commitment_table(tmp_path / "c" / "承诺表.xlsx",
                                                                         commit_rows({"G1": 20270131})))
    assert f.outcome == "rejected"
    assert [(x.cell, x.message, x.value) for x in f.findings] == [
        ("J3", "无法识别的日期“20270131”，请填写如 2026-03-05 的日期", "20270131")]


def test_supervision_texts_without_a_gateway_are_named_like_every_other_kind(home):
    """No SMS gateway: the deadline reminder's and the 督办建议函's texts are files in outbox/sms named
    <类别>_…_<单位>_<mobile>_<hash>.txt as their .eml are (they were sms_<mobile>_<hash>.txt)."""
    s, _, _ = home
    files = load_settings(s.home, settle_seconds=0, mail_retry_delays=[])  # no SMTP, no gateway: files
    assert files.sms_url is None and files.smtp_host is None
    out = supervision(files, D(2026, 8, 10), runner=PlainRunner()).as_json()
    assert out["reminders"] and out["letters"]
    names = sorted(p.name for p in (s.outbox / "sms").glob("*.txt"))
    assert f"整改期限提醒_20260810_格尔木市_{POTASH}_{MOBILE[POTASH]}" in {n.rsplit("_", 1)[0] for n in names}, names
    letters = [n for n in names if n.startswith("督办建议函_")]
    assert letters and all(n.split("_")[-2] in MOBILE.values() for n in letters), names
    assert f"督办建议函_{out['letters'][0]['number']}_" in "".join(letters), names
    assert not [n for n in names if n.startswith("sms_")], names
    emls = {p.name.rsplit("_", 1)[0] for p in (s.outbox / "mail").glob("*.eml")}
    for n in letters:  # each text named as the mail it goes with (the mail adds _<hash>.eml, the text _<mobile>_…)
        assert n.rsplit("_", 2)[0] in emls, (n, emls)


def test_reminders_ladder_letters_once_each(home, smtp_server, http_gateway):
    s, _, tmp = home
    store = Store(s.database_url)
    try:
        days = [D(2026, 8, 10) + dt.timedelta(days=i) for i in range((D(2026, 11, 1) - D(2026, 8, 10)).days + 1)]
        seen_letters: dict[tuple, set[str]] = {}
        for day in days:
            if day == COMMITMENT_DAY:  # the meeting's table comes back
                src = write_commitment_table(tmp / "c" / "格尔木市整改承诺表.xlsx", commit_rows({"G3": COMMITTED}))
                got = ingest_on(s, day, [(G, src)])
                assert [f.outcome for f in got.files] == ["commitments"]
                again = ingest_on(s, day, [(G, src)])  # the same table dropped twice is taken once
                assert [f.outcome for f in again.files] == ["duplicate"]
                assert [(c["hazard_id"], c["committed_date"], c["person"], c["quarter"])
                        for c in store.commitments_through(day)] == [("G3", COMMITTED, "张三", "2026Q3")]
            before_mail, before_sms = len(smtp_server.messages), len(http_gateway.messages)
            result = supervision(s, day, runner=PlainRunner(), store=store)
            out = result.as_json()
            mails = smtp_server.messages[before_mail:]
            texts = http_gateway.messages[before_sms:]
            # rungs: equal to the independent count
            assert {r["hazard_id"]: r["rung"] for r in out["rungs"]} == expected_rungs(day), day
            # reminders: exactly the hazards due, to exactly their customer, by mail and SMS
            reminder_mails = [m for m in mails if "整改期限提醒" in m.message["Subject"]]
            want = EXPECTED_REMINDERS.get(day, set())
            assert {(r["hazard_id"], r["customer_id"]) for r in out["reminders"]} == want, day
            got = set()
            for m in reminder_mails:
                (cid,) = [c for c in (POTASH, HOSPITAL, REFINERY, SODA) if MAIL[c] in m.rcpt_tos]
                assert m.rcpt_tos == [MAIL[cid]]
                got |= {(h, cid) for h in ("G1", "G2", "G3", "G4", "G5", "D1", "D2") if f"隐患编号 {h}（" in body(m)}
            assert got == want, day
            assert sorted(m for m, t in texts if "整改期限提醒" in t) == sorted(MOBILE[c] for _h, c in want)
            # letters: exactly those of the day, each to exactly its authority, attached, naming exactly its hazards
            letter_mails = [m for m in mails if "隐患督办建议函" in m.message["Subject"]]
            today = {(x["rung"], x["county"]): set(x["hazard_ids"]) for x in out["letters"] if x["issued_on"] == day}
            want_letters = {(r, c): h for (d, r, c), h in EXPECTED_LETTERS.items() if d == day}
            assert today == want_letters, day
            for (r, c), hazards in want_letters.items():
                to = {MAIL[k] for k in LETTER_TO[(r, c)]}
                mine = [m for m in letter_mails if set(m.rcpt_tos) <= to and c in m.message["Subject"]]
                assert sorted(a for m in mine for a in m.rcpt_tos) == sorted(to)
                for m in mine:
                    (name, data), = attachments(m)
                    assert name.endswith(".docx") and letter_hazard_ids(data) == hazards
                    assert all(f"隐患编号 {h}（" in body(m) for h in hazards)
                seen_letters[(day, r, c)] = hazards
                sms_to = sorted(m for m, t in texts if "隐患督办建议函" in t and f"{len(hazards)}项" in t)
                assert sms_to == sorted(MOBILE[k] for k in LETTER_TO[(r, c)])
            assert len(letter_mails) == 2 * len(want_letters)
            customers = {MAIL[c] for c in (POTASH, HOSPITAL, REFINERY, SODA)}
            assert not any(customers & set(m.rcpt_tos) for m in letter_mails)  # a customer never gets a letter
            # nothing twice: the same day again sends nothing
            again_mail, again_sms = len(smtp_server.messages), len(http_gateway.messages)
            supervision(s, day, runner=PlainRunner(), store=store)
            assert (len(smtp_server.messages), len(http_gateway.messages)) == (again_mail, again_sms), day
        assert seen_letters == EXPECTED_LETTERS
        # the letters on disk: outbox/督办/<scope>/<number>.docx, one record each in the store
        records = store.letters()
        assert len(records) == len(EXPECTED_LETTERS)
        for x in records:
            path = Path(x["path"])
            assert path.parent == s.outbox / "督办" / x["county"] and path.name == f"{x['number']}.docx"
        d_letter = next(x for x in records if x["county"] == DLH)
        doc = Document(d_letter["path"])
        rows = {r.cells[2].text: [c.text for c in r.cells] for r in doc.tables[0].rows[1:]}
        assert rows["D2"][9] == NO_INTERIM and rows["D1"][9] == "每日巡检"  # interim measure, or its absence
        assert rows["D1"][8] == "10" and rows["D2"][8] == "41"  # days overdue on 2026-08-10
        g2 = next(x for x in records if x["hazards"] == [(G, "G2")])
        cells = {r.cells[2].text: [c.text for c in r.cells] for r in Document(g2["path"]).tables[0].rows[1:]}["G2"]
        assert cells[5] == "2026-08-15" and cells[6] == "2026-10-31"  # first and current deadline
        assert cells[7].startswith("2 次") and "设备到货延迟" in cells[7] and "未说明延期原因" in cells[7]
        # the rung's date reached stays what it was
        reached = store.rungs_reached()
        assert reached[(DLH, "D1")] == {OVERDUE: D(2026, 8, 10), COUNTY: D(2026, 8, 10), PREFECTURE: D(2026, 8, 30)}
        assert reached[(G, "G3")][COUNTY] == D(2026, 10, 26)
        check_quarterly_rungs(s, store)
        check_hazard_file_letters(store)
        # the commitment is a deadline version; a later register moving it later without a reason is warned
        events = store.deadline_events(D(2026, 11, 1), [G])[(G, "G3")]
        assert deadline_history(events).current == COMMITTED
        late = ingest_on(s, LATE_REGISTER[1], [(G, write_register(tmp / "late" / "格尔木11月.xlsx", LATE_REGISTER[3],
                                                                  LATE_REGISTER[2]))])
        moved = [(f.cell, f.message) for f in late.files[0].findings if "推迟" in f.message]
        assert [c for c, _ in moved] == ["J4"] and "2026-10-25" in moved[0][1]  # G3 (row 4); G1 had a reason
        rungs = {r["hazard_id"]: r for r in supervision(s, D(2026, 11, 10), store=store, send=False).as_json()["rungs"]}
        assert (rungs["G2"]["rung"], rungs["G2"]["supervisor"]) == (COUNTY, "格尔木市能源局")  # the authority's act
        assert "G1" not in rungs  # extended with a reason: off the ladder until the new deadline passes
    finally:
        store.dispose()


def check_hazard_file_letters(store):
    """D1's file (一患一档) holds the two letters that named it, and their mails and texts, in words."""
    from hazardnet.jobs.hazard_file import hazard_file

    record = hazard_file(store, DLH, "D1", D(2026, 11, 1))
    letters = [(x["number"], x["rung_name"], x["issued_on"]) for x in record["letters"]]
    assert letters == [("德令哈市督办建议〔2026〕001号", "县级督办", "2026-08-10"),
                       ("海西州挂牌督办建议〔2026〕001号", "州级挂牌督办", "2026-08-30")]
    sent = {(m["item"], m["recipient"], m["channel_name"], m["status_name"]) for m in record["messages"]
            if m["kind_name"] == "督办建议函"}
    assert {(n, who, ch) for n, who, ch, _s in sent} == {
        (n, who, ch) for n, scope in ((letters[0][0], DLH), (letters[1][0], "海西州"))
        for who in {"德令哈市": ("德令哈市发展和改革委员会(能源局)", "国网德令哈供电公司"),
                    "海西州": ("海西州能源局", "国网海西供电公司营销部")}[scope] for ch in ("邮件", "短信")}
    assert {status for *_x, status in sent} == {"已发送"}


def check_quarterly_rungs(s, store):
    """The 2026Q3 workbook (report date 2026-10-05) and deck: each overdue hazard's rung and the day it reached
    it; the figures count the hazards that reached 县级督办 and 州级挂牌督办 in the quarter."""
    from pptx import Presentation

    from hazardnet.publish.quarterly import Quarter, quarter_data, summaries
    from hazardnet.publish.quarterly_workbook import OVERDUE, OVERVIEW, write_deck, write_quarterly_workbook
    from tests.test_quarterly import tables

    data = quarter_data(store, Quarter(2026, 3), D(2026, 10, 5))
    prefecture = summaries(data, s)[0]
    path = write_quarterly_workbook(s.outbox / "q3.xlsx", prefecture, s)
    wb = openpyxl.load_workbook(path)
    ws = wb[OVERDUE]
    header = [c.value for c in ws[2]]
    rows = {r[header.index("隐患编号")]: (r[header.index("督办层级")], r[header.index("到达日期")])
            for r in ws.iter_rows(min_row=3, values_only=True) if r[header.index("隐患编号")]}
    day = lambda v: v.date() if isinstance(v, dt.datetime) else v  # noqa: E731
    assert {k: (r, day(d)) for k, (r, d) in rows.items()} == {
        "G1": ("县级督办", D(2026, 9, 19)), "G3": ("逾期", D(2026, 9, 26)),
        "D1": ("州级挂牌督办", D(2026, 8, 30)), "D2": ("州级挂牌督办", D(2026, 9, 28))}
    figures = tables(wb[OVERVIEW])["县(市)"]
    assert (figures[G]["本季度县级督办"], figures[G]["本季度州级挂牌督办"]) == (1, 0)  # G1
    assert (figures[DLH]["本季度县级督办"], figures[DLH]["本季度州级挂牌督办"]) == (2, 2)  # D1, D2
    assert (figures["合计"]["本季度县级督办"], figures["合计"]["本季度州级挂牌督办"]) == (3, 2)
    deck = Presentation(write_deck(prefecture, s))
    cells = [[c.text for c in r.cells] for slide in deck.slides for shape in slide.shapes
             if shape.has_table and shape.name == "逾期督办" for r in shape.table.rows]
    assert any(r[2] == "D1" and r[-1] == "州级挂牌督办（2026-08-30）" for r in cells), cells


def test_rules_by_hand():
    assert rung({"status": "未整改", "severity": "一般", "deadline": D(2026, 1, 1)}, D(2026, 1, 2)) == OVERDUE
    assert rung({"status": "未整改", "severity": "重大", "deadline": D(2026, 1, 1)}, D(2026, 1, 2)) == COUNTY
    assert rung({"status": "已整改", "severity": "重大", "deadline": D(2026, 1, 1)}, D(2026, 9, 2)) is None
    assert rung({"status": "整改中", "severity": "一般", "deadline": D(2026, 1, 1)}, D(2026, 4, 1)) == PREFECTURE
    assert rung({"status": "整改中", "severity": "一般", "deadline": D(2026, 5, 1)}, D(2026, 4, 1),
                missed_commitment=True) == COUNTY
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 11)}, D(2026, 1, 1)) == 10  # its own day
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 10)}, D(2026, 1, 1)) == 10  # caught up
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 5)}, D(2026, 1, 1)) == 10
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 3)}, D(2026, 1, 1)) == 3
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 2)}, D(2026, 1, 1)) == 3
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 1)}, D(2026, 1, 1)) is None  # due today
    assert reminder_due({"status": "未整改", "deadline": D(2026, 1, 12)}, D(2026, 1, 1)) is None  # not yet
    assert reminder_due({"status": "已整改", "deadline": D(2026, 1, 5)}, D(2026, 1, 1)) is None
    h = deadline_history([DeadlineEvent(D(2026, 1, 1), D(2026, 3, 1)),
                          DeadlineEvent(D(2026, 2, 1), D(2026, 4, 1), "commitment", "通报会承诺"),
                          DeadlineEvent(D(2026, 3, 1), D(2026, 3, 1)),  # carried over: not a new version
                          DeadlineEvent(D(2026, 4, 1), D(2026, 6, 1), reason="停产")])
    assert (h.first, h.current, h.committed) == (D(2026, 3, 1), D(2026, 6, 1), D(2026, 4, 1))
    assert [c.reason for c in h.changes] == ["通报会承诺", "停产"]


def test_warnings_cli_runs_the_supervision_job_once(prefect_harness, home, smtp_server, http_gateway):
    """`hazardnet warnings --as-of D --json`: the warnings and the supervision flows; JSON lists reminders, rungs
    and letters (number, rung, county, hazard ids, path, recipients); a second run sends nothing new."""
    import json

    from tests.conftest import harness_env
    from tests.test_quarterly import run_cli

    s, _, _ = home
    env = {**harness_env(), "HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_SMS_URL": http_gateway.url(),
           "HAZARDNET_MAIL_RETRY_DELAYS": "[]"}
    proc = run_cli("warnings", "--as-of", "2026-08-10", "--home", str(s.home), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [(r["hazard_id"], r["customer_id"], r["days_before"]) for r in out["reminders"]] == [("G1", POTASH, 10)]
    assert [w["addresses"] for w in out["reminders"][0]["recipients"]] == [[MAIL[POTASH]]]
    assert {r["hazard_id"]: r["rung"] for r in out["rungs"]} == expected_rungs(D(2026, 8, 10))
    (letter,) = out["letters"]
    assert (letter["rung"], letter["county"], sorted(letter["hazard_ids"])) == (COUNTY, DLH, ["D1", "D2"])
    assert letter["number"] == "德令哈市督办建议〔2026〕001号" and Path(letter["path"]).is_file()
    assert sorted(a for w in letter["recipients"] for a in w["addresses"]) == sorted([MAIL["D_GOV"], MAIL["D_UTIL"]])
    assert {w["status"] for w in letter["recipients"]} == {"sent"}
    sent = len(smtp_server.messages), len(http_gateway.messages)
    proc = run_cli("warnings", "--as-of", "2026-08-10", "--home", str(s.home), "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (len(smtp_server.messages), len(http_gateway.messages)) == sent
    again = json.loads(proc.stdout)
    assert {w["status"] for x in again["letters"] for w in x["recipients"]} == {"skipped"}


def test_warnings_cli_runs_every_part_when_the_mail_server_is_down(prefect_harness, home, http_gateway):
    """SMTP on a closed port: the risk warnings fail, and still the re-inspection reminders and the ladder run (the
    letter is issued); every failed part is one Chinese line, the JSON names each part's failure, exit status 1."""
    import json

    from tests.conftest import harness_env
    from tests.test_quarterly import run_cli

    s, _, _ = home
    env = {**harness_env(), "HAZARDNET_SMTP_HOST": "127.0.0.1", "HAZARDNET_SMTP_PORT": "1",
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_SMS_URL": http_gateway.url(),
           "HAZARDNET_MAIL_RETRY_DELAYS": "[]"}
    proc = run_cli("warnings", "--as-of", "2026-08-10", "--home", str(s.home), "--json", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    out = json.loads(proc.stdout)
    failed = {f["part"]: f for f in out["failures"]}
    assert {"warnings", "supervision"} <= set(failed), failed
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("错误：")]
    assert len(errors) == len(failed) and any(ln.startswith("错误：风险预警：") for ln in errors), proc.stderr
    assert any(ln.startswith("错误：督办：") for ln in errors), proc.stderr
    assert {d["status"] for d in out["deliveries"]} == {"failed"}  # the warnings' deliveries are still there
    (letter,) = out["letters"]  # the ladder ran: the letter is issued, its mail failed
    assert letter["number"] == "德令哈市督办建议〔2026〕001号" and Path(letter["path"]).is_file()
    assert {w["status"] for w in letter["recipients"]} == {"failed"}
    # the human form: the same lines, the letter listed
    proc = run_cli("warnings", "--as-of", "2026-08-10", "--home", str(s.home), env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert any(ln.startswith("错误：风险预警：") for ln in proc.stderr.splitlines()), proc.stderr
    assert "：失败" in proc.stdout and "failed" not in proc.stdout  # the statuses in Chinese


def test_warnings_pdf_without_libreoffice_exits_2_after_sending(prefect_harness, home, smtp_server, http_gateway):
    """--pdf without LibreOffice: as `hazardnet bulletin --pdf`, the letters are issued and sent, then one line
    saying what to install and exit status 2."""
    from tests.conftest import harness_env
    from tests.test_quarterly import run_cli

    s, _, _ = home
    env = {**harness_env(), "HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_SMS_URL": http_gateway.url(),
           "HAZARDNET_MAIL_RETRY_DELAYS": "[]", "HAZARDNET_SOFFICE": "/nonexistent/soffice"}
    proc = run_cli("warnings", "--as-of", "2026-08-10", "--home", str(s.home), "--pdf", env=env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("错误：")]
    assert len(errors) == 1 and "apt-get install libreoffice-calc-nogui fonts-noto-cjk" in errors[0], proc.stderr
    assert "《隐患督办建议函》德令哈市督办建议〔2026〕001号" in proc.stdout
    assert any(MAIL["D_GOV"] in m.rcpt_tos for m in smtp_server.messages)


def test_a_missed_or_undelivered_reminder_is_caught_up_once(home, smtp_server, http_gateway):
    """No run on G1's reminder day (8/10, ten days ahead): the first run after it sends the reminder, saying the
    days really left; the next day's run sends nothing. On G4's day (8/15) the mail server refuses: the text goes
    out, the mail the next day (its ledger entry failed); the day after, only G1's own three-day reminder."""
    s, _, _ = home
    store = Store(s.database_url)

    def run(day):
        before_mail, before_sms = len(smtp_server.messages), len(http_gateway.messages)
        out = supervision(s, day, runner=PlainRunner(), store=store).as_json()
        mails = [m for m in smtp_server.messages[before_mail:] if "整改期限提醒" in m.message["Subject"]]
        texts = [t for _m, t in http_gateway.messages[before_sms:] if "整改期限提醒" in t]
        return [(r["hazard_id"], r["days_before"], r["days_left"]) for r in out["reminders"]], mails, texts

    try:
        reminders, mails, texts = run(D(2026, 8, 12))
        assert reminders == [("G1", 10, 8)]
        [mail] = mails
        assert "隐患编号 G1（" in body(mail) and "还有 8 天" in body(mail) and "8 天后到期" in mail.message["Subject"]
        assert mail.rcpt_tos == [MAIL[POTASH]]
        assert len(texts) == 1 and "将在8天内到期" in texts[0]

        assert run(D(2026, 8, 13)) == ([], [], [])  # delivered: not again

        smtp_server.fail_next(1)  # the one mail of the day is refused
        reminders, mails, texts = run(D(2026, 8, 15))
        assert reminders == [("G4", 10, 10)] and mails == [] and len(texts) == 1

        reminders, mails, texts = run(D(2026, 8, 16))
        assert reminders == [("G4", 10, 9)] and texts == []  # the text had gone out already
        [mail] = mails
        assert "隐患编号 G4（" in body(mail) and "还有 9 天" in body(mail) and mail.rcpt_tos == [MAIL[REFINERY]]

        reminders, mails, texts = run(D(2026, 8, 17))
        assert reminders == [("G1", 3, 3)] and len(mails) == 1 and len(texts) == 1
    finally:
        store.dispose()


def test_a_failed_re_inspection_puts_a_remediated_hazard_back_on_the_ladder(home):
    """G4 was reported 已整改 on 9/5 (deadline 8/25). The October register records its re-inspection on 10/8:
    不合格. From then on it is open everywhere as on the ladder: 47 days overdue on 10/11, so 县级督办 in
    格尔木市's letter, 逾期 是 in the consolidated register, in the open part of a bulletin, and warned about."""
    from hazardnet.publish.bulletin import Period, bulletin_sections
    from hazardnet.publish.consolidated import SHEET_COLUMNS, sheet_rows
    from hazardnet.publish.warnings import due_warnings

    s, _, tmp_path = home
    failed = dict(row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25), status="已整改", completed=D(2026, 9, 5)),
                  复查日期=D(2026, 10, 8), 复查人="李工", 复查结论="不合格")
    rows = [{**r, "复查日期": None, "复查人": None, "复查结论": None} for r in REGISTERS[3][3] if r["隐患编号"] != "G4"]
    src = write_register(tmp_path / "src" / "格尔木市202610台账.xlsx", [*rows, failed], CANON)
    result = ingest_on(s, D(2026, 10, 10), [(G, src)])
    assert [f.outcome for f in result.files] == ["accepted"]
    store = Store(s.database_url)
    day = D(2026, 10, 11)
    try:
        out = supervision(s, day, runner=PlainRunner(), store=store).as_json()
        g4 = [r for r in out["rungs"] if r["hazard_id"] == "G4"]
        assert [(r["rung"], r["days_overdue"]) for r in g4] == [(COUNTY, 47)]
        assert any(x["rung"] == COUNTY and x["county"] == G and "G4" in x["hazard_ids"] for x in out["letters"])

        at = {n: i for i, n in enumerate(SHEET_COLUMNS)}

        def g4_in_register(as_of):  # (阶段, 逾期, 逾期天数, the overdue flag) of G4's consolidated row
            sheet, overdue = sheet_rows(store, s, as_of, [G])
            [(r, late)] = [(r, o) for r, o in zip(sheet, overdue) if r[at["hazard_id"]] == "G4"]
            assert r[at["status"]] == "已整改"
            return r[-7], r[-5], r[-4], late

        assert g4_in_register(day) == ("整改中", "是", 47, True)
        assert g4_in_register(D(2026, 10, 7)) == ("待复查", "否", None, False)  # before the re-inspection

        register = store.register_as_of(day)
        sections = bulletin_sections(rules_derived(register, day), Period(2026, 10))
        assert "G4" in set(sections.open["hazard_id"]) and "G4" not in set(sections.done["hazard_id"])
        from hazardnet.delivery.directory import Recipient
        from hazardnet.publish.bulletin import write_bulletin_workbook

        utility = Recipient("供电企业", G, None, "国网格尔木供电公司", (), ())
        book = write_bulletin_workbook(tmp_path / "通报.xlsx", bulletin_sections(
            rules_derived(register[register["county"] == G], day), Period(2026, 10)),
            recipient=utility, period=Period(2026, 10), as_of=day, settings=s)
        cells = [r for r in openpyxl.load_workbook(book).worksheets[0].iter_rows(values_only=True)]
        assert [r[1] for r in cells if r[0] == "复查不合格，须重新整改"] == [1]  # the status table
        assert "G4" in {w.hazard_id for w in due_warnings(register, day)}
    finally:
        store.dispose()


def rules_derived(register, day):
    from hazardnet.rules import with_derived

    return with_derived(register, day)


def _letter_text(path: Path) -> str:
    return "\n".join(p.text for p in Document(str(path)).paragraphs)


def _hazard(hid: str, notice_date: dt.date | None, county: str = G) -> LetterHazard:
    return LetterHazard(county, POTASH, CUSTOMER[POTASH][0], hid, "一般", f"{hid}：配电室柜体绝缘老化", D(2026, 2, 22),
                        D(2026, 2, 22), (), 289, None, "逾期 289 天", notice_date)


def test_a_letter_says_written_notice_only_when_every_hazard_had_one(tmp_path):
    s = load_settings(tmp_path)
    every = LetterDraft("格尔木市督办建议〔2026〕001号", COUNTY, G, D(2026, 12, 8),
                        [_hazard("G1", D(2026, 1, 5)), _hazard("G2", D(2026, 1, 6))], D(2026, 12, 23))
    text = _letter_text(write_letter(tmp_path / "every.docx", every, s))
    assert "已书面告知并多次督促" in text and "尚未书面告知" not in text
    some = LetterDraft("格尔木市督办建议〔2026〕002号", COUNTY, G, D(2026, 12, 8),
                       [_hazard("G1", D(2026, 1, 5)), _hazard("G2", None), _hazard("G3", None)], D(2026, 12, 23))
    text = _letter_text(write_letter(tmp_path / "some.docx", some, s))
    assert "已书面告知" not in text
    assert "其中 2 项尚未书面告知客户（隐患编号 G2、G3）" in text
    none = LetterDraft("格尔木市督办建议〔2026〕003号", COUNTY, G, D(2026, 12, 8), [_hazard("G2", None)], D(2026, 12, 23))
    text = _letter_text(write_letter(tmp_path / "none.docx", none, s))
    assert "已书面告知" not in text and "均尚未书面告知客户" in text
    _subject, body = letter_mail(some, "国网格尔木供电公司", False, s)
    lines = [line for line in body.splitlines() if "整改期限 2026-02-22" in line]
    assert len(lines) == 3 and all(line.count("逾期 289 天") == 1 for line in lines)  # once, not twice
    assert "2026-01-05 书面告知" in lines[0] and "尚未书面告知" in lines[1]
    assert "用电安全隐患，建议县级督办" in letter_sms(some)


def test_a_letter_names_the_directory_organisations_and_never_copies_its_signer(tmp_path):
    s = load_settings(tmp_path)
    names = [Recipient("政府主管部门", G, None, "格尔木市发展和改革委员会(能源局)", (), ()),
             Recipient("供电企业", G, None, "国网格尔木供电公司", (), ()),
             Recipient("政府主管部门", None, None, "海西州能源局", (), ()),
             Recipient("供电企业", None, None, "国网海西供电公司营销部", (), ())]
    county = LetterDraft("格尔木市督办建议〔2026〕001号", COUNTY, G, D(2026, 12, 8), [_hazard("G1", None)], D(2026, 12, 23))
    text = _letter_text(write_letter(tmp_path / "g.docx", county, s, names))
    assert "格尔木市发展和改革委员会(能源局)：" in text and "抄送：国网格尔木供电公司" in text
    assert "格尔木市政府主管部门" not in text and "格尔木市供电公司" not in text
    text = _letter_text(write_letter(tmp_path / "d.docx", county, s, names[2:]))  # no 格尔木 rows: the generic names
    assert "格尔木市政府主管部门（能源主管部门）：" in text and "抄送：格尔木市供电公司" in text
    prefecture = LetterDraft("海西州挂牌督办建议〔2026〕001号", PREFECTURE, "海西州", D(2026, 12, 8),
                             [_hazard("G1", None)], D(2026, 12, 23))
    text = _letter_text(write_letter(tmp_path / "p.docx", prefecture, s, names))
    assert "海西州能源局：" in text and "抄送" not in text  # the signer (国网海西供电公司…) is not copied
    assert s.company in text


def test_a_prefecture_letter_lists_its_hazards_in_the_configured_county_order(settings):
    """乌兰县 is after 德令哈市 in the configured counties (though 乌 < 德 in character code): the prefecture letter, its
    mail and the county letters follow the configured order."""
    from tests.test_quarterly import H, frame

    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home)
    ulan = "乌兰县"
    assert s.counties.index(DLH) < s.counties.index(ulan) and ulan < DLH
    store = Store(s.database_url)
    try:
        for n, (county, hid) in enumerate(((ulan, "U1"), (DLH, "D1")), start=1):
            rows = frame([H(hid, "0630200001", D(2026, 5, 1), "重大", deadline=D(2026, 6, 1))])
            store.record_submission(county=county, file_name=f"{county}.xlsx", sha256=f"{n:064x}",
                                    as_of=D(2026, 6, 10), outcome="accepted", findings=[], kept_at=None, rows=rows)
        out = supervision(s, D(2026, 9, 15), runner=PlainRunner(), store=store, send=False).as_json()
    finally:
        store.dispose()
    [pref] = [x for x in out["letters"] if x["rung"] == PREFECTURE]
    assert pref["hazards"] == [{"county": DLH, "hazard_id": "D1"}, {"county": ulan, "hazard_id": "U1"}]
    table = Document(pref["path"]).tables[0]
    assert [r.cells[2].text for r in table.rows[1:]] == ["D1", "U1"]
    assert [x["county"] for x in out["letters"] if x["rung"] == COUNTY] == [DLH, ulan]


# ---- a blank 整改期限: the last date given stays in force, everywhere ---------------------------------------------
BLANKED_JULY = [row("G1", POTASH, D(2026, 7, 1), D(2026, 8, 20)),
                row("G2", POTASH, D(2026, 7, 2), None, "重大"),  # never given a deadline
                row("G3", HOSPITAL, D(2026, 7, 3), D(2026, 9, 25)),
                row("G4", REFINERY, D(2026, 7, 4), D(2026, 8, 25))]
BLANKED_AUGUST = [row("G1", POTASH, D(2026, 7, 1), None),  # blank this time: 2026-08-20 stays
                  row("G2", POTASH, D(2026, 7, 2), None, "重大"),
                  row("G3", HOSPITAL, D(2026, 7, 3), None),  # blank this time: 2026-09-25 stays
                  row("G4", REFINERY, D(2026, 7, 4), None, status="已整改", completed=D(2026, 8, 5))]


def test_a_blank_deadline_keeps_the_last_date_given_in_every_output(settings, tmp_path):
    """August's register leaves 整改期限 blank where July's gave a date: the clerk is warned at each such cell (not for
    a hazard never given one, nor for one 已整改), and the consolidated register (its 备注 saying why), the bulletins'
    frame, the warnings, the ladder, the quarterly flags, the hazard file and the notices all keep July's date."""
    from hazardnet.jobs.hazard_file import hazard_file
    from hazardnet.jobs.notices import notices
    from hazardnet.jobs.supervision import hazard_states
    from hazardnet.publish.consolidated import current_register
    from hazardnet.publish.quarterly import Quarter, quarter_data
    from hazardnet.publish.warnings import ESCALATED, NO_DEADLINE, warnings_on

    july = write_register(tmp_path / "src" / "格尔木7月.xlsx", BLANKED_JULY, CANON)
    assert [f.outcome for f in ingest_on(settings, D(2026, 7, 10), [(G, july)]).files] == ["accepted"]
    august = write_register(tmp_path / "src" / "格尔木8月.xlsx", BLANKED_AUGUST, CANON)
    f = ingest_on(settings, D(2026, 8, 10), [(G, august)]).files[0]
    assert f.outcome == "accepted"
    blank = {x.cell: x.message for x in f.findings if "未填写整改期限" in x.message}
    assert set(blank) == {"J2", "J4"}  # G1, G3; not G2 (never had one), not G4 (已整改)
    assert all(x.level == "warning" and x.sheet == "隐患台账" and x.field == "整改期限"
               for x in f.findings if x.cell in blank)
    assert "隐患“G1”本次未填写整改期限，此前台账的整改期限 2026-08-20 仍然有效" in blank["J2"]
    assert "2026-09-25 仍然有效" in blank["J4"]

    ws = openpyxl.load_workbook(settings.consolidated_path)["隐患台账"]  # as the ingest wrote it, opened again
    values = list(ws.iter_rows(values_only=True))
    sheet = {r[values[0].index("隐患编号")]: dict(zip(values[0], r)) for r in values[1:]}
    assert sheet["G1"]["整改期限"].date() == D(2026, 8, 20)
    assert sheet["G1"]["备注"] == "本期台账未填写整改期限，沿用2026-07-10台账的整改期限"
    assert (sheet["G2"]["整改期限"], sheet["G2"]["备注"]) == (None, None)  # still 未明确整改期限

    day = D(2026, 9, 25)
    store = Store(settings.database_url)
    try:
        frame = current_register(store, settings, day).set_index("hazard_id")  # what the bulletins count from
        assert (frame.at["G1", "deadline"], bool(frame.at["G1", "overdue"]), frame.at["G1", "days_overdue"]) == (
            D(2026, 8, 20), True, 36)
        assert (frame.at["G3", "deadline"], bool(frame.at["G3", "overdue"])) == (D(2026, 9, 25), False)
        assert frame.at["G2", "deadline"] is None
        warned = {w.hazard_id: (w.stage, w.deadline, w.days_overdue) for w in warnings_on(store, day)}
        assert warned == {"G1": (ESCALATED, D(2026, 8, 20), 36), "G2": (NO_DEADLINE, None, None)}
        ladder = {s.hazard.hazard_id: (s.hazard.deadline, s.rung) for s in hazard_states(store, settings, day)}
        assert ladder["G1"] == (D(2026, 8, 20), COUNTY) and ladder["G3"] == (D(2026, 9, 25), None)
        assert ladder["G2"] == (None, None)
        flags = quarter_data(store, Quarter(2026, 3), D(2026, 10, 10)).flags.set_index("hazard_id")
        assert (flags.at["G1", "deadline_at_end"], bool(flags.at["G1", "overdue_at_end"])) == (D(2026, 8, 20), True)
        assert (flags.at["G3", "deadline_at_end"], bool(flags.at["G3", "overdue_at_end"])) == (D(2026, 9, 25), True)
        assert hazard_file(store, G, "G1", day)["current"]["deadline"] == "2026-08-20"
    finally:
        store.dispose()

    issued = {n["customer_id"]: n["path"] for n in notices(settings, D(2026, 8, 12)).notices}
    for cid, expected in ((POTASH, {"G1": "2026年8月20日", "G2": "未明确"}), (HOSPITAL, {"G3": "2026年9月25日"})):
        for table in Document(issued[cid]).tables:  # both copies
            assert {r.cells[1].text: r.cells[5].text for r in table.rows[1:]} == expected


def test_a_register_without_a_deadline_column_keeps_the_dates_given_with_one_warning(settings, tmp_path):
    july = write_register(tmp_path / "src" / "格尔木7月.xlsx", BLANKED_JULY, CANON)
    ingest_on(settings, D(2026, 7, 10), [(G, july)])
    rows = [{k: v for k, v in r.items() if k != "整改期限"} for r in BLANKED_AUGUST]
    f = ingest_on(settings, D(2026, 8, 10), [(G, write_register(tmp_path / "src" / "格尔木8月.xlsx", rows, CANON))])
    assert f.files[0].outcome == "accepted"
    carried = [x for x in f.files[0].findings if "没有整改期限列" in x.message]
    assert [(x.cell, x.level) for x in carried] == [("", "warning")]
    assert "G1（2026-08-20）、G3（2026-09-25）沿用此前的整改期限" in carried[0].message


def test_a_notice_prints_the_current_deadline_and_notes_a_meeting_commitment(settings, tmp_path):
    """A notice issued after the meeting prints the committed date, not the register's, with a note in both copies
    and in the mail."""
    from hazardnet.jobs.notices import current_hazards, notice_of, notices
    from hazardnet.publish.notice import notice_letter

    table = write_commitment_table(tmp_path / "c" / "格尔木市整改承诺表.xlsx", commit_rows({"G3": COMMITTED}))
    assert ingest_register_then(settings, tmp_path, table).outcome == "commitments"
    made = notices(settings, COMMITMENT_DAY).notices
    assert [n["hazard_ids"] for n in made] == [["G1", "G2", "G3"]]
    doc = Document(made[0]["path"])
    for t in doc.tables:
        assert {r.cells[1].text: r.cells[5].text for r in t.rows[1:]} == {
            "G1": "2026年8月20日（已逾期）", "G2": "2026年8月15日（已逾期）", "G3": "2026年10月25日"}
    note = f"注：隐患 G3：整改期限为通报会承诺（{COMMITMENT_DAY:%Y-%m-%d}，责任人 张三）。"
    assert [p.text for p in doc.paragraphs if p.text.startswith("注：")] == [note, note]
    store = Store(settings.database_url)
    try:
        by_key = {(h["county"], str(h["hazard_id"])): h for h in current_hazards(store, COMMITMENT_DAY)}
        record = store.notices_list(issued_until=COMMITMENT_DAY)[0]
    finally:
        store.dispose()
    body = notice_letter(notice_of(record, by_key), []).body
    assert f"整改期限：2026年10月25日，整改期限为通报会承诺（{COMMITMENT_DAY:%Y-%m-%d}，责任人 张三）" in body
