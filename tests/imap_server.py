"""A real IMAP server for tests: a private Dovecot instance on loopback (its own configuration, users and
maildirs in a temporary folder, a free port), started and stopped by the test. Dovecot comes from Debian
(scripts/ensure_dovecot.sh); without it the tests that need it are skipped with that reason.

    def test_something(imap_server):
        imap_server.append(raw_bytes)                  # put a message in the user's INBOX (IMAP APPEND, unseen)
        imap_server.folder("Quarantine")               # [(flags, bytes)] of a folder
        settings(imap_host=imap_server.host, imap_port=imap_server.port, imap_security="none",
                 imap_user=imap_server.user, imap_password=imap_server.password)

`DovecotServer(ssl_certificate=cert)` serves implicit TLS (port 993 style) with that certificate;
`DovecotServer(ssl_certificate=cert, starttls=True)` plain IMAP that requires STARTTLS before login;
`DovecotServer(prefix="INBOX.")` keeps every folder under INBOX. (as Courier-style servers do).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DovecotServer:
    """One Dovecot with one mail user, listening on 127.0.0.1."""

    user = "registers@haixi.example.cn"
    password = "imap-test-password-8d1f"  # noqa: S105 - a test server's own password

    def __init__(self, ssl_certificate=None, starttls: bool = False, prefix: str = ""):
        binary = dovecot_binary()
        if binary is None:
            pytest.skip("Dovecot is not installed (scripts/ensure_dovecot.sh installs dovecot-imapd as root)")
        self.binary = binary
        self.host = "127.0.0.1"
        self.port = free_port()
        self.ssl = ssl_certificate is not None and not starttls  # implicit TLS from the first byte
        # not under pytest's tmp_path: Dovecot's unprivileged processes must be able to walk into it
        self.root = Path(tempfile.mkdtemp(prefix="hazardnet-dovecot-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:  # Dovecot refuses mail access as root: the mail belongs to nobody
            login_user, internal_user, internal_group = "dovenull", "dovecot", "dovecot"
            mail_uid, mail_gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
        else:  # everything runs as this user
            login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
            internal_group = grp.getgrgid(os.getegid()).gr_name
            mail_uid, mail_gid = os.geteuid(), os.getegid()
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, mail_uid, mail_gid)
        (self.root / "passwd").write_text(
            f"{self.user}:{{PLAIN}}{self.password}:{mail_uid}:{mail_gid}::{mail}/home::\n")
        ssl_lines = (f"ssl = required\nssl_cert = <{ssl_certificate.cert_file}\nssl_key = <{ssl_certificate.key_file}\n"
                     if ssl_certificate is not None else "ssl = no\n")
        listener = (f"  inet_listener imap {{\n    port = 0\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n"
                    f"    port = {self.port}\n    ssl = yes\n  }}\n" if self.ssl else
                    f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
                    f"  inet_listener imaps {{\n    port = 0\n  }}\n")
        self.conf = self.root / "dovecot.conf"
        self.conf.write_text(f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {min(mail_uid, 100)}
mail_location = maildir:{mail}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
}}
service imap-login {{
  chroot =
{listener}}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
namespace inbox {{
  inbox = yes
  separator = {"." if prefix else "/"}
  prefix = {prefix}
}}
""")
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(self.conf)], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        for _ in range(200):
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start: {self.process.stdout.read().decode(errors='replace')}"
                                   f"{self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self) -> imaplib.IMAP4:
        if self.ssl:
            import ssl

            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            imap = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=ctx)
        else:
            imap = imaplib.IMAP4(self.host, self.port)
            if "STARTTLS" in imap.capabilities:
                import ssl

                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                imap.starttls(ssl_context=ctx)
        imap.login(self.user, self.password)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """IMAP APPEND, unseen, as a mail server delivers a message."""
        imap = self.client()
        try:
            typ, data = imap.append(folder, None, None, raw)
            assert typ == "OK", data
        finally:
            imap.logout()

    def folder(self, name: str = "INBOX") -> list[tuple[str, bytes]]:
        """(flags, exact bytes) of every message in a folder ([] when the folder does not exist)."""
        imap = self.client()
        try:
            typ, _ = imap.select(f'"{name}"', readonly=True)
            if typ != "OK":
                return []
            typ, data = imap.uid("SEARCH", "ALL")
            out = []
            for uid in (data[0] or b"").split():
                typ, got = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                head, body = got[0]
                flags = re.search(rb"FLAGS \(([^)]*)\)", head)
                out.append((flags.group(1).decode() if flags else "", body))
            return out
        finally:
            imap.logout()


@pytest.fixture
def imap_server():
    server = DovecotServer()
    try:
        yield server
    finally:
        server.stop()
