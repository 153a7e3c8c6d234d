"""Mail building and both transports, against a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from email import policy
from email.header import decode_header, make_header
from email.parser import BytesParser

import pytest

from hazardnet.delivery.mail import (
    EmlFileTransport,
    PermanentMailError,
    SmtpTransport,
    TemporaryMailError,
    build_message,
    make_transport,
)
from hazardnet.settings import load_settings
from tests.smtp_server import LoopbackSMTP, smtp_server  # noqa: F401

SUBJECT = "【用电安全1+1+1工作网】2026年11月电力安全隐患通报（格尔木市）"
FILE_NAME = "2026年11月电力安全隐患通报（格尔木市·青海盐湖钾肥股份有限公司）.xlsx"


@pytest.fixture
def smtp_settings(settings, smtp_server):  # noqa: F811
    return settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port,
                                       "smtp_security": "none"})


def sample(settings, to=("a@gem.example.cn", "b@gem.example.cn")):
    return build_message(settings, to=list(to), subject=SUBJECT, body="格尔木市人民政府：\n本月新发现隐患 3 条。",
                         attachment=(FILE_NAME, b"PK\x03\x04 workbook bytes"), file_stem="2026-11_格尔木市")


def test_message_is_7bit_crlf_and_decodes_to_chinese(settings):
    mail = sample(settings)
    data = mail.data
    assert data.isascii()  # any server, with or without 8BITMIME
    assert data.count(b"\n") == data.count(b"\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    msg = BytesParser(policy=policy.default).parsebytes(data)
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == settings.mail_from_name
    assert msg["From"].addresses[0].addr_spec == settings.mail_from
    assert [a.addr_spec for a in msg["To"].addresses] == ["a@gem.example.cn", "b@gem.example.cn"]
    assert msg.get_body(("plain",)).get_content().startswith("格尔木市人民政府：")
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == FILE_NAME  # RFC 2231 filename*
    assert str(make_header(decode_header(att.get_param("name")))) == FILE_NAME  # RFC 2047 name= for old clients
    assert att.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert att.get_content() == b"PK\x03\x04 workbook bytes"


def test_message_id_unique_and_date_local(settings):
    a, b = sample(settings), sample(settings)
    assert a.message_id != b.message_id
    msg = BytesParser(policy=policy.default).parsebytes(a.data)
    assert msg["Message-ID"] == a.message_id and a.message_id.endswith("@haixi.example.cn>")
    date = email.utils.parsedate_to_datetime(msg["Date"])
    assert date.utcoffset() == dt.timedelta(hours=8)  # Asia/Shanghai


def test_eml_file_holds_the_bytes_smtp_carries(settings, smtp_settings, smtp_server):  # noqa: F811
    mail = sample(settings)
    receipt = EmlFileTransport(settings.outbox / "mail").deliver(mail, mail.to)
    assert receipt.status == "written" and receipt.accepted == list(mail.to)
    sent = SmtpTransport(smtp_settings).deliver(mail, mail.to)
    assert sent.status == "sent" and sent.accepted == list(mail.to)
    [received] = smtp_server.messages
    with open(receipt.location, "rb") as fh:
        assert fh.read() == received.data == mail.data
    assert received.rcpt_tos == list(mail.to)
    assert received.envelope_from == settings.mail_from


def test_transport_choice_follows_settings(settings, smtp_settings):
    assert isinstance(make_transport(settings), EmlFileTransport)
    assert make_transport(settings).folder == settings.outbox / "mail"
    assert isinstance(make_transport(smtp_settings), SmtpTransport)


def test_refused_address_is_named_and_others_get_it(settings, smtp_settings, smtp_server):  # noqa: F811
    smtp_server.refuse("b@gem.example.cn")
    receipt = SmtpTransport(smtp_settings).deliver(sample(settings), ["a@gem.example.cn", "b@gem.example.cn"])
    assert receipt.accepted == ["a@gem.example.cn"]
    assert receipt.refused == {"b@gem.example.cn": "550 5.1.1 Mailbox unavailable"}
    assert [m.rcpt_tos for m in smtp_server.messages] == [["a@gem.example.cn"]]


def test_everyone_refused_is_a_receipt_not_an_exception(settings, smtp_settings, smtp_server):  # noqa: F811
    smtp_server.refuse("a@gem.example.cn")
    receipt = SmtpTransport(smtp_settings).deliver(sample(settings, to=["a@gem.example.cn"]), ["a@gem.example.cn"])
    assert receipt.accepted == [] and "a@gem.example.cn" in receipt.refused
    smtp_server.refuse("a@gem.example.cn", "450 4.2.1 Mailbox busy")
    receipt = SmtpTransport(smtp_settings).deliver(sample(settings, to=["a@gem.example.cn"]), ["a@gem.example.cn"])
    assert receipt.deferred == {"a@gem.example.cn": "450 4.2.1 Mailbox busy"}


@pytest.mark.parametrize("misbehave", ["421 at MAIL", "451 after DATA", "drop during DATA"])
def test_temporary_failures_raise_temporary_and_store_nothing(settings, smtp_settings, smtp_server, misbehave):  # noqa: F811
    if misbehave == "421 at MAIL":
        smtp_server.fail_next(1, code=421)
    elif misbehave == "451 after DATA":
        smtp_server.fail_next(1, code=451, at="DATA")
    else:
        smtp_server.drop_next(1)
    transport = SmtpTransport(smtp_settings)
    mail = sample(settings)
    with pytest.raises(TemporaryMailError):
        transport.deliver(mail, mail.to)
    assert smtp_server.messages == []
    assert transport.deliver(mail, mail.to).accepted == list(mail.to)  # the next attempt goes through
    assert len(smtp_server.messages) == 1


def test_permanent_data_refusal_raises_permanent(settings, smtp_settings, smtp_server):  # noqa: F811
    smtp_server.fail_next(1, code=554, at="DATA")
    with pytest.raises(PermanentMailError, match="554"):
        SmtpTransport(smtp_settings).deliver(sample(settings), ["a@gem.example.cn"])


def test_no_server_listening_is_temporary(settings, smtp_settings):
    with LoopbackSMTP() as server:
        port = server.port
    closed = smtp_settings.model_copy(update={"smtp_port": port})
    with pytest.raises(TemporaryMailError, match="无法连接"):
        SmtpTransport(closed).deliver(sample(settings), ["a@gem.example.cn"])


def test_login_with_password_and_the_password_never_shows(settings, caplog):
    password = "Zx9-very-secret-4417"
    with LoopbackSMTP(credentials={"bulletin@haixi.example.cn": password}) as server, \
            caplog.at_level(logging.DEBUG):
        base = settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port,
                                           "smtp_security": "none", "smtp_user": "bulletin@haixi.example.cn"})
        with pytest.raises(PermanentMailError, match="没有密码"):
            SmtpTransport(base)
        from pydantic import SecretStr

        good = SmtpTransport(base.model_copy(update={"smtp_password": SecretStr(password)}))
        assert good.deliver(sample(settings), ["a@gem.example.cn"]).accepted == ["a@gem.example.cn"]
        assert server.logins == ["bulletin@haixi.example.cn"]
        wrong = SmtpTransport(base, password="not-it")
        with pytest.raises(PermanentMailError, match="拒绝登录") as exc:
            wrong.deliver(sample(settings), ["a@gem.example.cn"])
        assert password not in repr(good) and "not-it" not in str(exc.value) and "not-it" not in repr(wrong)
    assert password not in caplog.text and "not-it" not in caplog.text


def test_settings_from_environment_select_smtp(monkeypatch, tmp_path):
    monkeypatch.setenv("HAZARDNET_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HAZARDNET_SMTP_PORT", "2525")
    monkeypatch.setenv("HAZARDNET_SMTP_SECURITY", "none")
    monkeypatch.setenv("HAZARDNET_MAIL_FROM", "tongbao@haixi.example.cn")
    s = load_settings(tmp_path)
    transport = make_transport(s)
    assert isinstance(transport, SmtpTransport) and transport.port == 2525
    assert build_message(s, to=["x@y.cn"], subject="测试", body="正文").envelope_from == "tongbao@haixi.example.cn"


@pytest.mark.parametrize("text, delays", [("0,0,0", [0, 0, 0]), ("5， 30", [5, 30]), ("[1.5, 2]", [1.5, 2]),
                                          ("[]", []), ("", [10, 60, 300])])
def test_mail_retry_delays_from_the_environment_drive_the_task_retries(monkeypatch, tmp_path, text, delays):
    from flows.runner import PrefectRunner
    from hazardnet.jobs.runner import RetryPolicy

    monkeypatch.setenv("HAZARDNET_MAIL_RETRY_DELAYS", text)
    s = load_settings(tmp_path)
    policy = RetryPolicy.of(s)
    assert s.mail_retry_delays == delays and list(policy.delays) == delays
    runner = PrefectRunner(policy)  # what every sending flow hands its job
    send = runner._task("发送通报", lambda item: item, io=True)  # an I/O step: a recipient's delivery
    assert (send.retries or 0) == len(delays) and list(send.retry_delay_seconds or []) == delays
    assert not runner._task("准备通报", lambda item: item, io=False).retries  # other steps are not retried


def test_mail_retry_delays_default_file_and_bad_values(monkeypatch, tmp_path):
    from hazardnet.settings import SettingsError

    monkeypatch.delenv("HAZARDNET_MAIL_RETRY_DELAYS", raising=False)
    assert load_settings(tmp_path).mail_retry_delays == [10, 60, 300]
    (tmp_path / "hazardnet.toml").write_text('mail_retry_delays = "2,4"\n', encoding="utf-8")
    assert load_settings(tmp_path).mail_retry_delays == [2, 4]
    (tmp_path / "hazardnet.toml").write_text("mail_retry_delays = [3]\n", encoding="utf-8")
    assert load_settings(tmp_path).mail_retry_delays == [3]
    for bad in ("-1", "10,abc"):
        monkeypatch.setenv("HAZARDNET_MAIL_RETRY_DELAYS", bad)
        with pytest.raises(SettingsError, match="HAZARDNET_MAIL_RETRY_DELAYS"):
            load_settings(tmp_path)


def test_password_from_a_prefect_secret_block(prefect_harness, settings, caplog):
    """HAZARDNET_SMTP_PASSWORD_BLOCK: the password lives in a Prefect Secret block on the server, not in the
    environment; a block name the server does not know is a permanent error that says what to do."""
    from prefect.blocks.system import Secret

    from flows.runner import PrefectRunner
    from hazardnet.jobs.wiring import mail_transport

    secret = PrefectRunner().secret  # what a flow's job looks secret blocks up with
    password = "Qm7-block-secret-2211"
    Secret(value=password).save("hazardnet-smtp-test", overwrite=True)
    with LoopbackSMTP(credentials={"bulletin@haixi.example.cn": password}) as server, \
            caplog.at_level(logging.DEBUG):
        base = settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port, "smtp_security": "none",
                                           "smtp_user": "bulletin@haixi.example.cn", "smtp_password": None,
                                           "smtp_password_block": "hazardnet-smtp-test"})
        transport = mail_transport(base, secret)
        assert transport.deliver(sample(settings), ["a@gem.example.cn"]).accepted == ["a@gem.example.cn"]
        assert server.logins == ["bulletin@haixi.example.cn"] and password not in repr(transport)
        with pytest.raises(PermanentMailError, match="找不到 Prefect Secret 块“no-such-block”"):
            mail_transport(base.model_copy(update={"smtp_password_block": "no-such-block"}), secret)
    assert password not in caplog.text


def test_every_mail_is_signed_once(settings, tmp_path):
    from hazardnet.delivery.letter import mail_signature
    from hazardnet.publish.mail_replies import verdict

    assert mail_signature(settings) == [settings.mail_from_name]  # 国网海西供电公司营销部 carries the company
    _title, body = verdict(settings, "格尔木市", "台账.xlsx", "duplicate", 0, [], "台账")
    lines = body.splitlines()
    assert settings.mail_from_name in lines and settings.company not in lines
    other = load_settings(tmp_path / "other", mail_from_name="用电安全隐患台账系统")
    assert mail_signature(other) == [other.company, "用电安全隐患台账系统"]  # a name without it keeps the company
