"""A real SMTP server on loopback for tests (aiosmtpd), able to misbehave on command.

Use the `smtp_server` fixture (import it into a test module or a conftest with
`from tests.smtp_server import smtp_server  # noqa: F401`), or `LoopbackSMTP()` as a context manager:

    def test_something(smtp_server):
        settings = load_settings(home, smtp_host=smtp_server.host, smtp_port=smtp_server.port,
                                 smtp_security="none")
        smtp_server.refuse("bad@example.cn")            # 550 at RCPT TO for this address, every time
        smtp_server.fail_next(2, code=421)              # the next 2 transactions get 421 at MAIL FROM
        smtp_server.fail_next(1, code=451, at="DATA")   # ... or 451 after the data was sent
        smtp_server.drop_next(1)                        # close the connection once the data was sent
        ...send...
        for m in smtp_server.messages:                  # what was accepted, in order
            m.envelope_from, m.rcpt_tos, m.data, m.message  # message: email.message.EmailMessage
        smtp_server.transactions                        # every MAIL FROM seen, with its fate

`LoopbackSMTP(credentials={"user": "secret"})` requires AUTH (PLAIN/LOGIN, over plain text unless TLS is on).

TLS with a certificate made for the test (`make_certificate(folder)`: an internal CA and a server certificate
for 127.0.0.1 and localhost signed by it; the client trusts `cert.ca_file`):

    cert = make_certificate(tmp_path)
    LoopbackSMTP(tls="starttls", certificate=cert)   # STARTTLS offered and required before MAIL and AUTH
    LoopbackSMTP(tls="ssl", certificate=cert)        # implicit TLS from the first byte (port 465 style)
    m.tls, m.starttls                                # "TLSv1.3", True: how each accepted message came in

Accepted messages only are in `messages`; refused, failed and dropped transactions are counted in
`transactions` (each a dict: mail_from, rcpt_tos, outcome), so tests can prove a retry happened.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import warnings
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class ReceivedMessage:
    """One message the server accepted: the envelope and the exact bytes of DATA."""

    envelope_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: str | None = None  # the TLS version of the connection it came over ("TLSv1.3"), None: plain text
    starttls: bool = False  # True when the connection was upgraded with STARTTLS (not implicit TLS)

    @property
    def message(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.data)


@dataclass
class _Misbehaviour:
    refused: dict[str, str] = field(default_factory=dict)  # address (lower case) -> answer
    failures: list[tuple[str, str]] = field(default_factory=list)  # (stage, answer), one per transaction
    drops: int = 0


def _tls_of(server) -> str | None:
    """The TLS version of an aiosmtpd SMTP connection (implicit TLS or after STARTTLS), None when plain."""
    ssl_object = server.transport.get_extra_info("ssl_object") if server.transport is not None else None
    return ssl_object.version() if ssl_object is not None else None


class _Handler:
    def __init__(self, server: LoopbackSMTP):
        self.server = server

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.server._lock:
            stage_answer = self.server._plan.failures[0] if self.server._plan.failures else None
            if stage_answer and stage_answer[0] == "MAIL":
                self.server._plan.failures.pop(0)
                self.server.transactions.append({"mail_from": address, "rcpt_tos": [], "outcome": stage_answer[1]})
                return stage_answer[1]
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.server._lock:
            answer = self.server._plan.refused.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        tls = _tls_of(server)
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "outcome": "", "tls": tls}
        with self.server._lock:
            self.server.transactions.append(record)
            if self.server._plan.drops:
                self.server._plan.drops -= 1
                record["outcome"] = "dropped"
                server.transport.close()  # the client never hears whether its message was taken
                return "250 OK"
            stage_answer = self.server._plan.failures[0] if self.server._plan.failures else None
            if stage_answer and stage_answer[0] == "DATA":
                self.server._plan.failures.pop(0)
                record["outcome"] = stage_answer[1]
                return stage_answer[1]
            record["outcome"] = "250 OK"
            self.server.messages.append(ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos),
                                                        bytes(envelope.original_content), tls,
                                                        session.ssl is not None))
        return "250 OK"


class _LoopbackController(Controller):
    """A Controller bound to port 0 (the OS picks a free port; no race with other tests)."""

    def factory(self):
        with warnings.catch_warnings():  # AUTH without TLS is what a loopback test wants
            warnings.simplefilter("ignore")
            return super().factory()

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class LoopbackSMTP:
    """An SMTP server on 127.0.0.1 with a free port, capturing accepted messages."""

    host = "127.0.0.1"

    def __init__(self, credentials: dict[str, str] | None = None,
                 tls: Literal["starttls", "ssl"] | None = None, certificate: TestCertificate | None = None):
        """`credentials` (user -> password) turns on AUTH PLAIN/LOGIN and requires it (after STARTTLS when
        `tls="starttls"`). `tls` with `certificate` serves STARTTLS (required before MAIL) or implicit TLS."""
        self.messages: list[ReceivedMessage] = []
        self.transactions: list[dict] = []
        self.logins: list[str] = []  # users that logged in successfully
        self.login_tls: list[str | None] = []  # the TLS version each of those logins came over (None: plain)
        self._plan = _Misbehaviour()
        self._lock = threading.Lock()
        kwargs = {}
        if credentials is not None:
            kwargs = {"authenticator": self._authenticator(credentials), "auth_require_tls": tls is not None,
                      "auth_required": True}
        if tls is not None:
            assert tls in ("starttls", "ssl") and certificate is not None, "TLS needs tls='starttls'|'ssl' and a certificate"
            context = certificate.server_context()
            kwargs.update({"tls_context": context, "require_starttls": True} if tls == "starttls"
                          else {"ssl_context": context})
        self.tls = tls
        self._controller = _LoopbackController(_Handler(self), hostname=self.host, port=0, **kwargs)

    def _authenticator(self, credentials: dict[str, str]):
        def check(server, session, envelope, mechanism, auth_data):
            user = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
            ok = isinstance(auth_data, LoginPassword) and credentials.get(user) == auth_data.password.decode()
            if ok:
                self.logins.append(user)
                self.login_tls.append(_tls_of(server))
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        return check

    # ---- life cycle ----
    def start(self) -> LoopbackSMTP:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> LoopbackSMTP:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._controller.port

    # ---- misbehaviour on command ----
    def refuse(self, address: str, answer: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Answer RCPT TO for `address` with `answer` (a 5xx is permanent, a 4xx temporary), every time."""
        with self._lock:
            self._plan.refused[address.lower()] = answer

    def accept(self, address: str) -> None:
        """Stop refusing `address`."""
        with self._lock:
            self._plan.refused.pop(address.lower(), None)

    def fail_next(self, n: int, code: int = 421, at: str = "MAIL", text: str | None = None) -> None:
        """The next `n` transactions fail with `code` at MAIL FROM (default) or after DATA (`at="DATA"`)."""
        assert at in ("MAIL", "DATA")
        answer = f"{code} {text or ('4.3.2 Service temporarily unavailable' if code < 500 else '5.7.1 Rejected')}"
        with self._lock:
            self._plan.failures.extend([(at, answer)] * n)

    def drop_next(self, n: int = 1) -> None:
        """Close the connection after the next `n` messages' data arrived, before answering (not stored)."""
        with self._lock:
            self._plan.drops += n

    def reset(self) -> None:
        """Forget captured messages and logins, and any pending misbehaviour."""
        with self._lock:
            self.messages.clear()
            self.transactions.clear()
            self.logins.clear()
            self.login_tls.clear()
            self._plan = _Misbehaviour()

    # ---- inspection helpers ----
    def messages_to(self, address: str) -> list[ReceivedMessage]:
        """Accepted messages whose envelope includes `address`."""
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]


# ---- certificates made for a test ------------------------------------------------------------------------
@dataclass(frozen=True)
class TestCertificate:
    """PEM files: an internal CA (`ca_file`, what HAZARDNET_SMTP_CA_FILE names) and a server certificate
    (`cert_file`, `key_file`) it signed."""

    __test__ = False  # not a pytest test class

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # verifies no client certificate
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificate(folder: Path, names: tuple[str, ...] = ("127.0.0.1", "localhost"),
                     ca_name: str = "海西供电测试内部 CA") -> TestCertificate:
    """A new CA and a server certificate for `names` (IP addresses or DNS names) signed by it, as PEM files
    in `folder`. EC keys: made in milliseconds."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_subject).issuer_name(ca_subject)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    out = TestCertificate(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    out.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return out


@pytest.fixture
def smtp_server():
    """A fresh loopback SMTP server per test (starting one takes milliseconds)."""
    with LoopbackSMTP() as server:
        yield server
