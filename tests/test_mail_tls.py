"""SMTP over TLS against a real server on loopback: STARTTLS and implicit TLS with a certificate made for the
test by an "internal CA", verified by the client against HAZARDNET_SMTP_CA_FILE, refused without it."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr

from hazardnet.delivery.mail import PermanentMailError, SmtpTransport, build_message
from hazardnet.settings import load_settings
from tests.smtp_server import LoopbackSMTP, make_certificate

USER = "bulletin@haixi.example.cn"
PASSWORD = "Tls-secret-8812"
TO = ["a@gem.example.cn", "b@gem.example.cn"]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """An internal CA and a certificate for 127.0.0.1 / localhost signed by it."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """Another internal CA (with its own server certificate): trusting it does not make `cert` trusted."""
    return make_certificate(tmp_path_factory.mktemp("other"), ca_name="其他单位 CA")


def tls_settings(settings, server: LoopbackSMTP, security: str, ca_file=None, **update):
    return settings.model_copy(update={"smtp_host": server.host, "smtp_port": server.port,
                                       "smtp_security": security, "smtp_ca_file": ca_file, **update})


def sample(settings):
    return build_message(settings, to=TO, subject="【用电安全1+1+1工作网】TLS 测试", body="格尔木市人民政府：\n正文。",
                         attachment=("通报.xlsx", b"PK\x03\x04 workbook"))


def assert_no_traceback(exc: BaseException) -> None:
    assert exc.__cause__ is None and exc.__suppress_context__  # raised `from None`: no chained traceback


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_delivered_over_tls_with_the_internal_ca(settings, cert, security):
    """With HAZARDNET_SMTP_CA_FILE naming the CA, the certificate verifies and the message goes over TLS."""
    with LoopbackSMTP(tls=security, certificate=cert) as server:
        mail = sample(settings)
        receipt = SmtpTransport(tls_settings(settings, server, security, cert.ca_file)).deliver(mail, TO)
        assert receipt.status == "sent" and receipt.accepted == TO
        [received] = server.messages
        assert received.data == mail.data and received.rcpt_tos == TO
        assert received.tls in ("TLSv1.2", "TLSv1.3")  # the server saw the message over TLS
        assert received.starttls is (security == "starttls")  # upgraded with STARTTLS vs TLS from the first byte


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_certificate_not_trusted_without_the_ca_file(settings, cert, security):
    """The system CA store does not know the internal CA: permanent error naming host:port and the setting."""
    with LoopbackSMTP(tls=security, certificate=cert) as server:
        transport = SmtpTransport(tls_settings(settings, server, security))
        with pytest.raises(PermanentMailError) as exc:
            transport.deliver(sample(settings), TO)
        reason = exc.value.reason
        assert f"邮件服务器 {server.host}:{server.port} 的证书未通过验证" in reason
        assert "签发证书的 CA 不在受信任的 CA 中" in reason and "HAZARDNET_SMTP_CA_FILE" in reason
        assert_no_traceback(exc.value)
        assert server.messages == [] and server.transactions == []  # not even MAIL FROM: nothing delivered


def test_login_over_starttls(settings, cert):
    """AUTH is offered only after STARTTLS: the login and the message both go over the encrypted connection."""
    with LoopbackSMTP(credentials={USER: PASSWORD}, tls="starttls", certificate=cert) as server:
        s = tls_settings(settings, server, "starttls", cert.ca_file, smtp_user=USER,
                         smtp_password=SecretStr(PASSWORD))
        assert SmtpTransport(s).deliver(sample(settings), TO).accepted == TO
        assert server.logins == [USER] and server.login_tls[0] in ("TLSv1.2", "TLSv1.3")
        assert [m.tls is not None and m.starttls for m in server.messages] == [True]

        # "none" against this server: it offers no AUTH in plain text, so the password is never sent
        with pytest.raises(PermanentMailError, match="不支持登录（AUTH）") as exc:
            SmtpTransport(s.model_copy(update={"smtp_security": "none"})).deliver(sample(settings), TO)
        assert PASSWORD not in exc.value.reason
        assert server.logins == [USER] and len(server.messages) == 1


def test_starttls_not_offered_is_a_permanent_error(settings):
    """A plain-text server where STARTTLS is configured: a configuration error, not worth retrying."""
    with LoopbackSMTP() as server:
        with pytest.raises(PermanentMailError) as exc:
            SmtpTransport(tls_settings(settings, server, "starttls")).deliver(sample(settings), TO)
        assert exc.value.reason == (f"邮件服务器 {server.host}:{server.port} 不支持STARTTLS 加密，"
                                    f"请检查 HAZARDNET_SMTP_SECURITY 与端口。")
        assert server.messages == [] and server.transactions == []


def test_certificate_problems_are_named(settings, cert, other_ca, tmp_path):
    """Each way verification fails says what to fix; nothing is delivered in any of them."""
    with LoopbackSMTP(tls="starttls", certificate=cert) as server:
        where = f"{server.host}:{server.port}"

        def refused(ca_file) -> str:
            with pytest.raises(PermanentMailError) as exc:
                SmtpTransport(tls_settings(settings, server, "starttls", ca_file)).deliver(sample(settings), TO)
            assert_no_traceback(exc.value)
            return exc.value.reason

        reason = refused(other_ca.ca_file)  # a CA file, but not the one that signed this server's certificate
        assert reason.startswith(f"邮件服务器 {where} 的证书未通过验证（签发证书的 CA 不在受信任的 CA 中）")
        assert f"请确认 HAZARDNET_SMTP_CA_FILE（{other_ca.ca_file}）是签发该服务器证书的 CA 证书" in reason

        missing = tmp_path / "没有这个文件.pem"
        assert refused(missing) == f"HAZARDNET_SMTP_CA_FILE 指定的 CA 证书文件 {missing} 不存在。"
        not_pem = tmp_path / "ca.txt"
        not_pem.write_text("这不是证书", encoding="utf-8")
        assert "不是 PEM 格式的 CA 证书" in refused(not_pem)
        assert server.messages == [] and server.transactions == []

    named = make_certificate(tmp_path / "named", names=("mail.internal.example",))
    with LoopbackSMTP(tls="ssl", certificate=named) as server:  # trusted CA, but issued for another name
        with pytest.raises(PermanentMailError) as exc:
            SmtpTransport(tls_settings(settings, server, "ssl", named.ca_file)).deliver(sample(settings), TO)
        assert exc.value.reason == (f"邮件服务器 {server.host}:{server.port} 的证书未通过验证（证书上的 IP 地址与 "
                                    f"HAZARDNET_SMTP_HOST 不符），邮件未发送。请把 HAZARDNET_SMTP_HOST 设为证书上的服务器名称。")
        assert server.messages == []


def test_default_security_verifies_against_the_ca_file_from_the_environment(cert, monkeypatch, tmp_path):
    """Nothing but host, port and HAZARDNET_SMTP_CA_FILE in the environment: STARTTLS (the default), verified."""
    with LoopbackSMTP(tls="starttls", certificate=cert) as server:
        for var in ("HAZARDNET_SMTP_SECURITY", "HAZARDNET_SMTP_USER", "HAZARDNET_SMTP_PASSWORD"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("HAZARDNET_SMTP_HOST", server.host)
        monkeypatch.setenv("HAZARDNET_SMTP_PORT", str(server.port))
        monkeypatch.setenv("HAZARDNET_SMTP_CA_FILE", str(cert.ca_file))
        s = load_settings(tmp_path)
        assert s.smtp_security == "starttls" and s.smtp_ca_file == cert.ca_file
        assert SmtpTransport(s).deliver(sample(s), TO).accepted == TO
        assert [(m.tls is not None, m.starttls) for m in server.messages] == [(True, True)]


def test_the_client_context_verifies(cert):
    """The context handed to smtplib checks the chain and the host name, with or without a CA file."""
    from hazardnet.delivery.mail import tls_context

    for context in (tls_context(None), tls_context(cert.ca_file)):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(tls_context(cert.ca_file).get_ca_certs()) == 1  # exactly the internal CA, not the system store
