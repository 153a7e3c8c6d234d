"""The mailbox as a second inbox, against a real Dovecot (tests/imap_server.py) and a real SMTP server for the
replies (tests/smtp_server.py): messages as Outlook, Foxmail and WPS mail write them, appended by IMAP APPEND."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from hazardnet.intake.mail_attachments import WORKBOOK, attachments, parse_message
from hazardnet.jobs.mail_intake import mail_intake
from hazardnet.settings import load_settings
from schemas.directory_headers import DIRECTORY_HEADERS
from tests.conftest import AS_OF, DATA
from tests.imap_server import DovecotServer, imap_server  # noqa: F401
from tests.smtp_server import make_certificate, smtp_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
GOOD = DATA / "good" / "canonical.xlsx"
BAD = DATA / "bad" / "unknown_vocab.xlsx"
SEVERAL = DATA / "bad" / "several_problems.xlsx"
UTIL_HAIXI = "yingxiao@haixi-power.example.cn"
UTIL_GEM = "YongJian@gem-power.example.cn"  # the directory's spelling; a client may send it lower-cased
UTIL_DLH = "dianli@dlh-power.example.cn"
GOV_GEM = "nengyuan@gem.gov.example.cn"
STRANGER = "someone@free-mail.example.com"
DIRECTORY = [
    ("供电企业", "", "", "国网海西供电公司营销部", "李海军", UTIL_HAIXI, ""),
    ("供电企业", "格尔木市", "", "国网格尔木供电公司", "刘晓东", UTIL_GEM, ""),
    ("供电企业", "德令哈市", "", "国网德令哈供电公司", "马德明", UTIL_DLH, ""),
    ("政府主管部门", "格尔木市", "", "格尔木市发展和改革委员会（能源局）", "张永福", GOV_GEM, ""),
]


def write_directory(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "通讯录"
    ws.append(list(DIRECTORY_HEADERS))
    for r in DIRECTORY:
        ws.append([v or None for v in r])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def delingha_register(path: Path) -> bytes:
    """A 德令哈市 register made from the canonical one."""
    wb = openpyxl.load_workbook(GOOD)
    ws = wb.active
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 1).value = "德令哈市"
        ws.cell(r, 2).value = f"06302000{r:02d}"
        ws.cell(r, 6).value = f"DLH-2026-{r:03d}"
    wb.save(path)
    return path.read_bytes()


# ---- messages as the clients write them ---------------------------------------------------------------
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def part(data: bytes, disposition_name: bytes, type_name: bytes | None = None, ctype: str = XLSX) -> bytes:
    """One attachment part with its name headers written exactly as given (raw bytes allowed)."""
    ct = f"Content-Type: {ctype}".encode() + (b"; name=" + type_name if type_name else b"")
    return (ct + b"\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; " + disposition_name
            + b"\r\n\r\n" + b64(data))


def message(headers: list[bytes], text: str, parts: list[bytes], charset: str = "utf-8") -> bytes:
    boundary = b"----=_NextPart_" + hashlib.sha1(b"".join(headers)).hexdigest()[:16].encode()
    out = b"\r\n".join(headers) + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"" + \
        boundary + b"\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n"
    out += b"--" + boundary + f"\r\nContent-Type: text/plain; charset=\"{charset}\"\r\n".encode() + \
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(text.encode(charset)) + b"\r\n"
    for p in parts:
        out += b"--" + boundary + b"\r\n" + p + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def rfc2047(text: str, charset: str) -> bytes:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?=".encode()


def outlook_message(good: bytes) -> bytes:
    """Outlook: RFC 2231 names with a charset, the subject in UTF-8 RFC 2047."""
    name = "格尔木市11月隐患台账.xlsx"
    enc = "utf-8''" + "".join(f"%{b:02X}" for b in name.encode())
    return message([
        b"From: =?utf-8?B?" + base64.b64encode("刘晓东".encode()) + b"?= <yongjian@gem-power.example.cn>",
        b"To: registers@haixi.example.cn", b"Subject: " + rfc2047("格尔木市11月隐患台账报送", "utf-8"),
        b"Date: Mon, 16 Nov 2026 09:12:01 +0800", b"Message-ID: <outlook.1@gem-power.example.cn>",
        b"X-Mailer: Microsoft Outlook 16.0"],
        "附件为本月台账，请查收。", [part(good, b"filename*=" + enc.encode(), rfc2047(name, "utf-8"))])


def foxmail_message(bad: bytes) -> bytes:
    """Foxmail, from the prefecture company: the county in a GBK subject, the name as raw GBK bytes, and a
    Reply-To that must not be answered."""
    name = "格尔木市台账（州公司代报）.xlsx".encode("gbk")
    return message([
        b"From: \"" + "李海军".encode("gbk") + b"\" <yingxiao@haixi-power.example.cn>",
        b"Reply-To: other@elsewhere.example.com",
        b"To: registers@haixi.example.cn", b"Subject: " + rfc2047("代报格尔木市隐患台账", "gbk"),
        b"Date: Mon, 16 Nov 2026 10:00:00 +0800", b"Message-ID: <202611161000.fox@haixi-power.example.cn>",
        b"X-Mailer: Foxmail 7.2.25.375"],
        "格尔木市台账，州公司代为报送。", [part(bad, b'filename="' + name + b'"', b'"' + name + b'"')], charset="gbk")


def wps_forward(dlh: bytes, bad: bytes) -> bytes:
    """WPS mail forwarding a colleague's message (message/rfc822) with a GB18030 RFC 2047 name, a second
    workbook named RFC 2231 without a charset, and a zip."""
    inner_name = "德令哈市隐患台账.xlsx"
    inner = message([b"From: colleague@dlh-power.example.cn", b"To: dianli@dlh-power.example.cn",
                     b"Subject: " + rfc2047("台账", "gb18030"), b"Message-ID: <inner.7@dlh-power.example.cn>"],
                    "请转发。", [part(dlh, b'filename="' + rfc2047(inner_name, "gb18030") + b'"',
                                      b'"' + rfc2047(inner_name, "gb18030") + b'"')])
    second = "德令哈市补充.xlsx"
    enc = "".join(f"%{b:02X}" for b in second.encode())
    zipped = b"PK\x05\x06" + b"\x00" * 18  # an empty zip archive
    fwd = b"Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n" + inner
    return message([
        b"From: dianli@dlh-power.example.cn", b"To: registers@haixi.example.cn",
        b"Subject: " + rfc2047("转发：德令哈市台账", "utf-8"), b"Message-ID: <wps.42@dlh-power.example.cn>",
        b"X-Mailer: WPS Mail"],
        "转发台账。", [fwd, part(bad, b"filename*=" + enc.encode()),
                       part(zipped, b'filename="' + rfc2047("台账.zip", "utf-8") + b'"', ctype="application/zip")])


def stranger_message(good: bytes) -> bytes:
    return message([f"From: {STRANGER}".encode(), b"To: registers@haixi.example.cn",
                    b"Subject: " + rfc2047("格尔木市台账", "utf-8"), b"Message-ID: <spam.1@free-mail.example.com>"],
                   "台账", [part(good, b'filename="register.xlsx"')])


def precheck_message(bad: bytes) -> bytes:
    return message([b"From: yongjian@gem-power.example.cn", b"To: registers@haixi.example.cn",
                    b"Subject: " + rfc2047("预检：格尔木市台账", "utf-8"), b"Message-ID: <check.1@gem-power.example.cn>"],
                   "请预检。", [part(bad, b'filename="' + rfc2047("预检台账.xlsx", "gb18030") + b'"')])


def quoting_reply(good: bytes) -> bytes:
    """A reply quoting an earlier message; its attachment's name cannot be decoded (bytes of no charset)."""
    return message([b"From: yongjian@gem-power.example.cn", b"To: registers@haixi.example.cn",
                    b"Subject: Re: " + rfc2047("格尔木市隐患台账已接收", "utf-8"),
                    b"In-Reply-To: <earlier.1@haixi.example.cn>", b"References: <earlier.1@haixi.example.cn>",
                    b"Message-ID: <reply.3@gem-power.example.cn>"],
                   "再发一次。\r\n\r\n> 台账《格尔木市11月隐患台账.xlsx》已通过校验并导入", [
                       part(good, b'filename="\xff\xfe\x80\xff.xlsx"')])


# ---- the run ---------------------------------------------------------------------------------------------
@pytest.fixture
def mail_settings(tmp_path, monkeypatch, imap_server, smtp_server):  # noqa: F811
    for var in ("HAZARDNET_HOME", "HAZARDNET_SMTP_HOST", "HAZARDNET_DB_URL", "HAZARDNET_IMAP_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(tmp_path / "home", settle_seconds=0, smtp_host=smtp_server.host,
                             smtp_port=smtp_server.port, smtp_security="none", mail_retry_delays=[],
                             imap_host=imap_server.host, imap_port=imap_server.port, imap_security="none",
                             imap_user=imap_server.user, imap_password=imap_server.password)
    write_directory(settings.directory_file)
    return settings


def db(settings, sql: str) -> list[tuple]:
    with sqlite3.connect(settings.home / "hazardnet.db") as conn:
        return conn.execute(sql).fetchall()


def test_registers_by_mail_ingested_once_and_answered_once(mail_settings, imap_server, smtp_server, tmp_path):  # noqa: F811
    s = mail_settings
    good, bad = GOOD.read_bytes(), BAD.read_bytes()
    dlh = delingha_register(tmp_path / "dlh.xlsx")
    several = SEVERAL.read_bytes()
    sent = {"outlook": outlook_message(good), "foxmail": foxmail_message(bad), "wps": wps_forward(dlh, several),
            "stranger": stranger_message(good), "precheck": precheck_message(several), "reply": quoting_reply(good)}
    for raw in sent.values():
        imap_server.append(raw)

    first = mail_intake(s, AS_OF)
    second = mail_intake(s, AS_OF)

    subs = db(s, "select county, file_name, outcome, rows, sha256 from submissions order by id")
    assert sorted((c, f, o) for c, f, o, _r, _s in subs) == sorted([
        ("格尔木市", "格尔木市11月隐患台账.xlsx", "accepted"),
        ("格尔木市", "格尔木市台账（州公司代报）.xlsx", "rejected"),
        ("德令哈市", "德令哈市隐患台账.xlsx", "accepted"),
        ("德令哈市", "德令哈市补充.xlsx", "rejected"),
        ("格尔木市", f"邮件附件_{hashlib.sha256(good).hexdigest()[:8]}.xlsx", "duplicate"),
    ])
    shas = {x[4] for x in subs}
    assert hashlib.sha256(several).hexdigest() in shas  # the 预检 copy of it came in WPS's forward, not alone
    assert sum(1 for x in subs if x[4] == hashlib.sha256(several).hexdigest()) == 1

    # every verdict once, to the directory address, In-Reply-To the message; the rejected ones with the report
    replies = [m.message for m in smtp_server.messages]
    by_reply_to: dict[str, list] = {}
    for m in replies:
        by_reply_to.setdefault(str(m["In-Reply-To"] or ""), []).append(m)
    assert all(STRANGER not in ",".join(m.rcpt_tos) for m in smtp_server.messages)
    assert all("other@elsewhere" not in ",".join(m.rcpt_tos) for m in smtp_server.messages)
    outlook = by_reply_to["<outlook.1@gem-power.example.cn>"]
    assert len(outlook) == 1 and outlook[0]["To"] == UTIL_GEM and "已接收" in str(outlook[0]["Subject"])
    assert "3 条隐患记录" in outlook[0].get_body(("plain",)).get_content()
    fox = by_reply_to["<202611161000.fox@haixi-power.example.cn>"]
    assert len(fox) == 1 and fox[0]["To"] == UTIL_HAIXI and "退回" in str(fox[0]["Subject"])
    names = [p.get_filename() for p in fox[0].iter_attachments()]
    assert names == ["格尔木市台账（州公司代报）_问题报告.xlsx"]
    wps = by_reply_to["<wps.42@dlh-power.example.cn>"]
    assert len(wps) == 3 and all(m["To"] == UTIL_DLH for m in wps)  # two registers, and the zip
    subjects = sorted(str(m["Subject"]) for m in wps)
    assert any("已接收（德令哈市隐患台账.xlsx）" in x for x in subjects)
    assert any("退回（德令哈市补充.xlsx）" in x for x in subjects)
    assert any("未能处理" in x for x in subjects)
    zip_reply = next(m for m in wps if "未能处理" in str(m["Subject"]))
    assert "压缩包" in zip_reply.get_body(("plain",)).get_content()
    check = by_reply_to["<check.1@gem-power.example.cn>"]
    assert len(check) == 1 and "预检未通过" in str(check[0]["Subject"]) and check[0]["To"] == UTIL_GEM
    assert [p.get_filename() for p in check[0].iter_attachments()] == ["预检台账_问题报告.xlsx"]
    again = by_reply_to["<reply.3@gem-power.example.cn>"]
    assert len(again) == 1 and "相同" in str(again[0]["Subject"])
    assert str(again[0]["References"]) == "<reply.3@gem-power.example.cn>"
    digest = by_reply_to[""]
    assert len(digest) == 1 and digest[0]["To"] == UTIL_HAIXI and STRANGER in digest[0].get_body(("plain",)).get_content()
    assert len(replies) == 1 + 1 + 3 + 1 + 1 + 1

    # nothing the second time
    assert [m.get("status") for m in second.messages] == [] and second.replies == []
    # the stranger's message moved, unanswered; the others seen; the kept messages are the server's bytes
    quarantined = imap_server.folder("Quarantine")
    assert [raw for _f, raw in quarantined] == [sent["stranger"]]
    inbox = imap_server.folder("INBOX")
    assert len(inbox) == 5 and all("\\Seen" in flags for flags, _ in inbox)
    kept = sorted(p.read_bytes() for p in (s.archive / "mail").glob("*.eml"))
    assert kept == sorted([sent["outlook"], sent["foxmail"], sent["wps"], sent["reply"]])  # not the 预检 one
    assert first.quarantine_list and first.quarantine_list[0]["status"] == "sent"


def test_attachment_names_as_chinese_clients_write_them(tmp_path):
    """Every naming of the messages above is decoded, the undecodable one gets a safe generated name."""
    good, bad = GOOD.read_bytes(), BAD.read_bytes()
    dlh = delingha_register(tmp_path / "dlh.xlsx")
    names = lambda raw: [(a.name, a.kind) for a in attachments(parse_message(raw))]  # noqa: E731
    assert names(outlook_message(good)) == [("格尔木市11月隐患台账.xlsx", WORKBOOK)]
    assert names(foxmail_message(bad)) == [("格尔木市台账（州公司代报）.xlsx", WORKBOOK)]
    assert names(wps_forward(dlh, SEVERAL.read_bytes())) == [
        ("德令哈市隐患台账.xlsx", WORKBOOK), ("德令哈市补充.xlsx", WORKBOOK), ("台账.zip", "archive")]
    assert names(quoting_reply(good)) == [(f"邮件附件_{hashlib.sha256(good).hexdigest()[:8]}.xlsx", WORKBOOK)]
    assert names(precheck_message(bad)) == [("预检台账.xlsx", WORKBOOK)]


def test_check_command_gives_the_intakes_findings_and_stores_nothing(tmp_path):
    home = tmp_path / "home"
    home.mkdir()  # only the intake commands set a new home up
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "check", str(SEVERAL), "--county", "格尔木市",
                           "--home", str(home), "--json", "--report-dir", str(tmp_path / "r")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1, proc.stderr
    got = json.loads(proc.stdout)
    assert not got["passed"] and got["errors"] >= 2
    assert Path(got["report"]).is_file() and Path(got["report"]).name == "several_problems_问题报告.xlsx"
    assert not (home / "hazardnet.db").exists() and not (home / "archive").exists()
    ok = subprocess.run([sys.executable, "-m", "hazardnet", "check", str(GOOD), "--county", "格尔木市",
                         "--home", str(home)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert ok.returncode == 0 and "预检通过" in ok.stdout
    # the operator's mistakes: one line, exit 2, no problem report blaming the file
    for args, says in ((["check", str(GOOD), "--county", "不存在"], "“不存在”不是已配置的县(市)：德令哈市、格尔木市"),
                       (["check", str(tmp_path), "--county", "格尔木市"], "是文件夹，不是台账文件")):
        wrong = subprocess.run([sys.executable, "-m", "hazardnet", *args, "--home", str(home),
                                "--report-dir", str(tmp_path / "wrong")],
                               capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert wrong.returncode == 2, wrong.stderr
        assert wrong.stderr.strip().startswith("错误：") and says in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "wrong").exists()


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_mail_intake_over_tls_with_the_sites_ca(security, tmp_path, monkeypatch, smtp_server):  # noqa: F811
    cert = make_certificate(tmp_path / "cert")
    server = DovecotServer(ssl_certificate=cert, starttls=security == "starttls")
    try:
        server.append(outlook_message(GOOD.read_bytes()))
        for var in ("HAZARDNET_HOME", "HAZARDNET_SMTP_HOST", "HAZARDNET_DB_URL", "HAZARDNET_IMAP_HOST"):
            monkeypatch.delenv(var, raising=False)
        s = load_settings(tmp_path / "home", settle_seconds=0, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                          smtp_security="none", mail_retry_delays=[], imap_host="127.0.0.1", imap_port=server.port,
                          imap_security=security, imap_ca_file=cert.ca_file, imap_user=server.user,
                          imap_password=server.password)
        write_directory(s.directory_file)
        result = mail_intake(s, AS_OF)
        assert [r["outcome"] for r in result.replies] == ["accepted"]
        assert server.password not in json.dumps(result.as_json(), ensure_ascii=False, default=str)
    finally:
        server.stop()


def test_a_wrong_password_is_one_line_without_the_password(mail_settings, imap_server):  # noqa: F811
    from hazardnet.delivery.mailbox import MailboxError

    s = mail_settings.model_copy(update={"imap_password": type(mail_settings.imap_password)("wrong-secret-77")})
    with pytest.raises(MailboxError) as got:
        mail_intake(s, AS_OF)
    assert "wrong-secret-77" not in str(got.value) and "登录被拒绝" in str(got.value)


def test_required_server_verdict_quarantines_a_directory_address_without_it(mail_settings, imap_server, smtp_server):  # noqa: F811
    s = mail_settings.model_copy(update={"mail_require_auth": ["dmarc"], "mail_auth_server": "mx.haixi.example.cn"})
    forged = outlook_message(GOOD.read_bytes())  # From a directory address, no verdict of the site's server
    passed = b"Authentication-Results: mx.haixi.example.cn; spf=pass smtp.mailfrom=gem-power.example.cn;\r\n" \
             b" dkim=pass header.d=gem-power.example.cn; dmarc=pass header.from=gem-power.example.cn\r\n" + \
        outlook_message(GOOD.read_bytes()).replace(b"<outlook.1@", b"<outlook.2@")
    imap_server.append(forged)
    imap_server.append(passed)
    result = mail_intake(s, AS_OF)
    assert [m["status"] for m in result.messages] == ["quarantined", "placed"]
    assert [str(m.message["In-Reply-To"]) for m in smtp_server.messages if m.message["In-Reply-To"]] == [
        "<outlook.2@gem-power.example.cn>"]


def test_the_command_twice_ingests_and_answers_once(prefect_harness, tmp_path, imap_server, smtp_server):  # noqa: F811
    """`hazardnet mail-intake` as the deployment runs it (the flow, Prefect task runs), twice."""
    from tests.conftest import harness_env

    home = tmp_path / "home"
    write_directory(home / "config" / "通讯录.xlsx")
    imap_server.append(outlook_message(GOOD.read_bytes()))
    imap_server.append(foxmail_message(BAD.read_bytes()))
    imap_server.append(stranger_message(GOOD.read_bytes()))
    imap_server.append(precheck_message(SEVERAL.read_bytes()))
    env = {**harness_env(), "HAZARDNET_SMTP_HOST": smtp_server.host, "HAZARDNET_SMTP_PORT": str(smtp_server.port),
           "HAZARDNET_SMTP_SECURITY": "none", "HAZARDNET_MAIL_RETRY_DELAYS": "[]",
           "HAZARDNET_IMAP_HOST": imap_server.host, "HAZARDNET_IMAP_PORT": str(imap_server.port),
           "HAZARDNET_IMAP_SECURITY": "none", "HAZARDNET_IMAP_USER": imap_server.user,
           "HAZARDNET_IMAP_PASSWORD": imap_server.password}
    env.pop("HAZARDNET_SETTLE_SECONDS")  # the default: the placed files must count as settled anyway
    runs = [subprocess.run([sys.executable, "-m", "hazardnet", "mail-intake", "--home", str(home), "--json"],
                           capture_output=True, text=True, cwd=ROOT, env=env, timeout=600) for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert imap_server.password not in proc.stdout + proc.stderr
    first, second = (json.loads(p.stdout) for p in runs)
    assert sorted(m["status"] for m in first["messages"]) == ["checked", "placed", "placed", "quarantined"]
    assert second["messages"] == [] and second["replies"] == []
    s = load_settings(home)
    assert sorted(r[0] for r in db(s, "select outcome from submissions")) == ["accepted", "rejected"]
    verdicts = [m for m in smtp_server.messages if m.message["In-Reply-To"]]
    assert sorted((m.message["To"], str(m.message["In-Reply-To"])) for m in verdicts) == sorted([
        (UTIL_GEM, "<outlook.1@gem-power.example.cn>"), (UTIL_HAIXI, "<202611161000.fox@haixi-power.example.cn>"),
        (UTIL_GEM, "<check.1@gem-power.example.cn>")])
    # what the UI shows of the run: its tables in Chinese (was UID, accepted/rejected, sent)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.parameters.get("home") == str(home)]
        tables = [(a.key, json.loads(a.data)) for a in client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[r.id for r in runs]),
            key=ArtifactFilterKey(any_=["mail-intake-messages", "mail-intake-replies"])))]
    # the first run's tables (the second read nothing new: no replies, a messages table saying 无)
    (replies,) = [rows for key, rows in tables if key == "mail-intake-replies"]
    assert sorted(r["结果"] for r in replies) == ["已接收", "已退回"], replies
    assert {r["回复"] for r in replies} == {"已发送"}, replies
    messages = [row for key, rows in tables if key == "mail-intake-messages" for row in rows]
    assert sum("邮件编号" in m for m in messages) == 4 and not any("UID" in m for m in messages), messages


def test_a_mailbox_that_does_not_answer_is_retried_saying_so(prefect_harness, tmp_path):
    """IMAP on a closed port: before each of the policy's waits the console says why it waits and how long; after the
    last, one line saying the mailbox could not be reached (exit 1), never a silent wait of minutes."""
    from tests.conftest import harness_env

    home = tmp_path / "home"
    write_directory(home / "config" / "通讯录.xlsx")
    env = {**harness_env(), "HAZARDNET_MAIL_RETRY_DELAYS": "[1, 2]", "HAZARDNET_IMAP_HOST": "127.0.0.1",
           "HAZARDNET_IMAP_PORT": "1", "HAZARDNET_IMAP_SECURITY": "none", "HAZARDNET_IMAP_USER": "u",
           "HAZARDNET_IMAP_PASSWORD": "p", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "hazardnet", "mail-intake", "--home", str(home)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 1, proc.stderr
    waits = [ln for ln in proc.stderr.splitlines() if "秒后重试" in ln]
    assert len(waits) == 2, proc.stderr
    assert all(ln.startswith("读取新邮件：") and "127.0.0.1" in ln for ln in waits), waits
    assert "1 秒后重试（第 1/2 次重试）" in waits[0] and "2 秒后重试（第 2/2 次重试）" in waits[1], waits
    assert "Traceback" not in proc.stderr


def test_without_a_directory_nothing_is_read(mail_settings, imap_server, smtp_server):  # noqa: F811
    from hazardnet.jobs.mail_intake import MailIntakeError

    mail_settings.directory_file.unlink()
    imap_server.append(outlook_message(GOOD.read_bytes()))
    with pytest.raises(MailIntakeError, match="没有可用的通讯录"):
        mail_intake(mail_settings, AS_OF)
    assert [flags for flags, _ in imap_server.folder("INBOX")] == ["\\Recent"] or \
        all("\\Seen" not in f for f, _ in imap_server.folder("INBOX"))
    assert imap_server.folder("Quarantine") == [] and smtp_server.messages == []


def test_prefecture_sender_without_a_county_in_the_subject_is_asked_for_it(mail_settings, imap_server, smtp_server):  # noqa: F811
    raw = foxmail_message(BAD.read_bytes()).replace(rfc2047("代报格尔木市隐患台账", "gbk"), rfc2047("代报台账", "gbk"))
    imap_server.append(raw)
    result = mail_intake(mail_settings, AS_OF)
    assert [m["status"] for m in result.messages] == ["done"] and result.replies == []
    assert db(mail_settings, "select count(*) from submissions") == [(0,)]
    [reply] = [m.message for m in smtp_server.messages]
    assert reply["To"] == UTIL_HAIXI and "无法确定台账所属的县(市)" in reply.get_body(("plain",)).get_content()


@pytest.mark.parametrize("limit, says", [({"mail_max_attachments": 1}, "超过 1 个的上限"),
                                         ({"mail_max_total_mb": 0}, "附件合计超过 0 MB"),
                                         ({"mail_max_attachment_mb": 0}, "超过 0 MB，未予处理")])
def test_limits_are_answered_and_nothing_over_them_is_ingested(limit, says, mail_settings, imap_server, smtp_server,  # noqa: F811
                                                               tmp_path):
    s = mail_settings.model_copy(update=limit)
    imap_server.append(wps_forward(delingha_register(tmp_path / "d.xlsx"), SEVERAL.read_bytes()))
    result = mail_intake(s, AS_OF)
    assert result.replies == [] and db(s, "select count(*) from submissions") == [(0,)]
    [reply] = [m.message for m in smtp_server.messages]
    text = reply.get_body(("plain",)).get_content()
    assert reply["To"] == UTIL_DLH and says in text and "压缩包" in text
    assert str(reply["In-Reply-To"]) == "<wps.42@dlh-power.example.cn>"


NAME = "格尔木市11月隐患台账（修订版）.xlsx"
_U8 = "".join(f"%{b:02X}" for b in NAME.encode())
_GBK = "".join(f"%{b:02X}" for b in NAME.encode("gbk"))


@pytest.mark.parametrize("disposition", [
    f"filename*=utf-8''{_U8}".encode(),  # RFC 2231 with a charset (Outlook, Thunderbird)
    f"filename*=gbk''{_GBK}".encode(),  # RFC 2231 in GBK
    f"filename*={_U8}".encode(),  # RFC 2231 without a charset
    f"filename*0*=utf-8''{_U8[:45]};\r\n filename*1*={_U8[45:]}".encode(),  # continued
    f'filename*0="{_U8[:45]}"; filename*1="{_U8[45:]}"'.encode(),  # continued, percent-escaped, no charset
    b'filename="' + rfc2047(NAME, "utf-8") + b'"',
    b'filename="' + rfc2047(NAME, "gb2312") + b'"',  # GBK text labelled gb2312 (read as GB18030)
    b'filename="' + rfc2047(NAME, "gb18030") + b'"',
    b'filename="' + NAME.encode("gbk") + b'"',  # raw GBK bytes (Foxmail)
    b'filename="' + NAME.encode("utf-8") + b'"',  # raw UTF-8 bytes
])
def test_one_name_in_every_encoding(disposition):
    raw = message([b"From: a@b.cn", b"Message-ID: <n@b.cn>"], "x", [part(GOOD.read_bytes(), disposition)])
    assert [a.name for a in attachments(parse_message(raw))] == [NAME]


def test_quarantine_under_a_servers_namespace_prefix(tmp_path, monkeypatch, smtp_server):  # noqa: F811
    server = DovecotServer(prefix="INBOX.")
    try:
        server.append(stranger_message(GOOD.read_bytes()))
        for var in ("HAZARDNET_HOME", "HAZARDNET_SMTP_HOST", "HAZARDNET_DB_URL", "HAZARDNET_IMAP_HOST"):
            monkeypatch.delenv(var, raising=False)
        s = load_settings(tmp_path / "home", settle_seconds=0, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                          smtp_security="none", mail_retry_delays=[], imap_host="127.0.0.1", imap_port=server.port,
                          imap_security="none", imap_user=server.user, imap_password=server.password)
        write_directory(s.directory_file)
        result = mail_intake(s, AS_OF)
        assert [m["status"] for m in result.messages] == ["quarantined"]
        assert len(server.folder("INBOX.Quarantine")) == 1 and server.folder("INBOX") == []
    finally:
        server.stop()
