"""Mail faults: the bulletin killed mid-send, a slow server, a server that misbehaves every way at once,
and the SMTP password under all of it.

The SMTP server (tests/smtp_server.py) runs in the test process; the bulletin runs in a subprocess so
that it can be SIGKILLed at the mail failpoints (hazardnet/failpoints.py). The world — three counties'
registers, eleven directory rows, nine messages — is tests/test_bulletin.py's.

The promise, and its one documented limit: after any crash the next run sends exactly the messages not
yet sent — except that a kill in the instant between the server's "250 OK" and the ledger's commit
(failpoint `mail_after_send`) cannot be told from a kill just before the "250": that one message is sent
again, under the same Message-ID, so that mail clients show it once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

from hazardnet.delivery.ledger import DeliveryLedger
from hazardnet.delivery.mail import SmtpTransport
from hazardnet.settings import load_settings
from hazardnet.store import Store
from tests.smtp_server import LoopbackSMTP, smtp_server  # noqa: F401
from tests.test_bulletin import AS_OF, CUST_C, DIRECTORY, HAZARDS, NOV, record_registers, write_directory_file
from tests.test_crash_recovery import ROOT, assert_no_survivors

ALL_ADDRESSES = sorted({a for row in DIRECTORY for a in row[5].split("；")})
CUST_D = "dianqi@mysm.example.cn"  # the customer with nothing in scope: never mailed
DELIVERABLE = sorted(set(ALL_ADDRESSES) - {CUST_D})

SEND = textwrap.dedent("""
    import datetime as dt, json, sys
    from hazardnet.delivery.mail import SmtpTransport
    from hazardnet.publish.bulletin import Period
    from tests.jobs import bulletin_job
    from hazardnet.settings import load_settings
    from hazardnet.store import Store
    settings = load_settings(sys.argv[1])
    store = Store(settings.database_url)
    result = bulletin_job(settings, store, Period(2026, 11), dt.date(2026, 11, 15),
                                   SmtpTransport(settings), retries=int(sys.argv[2]))
    store.dispose()
    print(json.dumps(result, ensure_ascii=False, default=str))
""")


@pytest.fixture
def home(tmp_path):
    """A home folder holding the world: registers in the store, the directory in inbox/."""
    home = tmp_path / "home"
    home.mkdir()
    store = Store(f"sqlite:///{home / 'hazardnet.db'}")
    record_registers(store, HAZARDS)
    store.dispose()
    write_directory_file(load_settings(home).directory_file, DIRECTORY)
    return home


def send(home: Path, port: int, *, failpoint: str | None = None, retries: int = 0, timeout_s: float = 30,
         extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDNET_")}
    env.update(HAZARDNET_SMTP_HOST="127.0.0.1", HAZARDNET_SMTP_PORT=str(port), HAZARDNET_SMTP_SECURITY="none",
               HAZARDNET_SMTP_TIMEOUT_S=str(timeout_s), **(extra_env or {}))
    if failpoint:
        env["HAZARDNET_FAILPOINT"] = failpoint
    proc = subprocess.Popen([sys.executable, "-c", SEND, str(home), str(retries)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=300)  # hang safety only
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_no_survivors(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def received(server) -> Counter:
    """(address, Message-ID) -> how many times that address got that message."""
    return Counter((r.lower(), m.message["Message-ID"]) for m in server.messages for r in m.rcpt_tos)


def ledger_entries(home: Path):
    store = Store(f"sqlite:///{home / 'hazardnet.db'}")
    try:
        return DeliveryLedger(store).entries("bulletin", "2026-11")
    finally:
        store.dispose()


@pytest.mark.parametrize("failpoint", [
    "mail_before_send:1", "mail_before_send:4", "mail_after_send:1", "mail_after_send:5",
    pytest.param("mail_after_record:1", marks=pytest.mark.slow), "mail_after_record:9",
])
def test_bulletin_killed_mid_send_next_run_sends_exactly_what_is_missing(home, smtp_server, failpoint):  # noqa: F811
    killed = send(home, smtp_server.port, failpoint=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert f"HAZARDNET_FAILPOINT hit {failpoint}" in killed.stderr
    before = received(smtp_server)
    ledger_before = {e.recipient_key: e for e in ledger_entries(home)}

    finished = send(home, smtp_server.port)
    assert finished.returncode == 0, finished.stderr[-2000:]
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    after = received(smtp_server)

    # every deliverable address has exactly one Message-ID
    per_address: dict[str, set] = {}
    for (address, mid) in after:
        per_address.setdefault(address, set()).add(mid)
    assert sorted(per_address) == DELIVERABLE
    assert all(len(mids) == 1 for mids in per_address.values()), per_address
    # nobody who had it before the crash got it again — but for the message in flight at mail_after_send
    repeated = {key: n for key, n in after.items() if n > 1}
    if failpoint.startswith("mail_after_send"):
        assert len({mid for _, mid in repeated}) == 1, repeated  # one message, same Message-ID both times
        assert all(n == 2 for n in repeated.values())
    else:
        assert not repeated, repeated
    statuses = Counter(d["status"] for d in result["deliveries"])
    assert statuses["failed"] == 0
    delivered_before = sum(e.is_delivered for e in ledger_before.values())
    assert statuses["skipped"] == delivered_before + 1  # those already delivered, and the nil customer
    entries = ledger_entries(home)
    assert len(entries) == 9 and all(e.status == "sent" and e.generation == 0 for e in entries)
    assert sum(before.values()) <= sum(after.values())


# ---- a slow server ----------------------------------------------------------------------------------
class _Tarpit(socketserver.ThreadingTCPServer):
    """An SMTP server that stalls: at the greeting, or after the message data (never answering it)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, stall_at: str):
        self.stall_at = stall_at
        self.release = threading.Event()
        self.connections = 0
        super().__init__(("127.0.0.1", 0), _TarpitHandler)


class _TarpitHandler(socketserver.StreamRequestHandler):
    def handle(self):
        server: _Tarpit = self.server  # type: ignore[assignment]
        server.connections += 1
        if server.stall_at == "greeting":
            server.release.wait(120)
            return
        self.wfile.write(b"220 tarpit ESMTP\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 tarpit\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                while (data := self.rfile.readline()) and data != b".\r\n":
                    pass
                server.release.wait(120)  # the message is in, the answer never comes
                return
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 OK\r\n")


@pytest.fixture(params=["greeting", "data"])
def tarpit(request):
    server = _Tarpit(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_slow_server_times_out_each_message_names_it_and_a_later_run_delivers_once(home, tarpit):
    slow = send(home, tarpit.server_address[1], timeout_s=0.5, retries=1)  # without the timeout: a hang
    assert slow.returncode == 0, slow.stderr[-2000:]
    result = json.loads(slow.stdout.strip().splitlines()[-1])
    failed = [d for d in result["deliveries"] if d["status"] == "failed"]
    assert len(failed) == 9 and all("127.0.0.1" in d["error"] and "Timeout" in d["error"] for d in failed)
    assert tarpit.connections == 18  # each message tried twice (retries=1), each attempt cut by the timeout

    with LoopbackSMTP() as good:
        fixed = send(home, good.port)
        assert fixed.returncode == 0, fixed.stderr[-2000:]
        got = received(good)
    assert sorted(a for a, _ in got) == DELIVERABLE and set(got.values()) == {1}


def test_server_misbehaving_every_way_still_delivers_each_deliverable_message_once(home, smtp_server):  # noqa: F811
    """421 at MAIL, 451 after DATA, a dropped connection mid-DATA, and one mailbox refused with 550."""
    smtp_server.fail_next(2, code=421)
    smtp_server.fail_next(1, code=451, at="DATA")
    smtp_server.drop_next(2)
    smtp_server.refuse(CUST_C)
    run = send(home, smtp_server.port, retries=6)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    [failed] = [d for d in result["deliveries"] if d["status"] == "failed"]
    assert CUST_C in failed["error"] and "550" in failed["error"]
    got = received(smtp_server)
    assert sorted(a for a, _ in got) == sorted(set(DELIVERABLE) - {CUST_C}) and set(got.values()) == {1}
    outcomes = Counter(t["outcome"][:3] for t in smtp_server.transactions)
    assert outcomes["421"] == 2 and outcomes["451"] == 1 and outcomes["dro"] == 2

    smtp_server.accept(CUST_C)
    again = send(home, smtp_server.port)
    assert again.returncode == 0
    got = received(smtp_server)
    assert sorted(a for a, _ in got) == DELIVERABLE and set(got.values()) == {1}


def test_connection_refused_names_the_server_and_nothing_is_lost(home):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = send(home, port, retries=1)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    failed = [d for d in result["deliveries"] if d["status"] == "failed"]
    assert len(failed) == 9 and all(f"127.0.0.1:{port}" in d["error"] for d in failed)
    with LoopbackSMTP() as good:
        assert send(home, good.port).returncode == 0
        got = received(good)
    assert sorted(a for a, _ in got) == DELIVERABLE and set(got.values()) == {1}


# ---- the password ------------------------------------------------------------------------------------
PASSWORD = "Hx-7q!very-secret-0977"
USER = "bulletin@haixi.example.cn"


def test_smtp_password_never_appears_in_output_errors_ledger_or_outbox(home):
    """Wrong password, then a server failing every way, then success: the password (from the environment,
    as in production) is in no stdout/stderr, result, ledger row, workbook, .eml or any other file."""
    env = {"HAZARDNET_SMTP_USER": USER, "HAZARDNET_SMTP_PASSWORD": PASSWORD}
    outputs = []
    with LoopbackSMTP(credentials={USER: PASSWORD + "-changed"}) as wrong:
        run = send(home, wrong.port, extra_env=env)
        outputs.append(run.stdout + run.stderr)
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert {d["status"] for d in result["deliveries"] if d["status"] != "skipped"} == {"failed"}
        assert all("拒绝登录" in d["error"] for d in result["deliveries"] if d["status"] == "failed")
    with LoopbackSMTP(credentials={USER: PASSWORD}) as good:
        good.fail_next(1, code=421)
        good.drop_next(1)
        good.refuse(CUST_C)
        run = send(home, good.port, extra_env=env, retries=3)
        outputs.append(run.stdout + run.stderr)
        assert good.logins and len(good.messages) == 8
        run = send(home, good.port, extra_env={**env, "HAZARDNET_FAILPOINT": "mail_after_send:1"})
        outputs.append(run.stdout + run.stderr)  # a crash report must not show it either
    assert all(PASSWORD not in text for text in outputs)
    needle = PASSWORD.encode()
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert needle not in data and PASSWORD.encode("utf-16-le") not in data, path
