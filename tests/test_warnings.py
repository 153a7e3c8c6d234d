"""Risk warnings: once when the deadline passes, again 30 days later, major hazards without a deadline —
sent through a real SMTP server on loopback, each (warning, recipient) once, whatever happens to the run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from hazardnet.delivery.ledger import DeliveryLedger
from hazardnet.delivery.mail import EmlFileTransport, SmtpTransport
from hazardnet.publish.consolidated import current_register
from hazardnet.publish.quarterly import Quarter, quarter_data
from hazardnet.publish.warnings import ESCALATED, NO_DEADLINE, OVERDUE, warnings_on
from tests.jobs import warnings_job
from hazardnet.settings import load_settings
from hazardnet.store import Store
from schemas.directory_headers import DIRECTORY_HEADERS
from tests.smtp_server import smtp_server  # noqa: F401  (the fixture)
from tests.test_quarterly import STORY, H, frame, load_story

D = dt.date
G = "格尔木市"

# 户号 → addresses; the potash plant has two people on the directory.
POTASH = ("dianqi@potash.example.cn", "anquan@potash.example.cn")
HOSPITAL = ("houqin@hospital.example.cn",)
REFINERY = ("shebei@refinery.example.cn",)
GOV = ("anquan@golmud-energy.example.cn",)
PREF_GOV = ("anquan@haixi-energy.example.cn",)
UTILITY = ("yongjian@golmud-power.example.cn",)
DLH_GOV = ("anquan@delingha-energy.example.cn",)
SODA = ("dianqi@soda.example.cn",)


def write_directory_file(path: Path, rows: list[tuple]) -> Path:
    """A hand-kept 通讯录.xlsx: DIRECTORY_HEADERS on row 1, one row per unit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "通讯录"
    ws.append(list(DIRECTORY_HEADERS))
    for r in rows:
        ws.append(list(r))
    for row in ws.iter_rows(min_row=2):
        row[2].number_format = "@"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


DIRECTORY = [
    ("政府主管部门", "全州", None, "海西州能源局", "李局", PREF_GOV[0], None),
    ("供电企业", "全州", None, "国网海西供电公司营销部", "王工", "yingxiao@haixi-power.example.cn", None),
    ("政府主管部门", G, None, "格尔木市发展和改革委员会(能源局)", "赵科", GOV[0], None),
    ("供电企业", G, None, "国网格尔木供电公司", "钱工", UTILITY[0], None),
    ("用电客户", G, "0630100001", "青海盐湖钾肥股份有限公司", "孙工", "；".join(POTASH), None),
    ("用电客户", G, "0630100002", "格尔木市人民医院", "周工", HOSPITAL[0], None),
    ("用电客户", G, "0630100003", "格尔木炼油厂", "吴工", REFINERY[0], None),
    ("政府主管部门", "德令哈市", None, "德令哈市发展和改革委员会(能源局)", "郑科", DLH_GOV[0], None),
    ("用电客户", "德令哈市", "0630200001", "德令哈纯碱厂", "冯工", SODA[0], None),
]


def submit(store: Store, county: str, as_of: dt.date, rows: list[dict], n: int) -> None:
    store.record_submission(county=county, file_name=f"{county}{as_of}.xlsx", sha256=f"{n:064x}", as_of=as_of,
                            outcome="accepted", findings=[], kept_at=None, rows=frame(rows))


# W1: the potash plant's major hazard, due 2026-08-01. W2: the refinery's major hazard with no deadline.
# W3: the hospital's ordinary hazard with no deadline (not warned). W4: done (not warned).
REGISTER = [
    H("W1", "0630100001", D(2026, 7, 1), "重大", "供电电源", deadline=D(2026, 8, 1), supervised="是"),
    H("W2", "0630100003", D(2026, 7, 3), "重大", "运行管理"),
    H("W3", "0630100002", D(2026, 7, 4)),
    H("W4", "0630100002", D(2026, 7, 5), status="已整改", deadline=D(2026, 7, 20), completed=D(2026, 7, 15)),
]


@pytest.fixture
def home(settings, smtp_server):
    """A home with the register above and the directory, its settings pointing at the loopback server."""
    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none",
                      settle_seconds=0)
    write_directory_file(s.directory_file, DIRECTORY)
    store = Store(s.database_url)
    submit(store, G, D(2026, 7, 10), REGISTER, 1)
    yield s, store
    store.dispose()


def hazard_ids(message) -> set[str]:
    body = message.message.get_body(("plain",)).get_content()
    return {h for h in ("W1", "W2", "W3", "W4", "G1", "G7", "D3") if f"隐患编号：{h}" in body}


def by_address(server) -> dict[str, list[set[str]]]:
    """Address → the hazard ids of each message it received."""
    out: dict[str, list[set[str]]] = {}
    for m in server.messages:
        for rcpt in m.rcpt_tos:
            out.setdefault(rcpt, []).append(hazard_ids(m))
    return out


def run(s, store, day, retries=0):
    return warnings_job(s, store, day, SmtpTransport(s), retries=retries)


def test_stages(home):
    s, store = home
    assert warnings_on(store, D(2026, 7, 31)) and {w.hazard_id: w.stage for w in warnings_on(store, D(2026, 7, 31))} == {
        "W2": NO_DEADLINE}
    assert {w.hazard_id: w.stage for w in warnings_on(store, D(2026, 8, 1))} == {"W2": NO_DEADLINE}  # due today
    stages = {w.hazard_id: (w.stage, w.days_overdue) for w in warnings_on(store, D(2026, 8, 2))}
    assert stages == {"W1": (OVERDUE, 1), "W2": (NO_DEADLINE, None)}
    assert {w.hazard_id: w.stage for w in warnings_on(store, D(2026, 8, 30))}["W1"] == OVERDUE
    assert {w.hazard_id: w.stage for w in warnings_on(store, D(2026, 8, 31))}["W1"] == ESCALATED  # 30 days overdue


def test_once_then_escalation_then_new_deadline(home, smtp_server):
    s, store = home
    result = run(s, store, D(2026, 8, 2))
    got = by_address(smtp_server)
    # customers get only their own hazards; the county authority gets its county's; nobody else
    assert got == {POTASH[0]: [{"W1"}], POTASH[1]: [{"W1"}], REFINERY[0]: [{"W2"}], GOV[0]: [{"W1", "W2"}]}
    assert {d["recipient"]: d["status"] for d in result["deliveries"]} == {
        "格尔木市发展和改革委员会(能源局)": "sent", "青海盐湖钾肥股份有限公司": "sent", "格尔木炼油厂": "sent"}
    potash = smtp_server.messages_to(POTASH[0])[0]
    assert potash.rcpt_tos == list(POTASH)  # one message for both of the plant's addresses
    msg = potash.message
    assert "风险预警" in msg["subject"] and "青海盐湖钾肥股份有限公司" in msg["subject"]
    assert "逾期 1 天" in msg.get_body(("plain",)).get_content()

    # the same day again, and the next days: nothing new
    for day in (D(2026, 8, 2), D(2026, 8, 3), D(2026, 8, 30)):
        again = run(s, store, day)
        assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    assert len(smtp_server.messages) == 3

    # 30 days overdue: escalation to the plant, the county authority and the prefecture authority
    smtp_server.reset()
    run(s, store, D(2026, 8, 31))
    assert by_address(smtp_server) == {POTASH[0]: [{"W1"}], POTASH[1]: [{"W1"}], GOV[0]: [{"W1"}],
                                       PREF_GOV[0]: [{"W1"}]}
    assert "升级" in smtp_server.messages_to(PREF_GOV[0])[0].message["subject"]
    smtp_server.reset()
    run(s, store, D(2026, 9, 1))
    run(s, store, D(2026, 10, 1))
    assert smtp_server.messages == []

    # an agreed extension: the new deadline passing is a new warning
    rows = [dict(r) for r in REGISTER]
    rows[0] = H("W1", "0630100001", D(2026, 7, 1), "重大", "供电电源", "整改中", D(2026, 10, 15), supervised="是")
    submit(store, G, D(2026, 9, 5), rows, 2)
    run(s, store, D(2026, 10, 15))
    assert smtp_server.messages == []
    run(s, store, D(2026, 10, 16))
    assert by_address(smtp_server) == {POTASH[0]: [{"W1"}], POTASH[1]: [{"W1"}], GOV[0]: [{"W1"}]}

    entries = DeliveryLedger(store).entries(kind="warning")
    keys = {(e.period, e.recipient_key) for e in entries}
    assert len(keys) == len(entries)  # one ledger row per (warning, recipient)
    assert all(e.is_delivered for e in entries)
    assert sum(1 for e in entries if e.period.startswith(f"{G}|W1|")) == 2 + 3 + 2  # recipients, not addresses


def test_refused_address_gets_it_on_the_next_run_and_nobody_twice(home, smtp_server):
    s, store = home
    smtp_server.refuse(POTASH[1])
    first = run(s, store, D(2026, 8, 2))
    potash = next(d for d in first["deliveries"] if d["customer_id"] == "0630100001")
    assert potash["status"] == "failed" and POTASH[1] in potash["error"]
    assert [m.rcpt_tos for m in smtp_server.messages_to(POTASH[0])] == [[POTASH[0]]]
    message_id = smtp_server.messages_to(POTASH[0])[0].message["message-id"]

    smtp_server.accept(POTASH[1])
    smtp_server.reset()
    second = run(s, store, D(2026, 8, 3))
    assert [m.rcpt_tos for m in smtp_server.messages] == [[POTASH[1]]]  # only the one that missed it
    assert smtp_server.messages[0].message["message-id"] == message_id  # the same message, recognisably
    assert {d["status"] for d in second["deliveries"]} == {"sent", "skipped"}
    smtp_server.reset()
    run(s, store, D(2026, 8, 4))
    assert smtp_server.messages == []


def test_temporary_failures_and_dropped_connections_are_retried_without_duplicates(home, smtp_server):
    s, store = home
    smtp_server.fail_next(1, code=421)
    smtp_server.drop_next(1)
    result = run(s, store, D(2026, 8, 2), retries=2)
    assert {d["status"] for d in result["deliveries"]} == {"sent"}
    assert any(t["outcome"] == "dropped" for t in smtp_server.transactions)
    assert any(t["outcome"].startswith("421") for t in smtp_server.transactions)
    got = by_address(smtp_server)
    assert all(len(v) == 1 for v in got.values()) and set(got) == {*POTASH, REFINERY[0], GOV[0]}

    # retries exhausted: reported as failed, delivered on the next run, once
    smtp_server.reset()
    store2_day = D(2026, 8, 31)
    smtp_server.fail_next(10, code=421)
    failed = run(s, store, store2_day, retries=1)
    statuses = {d["recipient"]: d["status"] for d in failed["deliveries"]}
    assert statuses == {"青海盐湖钾肥股份有限公司": "failed", "格尔木市发展和改革委员会(能源局)": "failed",
                        "海西州能源局": "failed", "格尔木炼油厂": "skipped"}  # W2 was warned before
    smtp_server.reset()
    ok = run(s, store, store2_day)
    assert sorted(d["status"] for d in ok["deliveries"]) == ["sent", "sent", "sent", "skipped"]
    assert all(len(v) == 1 for v in by_address(smtp_server).values())


def test_without_a_mail_server_warnings_are_eml_files(home):
    s, store = home
    s = load_settings(s.home, smtp_host=None)
    result = warnings_job(s, store, D(2026, 8, 2), EmlFileTransport(s.outbox / "mail"))
    assert {d["status"] for d in result["deliveries"]} == {"written"}
    files = sorted((s.outbox / "mail").glob("风险预警_*.eml"))
    assert len(files) == 3
    again = warnings_job(s, store, D(2026, 8, 2), EmlFileTransport(s.outbox / "mail"))
    assert {d["status"] for d in again["deliveries"]} == {"skipped"}
    assert len(list((s.outbox / "mail").glob("*.eml"))) == 3


def test_overdue_is_the_same_everywhere(settings):
    """Warnings, the consolidated register and the quarterly summary agree on what is overdue."""
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    load_story(store)
    for day in (D(2026, 7, 31), D(2026, 8, 25), D(2026, 9, 30), D(2026, 10, 20)):
        reg = current_register(store, settings, day)
        overdue = {(r["county"], r["hazard_id"]): int(r["days_overdue"]) for r in reg[reg["overdue"]].to_dict("records")}
        warned = {(w.county, w.hazard_id): w.days_overdue for w in warnings_on(store, day) if w.stage != NO_DEADLINE}
        assert warned == overdue, day
    q3 = quarter_data(store, Quarter(2026, 3), D(2026, 9, 30)).flags
    at_end = {(r["county"], r["hazard_id"]) for r in q3[q3["overdue_at_end"]].to_dict("records")}
    assert at_end == {(w.county, w.hazard_id) for w in warnings_on(store, D(2026, 9, 30)) if w.stage != NO_DEADLINE}
    store.dispose()


def test_warnings_flow_publishes_and_fails_naming_the_unserved(prefect_harness, home, smtp_server, monkeypatch):
    from flows.warnings import warnings_flow

    s, store = home
    for k, v in {"HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
                 "HAZARDNET_SMTP_SECURITY": "none"}.items():
        monkeypatch.setenv(k, v)
    state = warnings_flow(home=str(s.home), as_of="2026-08-02", return_state=True)
    assert state.is_completed()
    result = state.result()
    assert len(result["warnings"]) == 2 and {d["status"] for d in result["deliveries"]} == {"sent"}
    assert len(smtp_server.messages) == 3
    from tests.test_ingest_flow import read_back

    _, tasks, artifacts = read_back(state.state_details.flow_run_id)
    assert {"risk-warnings", "warning-deliveries"} <= {a.key for a in artifacts}
    assert any(t.name.startswith("发送风险预警：格尔木市") for t in tasks)

    smtp_server.refuse(GOV[0])
    state = warnings_flow(home=str(s.home), as_of="2026-08-31", return_state=True)
    assert state.is_failed()
    assert "格尔木市发展和改革委员会(能源局)" in state.message or GOV[0] in str(state.result(raise_on_failure=False))
    assert len(smtp_server.messages_to(PREF_GOV[0])) == 1


def test_deployment_schedules():
    from flows.quarterly import deployments as quarterly_deployments
    from flows.warnings import deployments as warning_deployments

    [q] = quarterly_deployments("/srv/hazardnet")
    [w] = warning_deployments("/srv/hazardnet")
    assert q.schedules[0].schedule.cron == "0 8 5 1,4,7,10 *"
    assert str(q.schedules[0].schedule.timezone) == "Asia/Shanghai"
    assert w.schedules[0].schedule.cron == "0 9 * * *"
    assert str(w.schedules[0].schedule.timezone) == "Asia/Shanghai"
    assert q.parameters["home"] == w.parameters["home"] == "/srv/hazardnet"


def test_the_console_lists_counties_in_the_configured_order_and_says_what_the_reminders_count(home, capsys):
    """乌兰县 comes after 格尔木市 in the configured order (not in character-code order, 乌 < 格); the re-inspection
    reminders are headed by what they count, so they are not read as the quarter's 季末待复查."""
    from hazardnet.cli.quarterly_commands import print_warnings
    from hazardnet.jobs.reminders import reminders

    s, store = home
    ulan = "乌兰县"
    assert s.counties.index(G) < s.counties.index(ulan) and ulan < G
    submit(store, ulan, D(2026, 7, 10), [
        H("U1", "0630100001", D(2026, 7, 1), "重大", "供电电源", deadline=D(2026, 8, 1)),
        H("U2", "0630100002", D(2026, 7, 2), status="已整改", deadline=D(2026, 7, 20), completed=D(2026, 7, 12))], 2)
    day = D(2026, 8, 2)
    result = warnings_job(s, store, day, EmlFileTransport(s.outbox / "mail"))
    result["reinspection"] = reminders(s, day, store=store).as_json()
    print_warnings(result, s.counties)
    lines = capsys.readouterr().out.splitlines()
    warned = [line.split()[0] for line in lines if line.startswith("  ") and line.split()[0] in s.counties]
    due = [line.split()[1] for line in lines if line.startswith("  隐患待复查提醒 ")]
    assert (warned, due) == ([G, G, ulan], [G, ulan]), lines  # W2, W1, U1; W4, U2
    head = "".join(lines)
    assert "复查提醒：截至 2026-08-02 已整改超过 10 天仍无复查合格记录的隐患 2 项（各县(市)当前台账中的全部隐患，不限季度" in head


def test_the_mail_lists_counties_in_the_configured_order_other_counties_last(settings, smtp_server):  # noqa: F811
    """The prefecture authority's escalation mail, as the SMTP server received it, lists the counties in the
    configured order — here the reverse of character-code order (乌 < 德 < 格) — and counties the configuration
    does not name (a register kept from before) after them, by name (大 < 茫)."""
    counties = ["格尔木市", "乌兰县", "德令哈市"]
    assert sorted(counties) == ["乌兰县", "德令哈市", "格尔木市"]
    s = load_settings(settings.home, counties=counties, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                      smtp_security="none", settle_seconds=0)
    write_directory_file(s.directory_file, [DIRECTORY[0]])  # 海西州能源局: every county's escalations
    store = Store(s.database_url)
    try:
        registers = [("茫崖市", "M1"), ("德令哈市", "D1"), ("大柴旦行政区", "C1"), ("乌兰县", "U1"), (G, "G1")]
        for n, (county, hid) in enumerate(registers, start=1):
            submit(store, county, D(2026, 7, 10), [
                H(hid, "0630100001", D(2026, 6, 1), "重大", "供电电源", deadline=D(2026, 7, 1))], n)
        result = run(s, store, D(2026, 8, 15))  # 45 days past the deadline: every one escalated
    finally:
        store.dispose()
    expected = ["G1", "U1", "D1", "C1", "M1"]
    assert [w["hazard_id"] for w in result["warnings"]] == expected  # the run's list (artifact, console, --json)
    [mail] = smtp_server.messages_to(PREF_GOV[0])
    body = mail.message.get_body(("plain",)).get_content()
    listed = [line.split("】")[1].split()[0] for line in body.splitlines() if line[:1].isdigit() and "】" in line]
    assert listed == ["格尔木市", "乌兰县", "德令哈市", "大柴旦行政区", "茫崖市"], body
    assert sorted(expected, key=lambda h: body.index(f"隐患编号：{h}；")) == expected
