"""SMS: risk warnings by text message through real gateways on loopback (an HTTP JSON gateway and an SMPP
server behind Apprise's smpp:// plugin), each (warning, recipient, channel) once, whatever the gateway does;
secrets of the URL never shown; the ledger of a store made before SMS migrated."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from hazardnet.delivery.sms import (SMS_MAX_CHARS, AppriseSmsTransport, OutgoingSms, PermanentSmsError,
                                    SmsFileTransport, make_sms_transport, redact_url)
from hazardnet.delivery.ledger import DeliveryLedger
from hazardnet.delivery.mail import EmlFileTransport
from tests.jobs import bulletin_job, grid_warning_job, warnings_job
from hazardnet.settings import load_settings
from hazardnet.store import Store, migrate_channel

from .postgres import pg_url  # noqa: F401  (the fixture)
from .sms_gateways import http_gateway, smpp_gateway  # noqa: F401  (the fixtures)
from .smtp_server import smtp_server  # noqa: F401  (the fixture)
from .test_warnings import DIRECTORY, REGISTER, submit, write_directory_file

D = dt.date
G = "格尔木市"
# mobiles as people write them → the number the gateway must see
WRITTEN = {
    "海西州能源局": ("+86 139-0977-0001", "13909770001"),
    "格尔木市发展和改革委员会(能源局)": ("139 7900 0002", "13979000002"),
    "国网格尔木供电公司": ("０９７９－８４１２３４５", None),  # a landline: a warning, no SMS
    "青海盐湖钾肥股份有限公司": ("１３９７９０００００３", "13979000003"),
    "格尔木市人民医院": ("0086 13979000004", "13979000004"),
    "格尔木炼油厂": ("(+86)139.7900.0005", "13979000005"),
    "德令哈纯碱厂": ("13979000006", "13979000006"),
}
MOBILE = {org: normalized for org, (_, normalized) in WRITTEN.items() if normalized}
POTASH, REFINERY, GOV, PREF_GOV = (MOBILE[k] for k in ("青海盐湖钾肥股份有限公司", "格尔木炼油厂",
                                                      "格尔木市发展和改革委员会(能源局)", "海西州能源局"))


def directory_with_mobiles() -> list[tuple]:
    return [(*row[:6], WRITTEN.get(row[3], (None,))[0]) for row in DIRECTORY]


@pytest.fixture
def home(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, settle_seconds=0)
    write_directory_file(s.directory_file, directory_with_mobiles())
    store = Store(s.database_url)
    submit(store, G, D(2026, 7, 10), REGISTER, 1)
    yield s, store
    store.dispose()


def run(s, store, day, sms, retries=0):
    return warnings_job(s, store, day, EmlFileTransport(s.outbox / "mail"), sms=sms, retries=retries)


def by_mobile(messages) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for mobile, text in messages:
        out.setdefault(mobile, []).append(text)
    return out


def test_warnings_by_sms_over_an_http_gateway_once_scoped_and_short(home, http_gateway):
    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    result = run(s, store, D(2026, 8, 2), sms)
    got = by_mobile(http_gateway.messages)
    # the customers with warned hazards and their county's authority; nobody else
    assert set(got) == {POTASH, REFINERY, GOV} and all(len(v) == 1 for v in got.values())
    assert all(len(t) <= SMS_MAX_CHARS and t.startswith("【海西供电】") for v in got.values() for t in v)
    assert "W1" in got[POTASH][0] and "W2" not in got[POTASH][0] and "炼油" not in got[POTASH][0]
    assert "W2" in got[REFINERY][0] and "W1" not in got[REFINERY][0] and "钾肥" not in got[REFINERY][0]
    assert "格尔木市" in got[GOV][0] and "2户客户共2项" in got[GOV][0]
    assert len(got[POTASH][0]) <= 70  # one part where it fits
    by_org = {d["recipient"]: d for d in result["deliveries"]}
    assert by_org["青海盐湖钾肥股份有限公司"]["sms_status"] == "sent"
    assert by_org["青海盐湖钾肥股份有限公司"]["mobiles"] == [POTASH]
    posted = http_gateway.posts[0]
    assert set(posted) >= {"title", "message", "mobile"}

    for day in (D(2026, 8, 2), D(2026, 8, 3)):  # again: nothing new by SMS either
        run(s, store, day, sms)
    assert len(http_gateway.messages) == 3

    run(s, store, D(2026, 8, 31), sms)  # escalation: the plant, the county and the prefecture authority
    got = by_mobile(http_gateway.messages[3:])
    assert set(got) == {POTASH, GOV, PREF_GOV} and "逾期升级预警" in got[PREF_GOV][0]
    entries = DeliveryLedger(store).entries(kind="warning", channel="sms")
    assert len({(e.period, e.recipient_key) for e in entries}) == len(entries) == 4 + 3
    assert len(DeliveryLedger(store).entries(kind="warning", channel="mail")) == len(entries)


def test_gateway_faults_are_retried_and_end_with_each_message_once(home, http_gateway):
    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    http_gateway.fail_next = 2  # HTTP 500 twice
    http_gateway.stall_next = 1  # then one time-out
    result = run(s, store, D(2026, 8, 2), sms, retries=3)
    assert "failed" not in {d["status"] for d in result["deliveries"]}
    assert {d["sms_status"] for d in result["deliveries"]} == {"sent"}
    assert len(list((s.outbox / "mail").glob("*.eml"))) == 3  # a retry for SMS does not mail again
    assert len(http_gateway.posts) == 3 + 3  # three faults, three deliveries
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, REFINERY, GOV])


def test_a_refused_number_is_named_the_others_are_served_and_the_next_run_resends_nothing(home, http_gateway):
    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    http_gateway.refuse.add(REFINERY)
    result = run(s, store, D(2026, 8, 2), sms)
    by_org = {d["recipient"]: d for d in result["deliveries"]}
    refinery = by_org["格尔木炼油厂"]
    assert refinery["status"] == "failed" and REFINERY in refinery["error"] and "拒收" in refinery["error"]
    assert by_org["青海盐湖钾肥股份有限公司"]["sms_status"] == "sent"
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, GOV])

    http_gateway.refuse.clear()
    again = run(s, store, D(2026, 8, 3), sms)
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, GOV, REFINERY])
    assert {d["recipient"]: d["sms_status"] for d in again["deliveries"]}["格尔木炼油厂"] == "sent"


def test_retries_exhausted_fail_the_recipient_and_the_next_run_completes(home, http_gateway):
    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    http_gateway.fail_next = 100
    failed = run(s, store, D(2026, 8, 2), sms, retries=1)
    assert {d["status"] for d in failed["deliveries"]} == {"failed"}
    assert all("HTTP 500" in d["error"] for d in failed["deliveries"])
    http_gateway.fail_next = 0
    ok = run(s, store, D(2026, 8, 2), sms)
    assert {d["sms_status"] for d in ok["deliveries"]} == {"sent"}
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, REFINERY, GOV])
    assert len(list((s.outbox / "mail").glob("*.eml"))) == 3  # mail went out once, in the first run


def test_warnings_over_smpp_with_a_connection_dropped_after_bind(home, smpp_gateway):
    s, store = home
    sms = AppriseSmsTransport(smpp_gateway.url())
    smpp_gateway.drop_after_bind = 1
    result = run(s, store, D(2026, 8, 2), sms, retries=2)
    assert {d["sms_status"] for d in result["deliveries"]} == {"sent"}
    got = by_mobile(smpp_gateway.messages)
    assert set(got) == {POTASH, REFINERY, GOV} and all(len(v) == 1 for v in got.values())
    assert "W1" in got[POTASH][0] and got[POTASH][0].startswith("【海西供电】")
    assert smpp_gateway.errors == [] and ("b'hazardnet'", "ok") in smpp_gateway.binds
    run(s, store, D(2026, 8, 3), sms)
    assert len(smpp_gateway.messages) == 3


def test_smpp_refused_login_is_a_configuration_error_without_the_password(home, smpp_gateway):
    s, store = home
    sms = AppriseSmsTransport(smpp_gateway.url().replace("s3cr3t", "wrong"))
    result = run(s, store, D(2026, 8, 2), sms)
    assert {d["status"] for d in result["deliveries"]} == {"failed"}
    errors = " ".join(d["error"] for d in result["deliveries"])
    assert "拒绝登录" in errors and "wrong" not in errors and smpp_gateway.messages == []


def test_without_a_gateway_sms_are_text_files(home):
    s, store = home
    sms = make_sms_transport(s)
    assert isinstance(sms, SmsFileTransport)
    result = run(s, store, D(2026, 8, 2), sms)
    assert {d["sms_status"] for d in result["deliveries"]} == {"written"}
    files = sorted((s.outbox / "sms").glob("*.txt"))
    assert len(files) == 3 and any(POTASH in f.name for f in files)
    text = next(f for f in files if POTASH in f.name).read_text(encoding="utf-8")
    assert text.startswith(f"收件号码：{POTASH}") and "W1" in text
    run(s, store, D(2026, 8, 2), sms)
    assert len(list((s.outbox / "sms").glob("*.txt"))) == 3


def test_the_url_secrets_never_show(http_gateway):
    url = "smpp://hazardnet:Top$ecret1@127.0.0.1:9/106900001234/{mobile}"  # nothing listens on port 9
    assert redact_url(url) == "smpp://127.0.0.1:9"
    transport = AppriseSmsTransport(url)
    assert "Top$ecret1" not in repr(transport)
    receipt = transport.deliver(OutgoingSms("【海西供电】测试"), ["13900000001"])
    assert receipt.deferred and "Top$ecret1" not in str(receipt) and "hazardnet:" not in str(receipt)
    keyed = "json://127.0.0.1:9/sms?:mobile={mobile}&:apikey=KEY-123456&cto=1"
    receipt = AppriseSmsTransport(keyed).deliver(OutgoingSms("测试"), ["13900000001"])
    assert receipt.deferred and "KEY-123456" not in str(receipt)
    with pytest.raises(PermanentSmsError, match=r"\{mobile\}") as exc:
        AppriseSmsTransport("json://user:Top$ecret1@gw.example.cn/sms")
    assert "Top$ecret1" not in str(exc.value)
    with pytest.raises(PermanentSmsError, match="不是可用的"):
        AppriseSmsTransport("nosuchscheme://user:Top$ecret1@gw.example.cn/{mobile}")


OLD_LEDGER = """
        CREATE TABLE mail_deliveries (id {id_type}, kind VARCHAR(16) NOT NULL,
          period VARCHAR(256) NOT NULL, recipient_key VARCHAR(512) NOT NULL, generation INTEGER NOT NULL,
          content_hash VARCHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, addresses TEXT NOT NULL,
          delivered TEXT NOT NULL, message_id VARCHAR(255) NOT NULL, attachment VARCHAR(512), rows INTEGER NOT NULL,
          transport VARCHAR(16), location VARCHAR(1024), error TEXT, attempts INTEGER NOT NULL,
          created_at {ts} NOT NULL, updated_at {ts} NOT NULL,
          CONSTRAINT uq_mail_delivery UNIQUE (kind, period, recipient_key, generation));
        INSERT INTO mail_deliveries VALUES (7, 'warning', '格尔木市|W1|overdue|2026-08-01', '用电客户|格尔木市|0630100001',
          0, 'abc', 'sent', '["a@x.cn"]', '["a@x.cn"]', '<m1@x>', NULL, 1, 'sent', NULL, NULL, 1,
          '2026-08-02 01:00:00', '2026-08-02 01:00:00');
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def old_ledger_url(request, settings):
    """A database whose ledger was made before SMS existed (no channel column), on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        settings.home.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(settings.home / "hazardnet.db")
        con.executescript(OLD_LEDGER.format(id_type="INTEGER PRIMARY KEY AUTOINCREMENT", ts="DATETIME"))
        con.commit()
        con.close()
        yield settings.database_url
        return
    import sqlalchemy as sa

    from tests.postgres import drop_database, fresh_pg_database

    url = fresh_pg_database(request.getfixturevalue("pg_url"))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in OLD_LEDGER.format(id_type="SERIAL PRIMARY KEY", ts="TIMESTAMP").split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        conn.exec_driver_sql("SELECT setval('mail_deliveries_id_seq', 7)")
    engine.dispose()
    yield url
    drop_database(url)


def test_a_ledger_made_before_sms_is_migrated(old_ledger_url):
    """An existing store: mail rows keep their history (as channel mail) and SMS rows can join them."""
    store = Store(old_ledger_url)
    try:
        ledger = DeliveryLedger(store)
        [old] = ledger.entries()
        assert (old.id, old.channel, old.status, old.message_id) == (7, "mail", "sent", "<m1@x>")
        entry, done = ledger.claim("warning", old.period, old.recipient_key, content_hash="abc",
                                   addresses=["13900000001"], resend=False, new_message_id=lambda: "<s>", channel="sms")
        assert not done and entry.channel == "sms" and entry.generation == 0
        _, done = ledger.claim("warning", old.period, old.recipient_key, content_hash="abc", addresses=["a@x.cn"],
                               resend=False, new_message_id=lambda: "<n>")
        assert done  # the mail history is intact: delivered once, not again
        assert migrate_channel(store.engine) is False  # idempotent
    finally:
        store.dispose()


# ---- grid risk warnings ------------------------------------------------------------------------------
GRID_TEXT = "12月3日8时至18时330千伏格尔木变检修，格尔木市区域单线供电，请重要客户检查自备应急电源。"


def test_grid_warning_reaches_the_county_and_the_prefecture_once(home, http_gateway):
    from hazardnet.publish.grid_warning import grid_warning

    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    warning = grid_warning(s, [G], GRID_TEXT)
    result = grid_warning_job(s, store, warning, EmlFileTransport(s.outbox / "mail"), sms, day=D(2026, 12, 1))
    reached = {d["recipient"] for d in result["deliveries"]}
    assert reached == {"海西州能源局", "国网海西供电公司营销部", "格尔木市发展和改革委员会(能源局)", "国网格尔木供电公司",
                       "青海盐湖钾肥股份有限公司", "格尔木市人民医院", "格尔木炼油厂"}  # not 德令哈
    expected = {m for org, m in MOBILE.items() if org in reached}
    assert {m for m, _ in http_gateway.messages} == expected and len(http_gateway.messages) == len(expected)
    assert all(t == f"【海西供电】电网风险预警（格尔木市）：{GRID_TEXT}" for _, t in http_gateway.messages)
    assert len(list((s.outbox / "mail").glob("电网风险预警_*.eml"))) == 7
    assert {d["sms_status"] for d in result["deliveries"] if d["recipient"] == "国网格尔木供电公司"} == {"skipped"}

    again = grid_warning_job(s, store, grid_warning(s, [G, G], f"  {GRID_TEXT} "), EmlFileTransport(s.outbox / "mail"),
                              sms, day=D(2026, 12, 1))
    assert {d["status"] for d in again["deliveries"]} == {"skipped"} and len(http_gateway.messages) == len(expected)
    corrected = grid_warning(s, [G], GRID_TEXT.replace("18时", "20时"))  # a corrected text is a new warning
    grid_warning_job(s, store, corrected, EmlFileTransport(s.outbox / "mail"), sms, day=D(2026, 12, 1))
    assert len(http_gateway.messages) == 2 * len(expected)


def test_grid_warning_with_the_gateway_down_says_the_sms_failed(home):
    """A gateway on a closed port: the mail goes out, each recipient with a mobile is failed with 短信 失败 (not —);
    the one without a mobile keeps 短信 —."""
    from hazardnet.publish.grid_warning import grid_warning

    s, store = home
    sms = AppriseSmsTransport("json://127.0.0.1:1/sms?:mobile={mobile}&rto=1&cto=1")
    result = grid_warning_job(s, store, grid_warning(s, [G], GRID_TEXT), EmlFileTransport(s.outbox / "mail"), sms,
                              day=D(2026, 12, 1))
    by_name = {d["recipient"]: d for d in result["deliveries"]}
    texted = [d for d in by_name.values() if d["mobiles"]]
    assert texted and all(d["status"] == "failed" and d["sms_status"] == "failed" for d in texted), texted
    assert all("短信未能发出" in d["error"] for d in texted)
    assert by_name["国网格尔木供电公司"]["sms_status"] != "failed"  # a landline: no text to fail


def test_grid_warning_input_is_checked_in_chinese(settings):
    from hazardnet.publish.grid_warning import grid_warning

    with pytest.raises(ValueError, match="不是已配置的县"):
        grid_warning(settings, ["西宁市"], "x")
    with pytest.raises(ValueError, match="预警内容为空"):
        grid_warning(settings, ["格尔木市"], "  ")
    with pytest.raises(ValueError, match="超过短信可容纳"):
        grid_warning(settings, ["格尔木市"], "检修" * 70)
    two = grid_warning(settings, ["格尔木市", "德令哈市"], "x")
    assert two.counties == ("德令哈市", "格尔木市")  # the configured order: the same warning however named


def test_grid_warning_command_and_deployment(prefect_harness, home, http_gateway, tmp_path):
    import json
    import subprocess
    import sys

    from flows.deployments import all_deployments

    from .conftest import harness_env

    s, store = home
    http_gateway.refuse.add(MOBILE["格尔木市人民医院"])
    env = {**harness_env(), "HAZARDNET_SMS_URL": http_gateway.url()}
    env.pop("HAZARDNET_SMTP_HOST", None)
    cmd = [sys.executable, "-m", "hazardnet.cli", "grid-warning", "--county", G, "--text", GRID_TEXT,
           "--home", str(s.home), "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 1, first.stderr
    assert "格尔木市人民医院" in first.stderr and "Traceback" not in first.stderr
    assert "s3cr3t" not in first.stderr and "rto=" not in first.stderr
    out = json.loads(first.stdout)
    statuses = {d["recipient"]: d["sms_status"] for d in out["deliveries"]}
    assert statuses["格尔木市人民医院"] == "failed" and statuses["青海盐湖钾肥股份有限公司"] == "sent"
    assert len(http_gateway.messages) == 4  # everyone with a mobile but the refused number

    http_gateway.refuse.clear()
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert [m for m, _ in http_gateway.messages[4:]] == [MOBILE["格尔木市人民医院"]]  # only the one that missed it

    bad = subprocess.run(cmd[:4] + ["--county", "西宁市", "--text", "x", "--home", str(s.home)], env=env,
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "西宁市" in bad.stderr and "Traceback" not in bad.stderr

    [grid] = [d for d in all_deployments(str(s.home)) if d.name == "电网风险预警"]
    assert grid.flow_name == "电网风险预警" and not grid.schedules
    assert grid.parameters == {"home": str(s.home)}
    schema = grid._parameter_openapi_schema
    assert schema.required == ["text"]  # the Run form asks for the text; 涉及的县(市) stays empty for a line's warning
    assert schema.properties["counties"]["title"] == "涉及的县(市)"  # the form's labels (tests/test_run_form.py)
    assert schema.properties["text"]["title"] == "预警内容"


def test_grid_warning_command_that_cannot_go_out_says_why_in_one_chinese_line(prefect_harness, home, tmp_path):
    """A line no customer file names (the home has none) is the operator's mistake: one line, exit 2; a home
    without any directory: the run's sentence, exit 1. Neither printed `TypeError: 'NoneType' …` (the flow's
    Failed state carries no result) nor exited 0."""
    from .test_ingest_flow import run_cli

    s, _store = home
    line = run_cli("grid-warning", "--line", "10kV 不存在线", "--text", "检修，请做好准备。", "--home", str(s.home))
    assert line.returncode == 2, line.stderr
    assert "Traceback" not in line.stderr and "TypeError" not in line.stderr, line.stderr
    assert line.stderr.strip().splitlines()[-1].startswith("错误：没有哪个客户的客户档案（一户一档）写明供电线路或所属变电站为"
                                                        "“10kV 不存在线”"), line.stderr

    bare = tmp_path / "无通讯录"
    bare.mkdir()
    none = run_cli("grid-warning", "--county", G, "--text", GRID_TEXT, "--home", str(bare), "--json")
    assert none.returncode == 1, none.stderr
    assert "Traceback" not in none.stderr and "TypeError" not in none.stderr, none.stderr
    assert none.stderr.strip().splitlines()[-1].startswith("运行失败：没有可用的通讯录"), none.stderr
    assert json.loads(none.stdout.strip().splitlines()[-1])["exit_code"] == 1


def test_bulletin_and_grid_warning_say_the_directory_file_is_missing_not_report_none(prefect_harness, home):
    """The directory file gone after a version was stored: the commands go on with that version and say so with
    the intake's sentence (was: 通讯录文件有错误，沿用上一版有效通讯录；问题报告：None)."""
    from hazardnet.publish.bulletin import Period

    from .test_ingest_flow import run_cli

    s, store = home
    bulletin_job(s, store, Period.parse("2026-07"), D(2026, 7, 15), EmlFileTransport(s.outbox / "mail"))
    s.directory_file.unlink()
    done = run_cli("bulletin", "--month", "2026-07", "--as-of", "2026-07-15", "--home", str(s.home),
                   env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert "None" not in done.stdout and "通讯录文件有错误" not in done.stdout, done.stdout
    assert f"未找到通讯录文件 {s.directory_file}，沿用上一次有效的通讯录" in done.stdout, done.stdout
    grid = run_cli("grid-warning", "--county", G, "--text", GRID_TEXT, "--home", str(s.home), env={"COLUMNS": "200"})
    assert grid.returncode == 0, grid.stderr
    assert f"未找到通讯录文件 {s.directory_file}，沿用上一次有效的通讯录" in grid.stdout, grid.stdout


# ---- the monthly bulletin's notice -------------------------------------------------------------------------
def test_bulletin_notice_by_sms_once_after_the_mail(home, http_gateway):
    from hazardnet.publish.bulletin import Period

    s, store = home
    sms = AppriseSmsTransport(http_gateway.url())
    result = bulletin_job(s, store, Period(2026, 8), D(2026, 8, 2), EmlFileTransport(s.outbox / "mail"),
                                   sms=sms)
    got = by_mobile(http_gateway.messages)
    # customers with hazards in scope and the authorities with a mobile; not the supply companies
    assert set(got) == {POTASH, REFINERY, MOBILE["格尔木市人民医院"], GOV, PREF_GOV}
    assert got[POTASH] == ["【海西供电】2026年8月电力安全隐患通报已发至贵单位邮箱，贵单位未整改1项（逾期1项），请查收。"]
    assert got[GOV] == ["【海西供电】2026年8月电力安全隐患通报已发至贵单位邮箱，格尔木市未整改3项（逾期1项），请查收。"]
    assert all(len(t) <= 70 for v in got.values() for t in v)
    assert {d["recipient"]: d.get("sms_status") for d in result["deliveries"]}["国网格尔木供电公司"] == "skipped"
    bulletin_job(s, store, Period(2026, 8), D(2026, 8, 2), EmlFileTransport(s.outbox / "mail"), sms=sms)
    assert len(http_gateway.messages) == 5


def test_warning_texts_fit_whatever_the_names_and_counts(settings):
    from hazardnet.delivery.directory import Recipient
    from hazardnet.publish.warnings import ESCALATED, NO_DEADLINE, OVERDUE, HazardWarning, sms_body

    def warning(n: int, stage: str) -> HazardWarning:
        return HazardWarning(G, "0630100001", "x", None, f"GEM-2026-{n:03d}", "重大", None, "d", D(2026, 1, 1),
                             D(2026, 2, 1), 30, "未整改", None, None, False, stage)

    long_name = "青海柴达木循环经济试验区格尔木工业园盐湖化工股份有限公司第二分公司"
    for name in ("钾肥厂", long_name):
        customer = Recipient("用电客户", G, "0630100001", name, (), ("a@x.cn",), ("13900000001",))
        for n in (1, 2, 5, 40):
            for stage in (OVERDUE, ESCALATED, NO_DEADLINE):
                text = sms_body(customer, [warning(i, stage) for i in range(n)], settings)
                assert len(text) <= SMS_MAX_CHARS and "GEM-2026-000" in text, text
                assert f"有{n}项" in text and (n == 1 or f"等{n}项" in text or "GEM-2026-001" in text)
    short = sms_body(Recipient("用电客户", G, "1", "钾肥厂", (), (), ()), [warning(0, OVERDUE)], settings)
    assert len(short) <= 70  # one part where it fits
    county = Recipient("政府主管部门", G, None, "格尔木市能源局", (), (), ())
    assert len(sms_body(county, [warning(i, ESCALATED) for i in range(99)], settings)) <= 70


def test_reinspection_and_notice_reminder_texts_count_the_hazards_and_never_cut_an_id(settings):
    from hazardnet.publish.reminders import REINSPECTION, UNNOTIFIED, Reminder, reminder_sms

    def reminder(kind: str, n: int) -> Reminder:
        return Reminder(kind, "德令哈市", f"DLH-2026-{n:03d}", "0630200001", "德令哈纯碱厂", "一般", "d",
                        D(2026, 1, 1), D(2026, 2, 1), 30)

    for kind in (REINSPECTION, UNNOTIFIED):
        for n in (1, 2, 4, 23, 150):
            text = reminder_sms(kind, "德令哈市", [reminder(kind, i) for i in range(n)], 10, settings)
            assert len(text) <= SMS_MAX_CHARS and text.endswith("详见邮件。") and "…" not in text, text
            assert text.startswith(settings.sms_signature) and f"有{n}项隐患" in text
            named = [f"DLH-2026-{i:03d}" for i in range(n) if f"DLH-2026-{i:03d}" in text]
            assert named and named == [f"DLH-2026-{i:03d}" for i in range(len(named))]  # whole ids, in order
            assert len(named) == n or f"等{n}项" in text
            assert len(text) <= 70  # one part: the mail has every id


def test_warnings_flow_texts_retries_and_fails_naming_who_was_not_reached(prefect_harness, home, http_gateway,
                                                                          monkeypatch):
    from flows.warnings import warnings_flow

    s, store = home
    monkeypatch.setenv("HAZARDNET_SMS_URL", http_gateway.url())
    monkeypatch.setenv("HAZARDNET_MAIL_RETRY_DELAYS", "0")  # one retry, at once
    http_gateway.refuse.add(REFINERY)
    http_gateway.fail_next = 1  # the gateway is down for one request: the task retries
    state = warnings_flow(home=str(s.home), as_of="2026-08-02", return_state=True)
    # the run's state message names who was not reached, the number masked as every line of the UI (flows.failure_messages)
    assert state.is_failed() and "格尔木炼油厂" in state.message and f"{REFINERY[:3]}****{REFINERY[-4:]}" in state.message
    assert REFINERY not in state.message
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, GOV])  # the others were served, once
    http_gateway.refuse.clear()
    state = warnings_flow(home=str(s.home), as_of="2026-08-02", return_state=True)
    assert state.is_completed()
    assert sorted(m for m, _ in http_gateway.messages) == sorted([POTASH, GOV, REFINERY])


def test_a_rejected_register_is_texted_to_its_county_supply_company_once_its_report_is_mailed(
        settings, http_gateway, smtp_server, tmp_path):  # noqa: F811
    """The county clerk reads texts first: the rejection's mail goes with a text naming the file, the number of
    problems and where the report is — once; a mail the server refuses for good is not announced by a text."""
    from hazardnet.delivery.mail import SmtpTransport
    from hazardnet.delivery.rejection_mail import send_rejection_reports
    from hazardnet.intake.findings import Finding
    from hazardnet.intake.transaction import FileOutcome, IngestResult
    from hazardnet.xlsx.style import atomic_workbook

    from .test_warnings import UTILITY

    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none")
    utility_mobile = "13979000009"
    write_directory_file(s.directory_file, [(*row[:6], utility_mobile if row[3] == "国网格尔木供电公司" else None)
                                            for row in DIRECTORY])
    store = Store(s.database_url)
    sms = AppriseSmsTransport(http_gateway.url())
    finding = Finding("隐患台账", "J7", "隐患等级", "隐患等级“严重”不在可选范围内", "严重", row=7, col=10)

    def rejected(name: str) -> IngestResult:
        report = tmp_path / f"{name}_问题报告.xlsx"
        with atomic_workbook(report) as wb:
            wb.add_worksheet("问题清单").write_string(0, 0, name)
        return IngestResult([FileOutcome(str(tmp_path / f"{name}.xlsx"), G, "rejected", 0, [finding], None,
                                         str(report))], None)

    try:
        november = rejected("格尔木市2026年11月台账")
        [d] = send_rejection_reports(s, store, november, SmtpTransport(s), as_of=D(2026, 11, 15), sms=sms)
        assert d["status"] == "sent" and d["sms_status"] == "sent" and d["file"] == "格尔木市2026年11月台账.xlsx"
        [(mobile, text)] = http_gateway.messages
        assert mobile == utility_mobile and len(text) <= SMS_MAX_CHARS and text.startswith("【海西供电】")
        assert "隐患台账《格尔木市2026年11月台账.xlsx》未通过校验（1处问题）" in text and "已发至邮箱" in text
        assert len(text) <= 70  # one SMS (it was 101 characters: two parts)
        assert [m.rcpt_tos for m in smtp_server.messages] == [list(UTILITY)]

        again = send_rejection_reports(s, store, november, SmtpTransport(s), as_of=D(2026, 11, 15), sms=sms)
        assert [x["status"] for x in again] == ["skipped"]
        assert len(http_gateway.messages) == 1 and len(smtp_server.messages) == 1

        smtp_server.fail_next(1, code=550)  # the mail refused for good
        [d] = send_rejection_reports(s, store, rejected("格尔木市2026年12月台账"), SmtpTransport(s),
                                     as_of=D(2026, 12, 15), sms=sms)
        assert d["status"] == "failed" and len(http_gateway.messages) == 1  # no text about a mail that never came
    finally:
        store.dispose()


def test_a_directory_with_problems_is_texted_to_the_prefecture_supply_company_once_its_report_is_mailed(
        settings, http_gateway, smtp_server):  # noqa: F811
    """The rows the directory check left out are mailed to the prefecture's supply company with a text beside
    the mail (the step 邮寄通讯录问题报告 of every sending job) — once per set of problems; a mail the server
    refuses for good is not announced by a text; a different set of problems is sent again."""
    from hazardnet.delivery.directory import load_directory
    from hazardnet.delivery.dispatch import Dispatcher
    from hazardnet.delivery.mail import SmtpTransport
    from hazardnet.jobs.sending import directory_problems

    settings.home.mkdir(parents=True, exist_ok=True)
    s = load_settings(settings.home, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none")
    prefecture_mobile = "13979000001"
    good = [(*row[:6], prefecture_mobile if row[3] == "国网海西供电公司营销部" else None) for row in DIRECTORY]
    bad_email = ("用电客户", G, "0630100009", "某客户", "陈", "dianqi@qhyhkf", None)
    store = Store(s.database_url)
    sms = AppriseSmsTransport(http_gateway.url())

    def send():
        return directory_problems(s, load_directory(s, store, D(2026, 11, 15)),
                                  Dispatcher(store, s, SmtpTransport(s), sms))

    try:
        write_directory_file(s.directory_file, [*good, bad_email])
        [d] = send()
        assert d["recipient"] == "国网海西供电公司营销部" and d["status"] == "sent" and d["sms_status"] == "sent"
        [(mobile, text)] = http_gateway.messages
        assert mobile == prefecture_mobile and len(text) <= SMS_MAX_CHARS and text.startswith("【海西供电】")
        assert f"通讯录文件《{s.directory_file.name}》有1处问题（第{len(good) + 2}行未予采用" in text and "已发至邮箱" in text
        assert [m.rcpt_tos for m in smtp_server.messages] == [["yingxiao@haixi-power.example.cn"]]

        assert [x["status"] for x in send()] == ["skipped"]  # the same problems: nothing again
        assert len(http_gateway.messages) == 1 and len(smtp_server.messages) == 1

        write_directory_file(s.directory_file, [*good, bad_email, bad_email[:3] + ("另一客户", "陈", "x@", None)])
        smtp_server.fail_next(1, code=550)  # other problems, their mail refused for good
        [d] = send()
        assert d["status"] == "failed" and len(http_gateway.messages) == 1  # no text about a mail that never came
    finally:
        store.dispose()
