"""Two real SMS gateways on loopback, for the SMS tests.

- `HttpSmsGateway`: an HTTP server (stdlib http.server) taking the JSON that Apprise's json:// plugin posts
  (`{"title", "message", "mobile", …}`). Faults on demand: answer 500 to the next N posts, stall the next N
  (no answer within the client's time-out, nothing recorded), refuse some numbers (400).
- `SmppGateway`: a small SMPP server built on smpplib's PDU classes: answers bind_transmitter, submit_sm
  (the UCS-2 parts reassembled per number), enquire_link and unbind. Fault on demand: drop the connection
  right after the bind of the next N sessions.

Both record what they accepted as `messages`: a list of (mobile, text).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class HttpSmsGateway:
    def __init__(self):
        self.messages: list[tuple[str, str]] = []
        self.posts: list[dict] = []  # every JSON body received, answered or not
        self.refuse: set[str] = set()
        self.fail_next = 0
        self.stall_next = 0
        self.stall_s = 3.0
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with gateway.lock:
                    gateway.posts.append(body)
                    stall = gateway.stall_next > 0
                    fail = not stall and gateway.fail_next > 0
                    if stall:
                        gateway.stall_next -= 1
                    elif fail:
                        gateway.fail_next -= 1
                if stall:  # the client times out first; the message is not taken
                    time.sleep(gateway.stall_s)
                    self.close_connection = True
                    return
                mobile = str(body.get("mobile", ""))
                if fail:
                    code, answer = 500, {"error": "gateway overloaded"}
                elif mobile in gateway.refuse:
                    code, answer = 400, {"error": "number refused"}
                else:
                    with gateway.lock:
                        gateway.messages.append((mobile, body.get("message", "")))
                    code, answer = 200, {"ok": True}
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, extra: str = "") -> str:
        """The HAZARDNET_SMS_URL for this gateway (a short read time-out so a stall ends quickly)."""
        return f"json://127.0.0.1:{self.port}/sms?:mobile={{mobile}}&rto=1&cto=1{extra}"

    def to(self, mobile: str) -> list[str]:
        return [t for m, t in self.messages if m == mobile]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class _Sequence:
    """What smpplib's PDU classes ask of a client: a sequence counter."""

    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


class SmppGateway:
    """A minimal SMSC: one thread per connection, PDUs parsed and answered with smpplib's classes."""

    def __init__(self, system_id: str = "hazardnet", password: str = "s3cr3t"):
        from smpplib import consts  # noqa: F401 - fail early when smpplib is missing

        self.system_id, self.password = system_id, password
        self.messages: list[tuple[str, str]] = []
        self.binds: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.drop_after_bind = 0
        self.lock = threading.Lock()
        self._parts: dict[tuple[str, int], dict[int, str]] = {}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, source: str = "1069000012345") -> str:
        return f"smpp://{self.system_id}:{self.password}@127.0.0.1:{self.port}/{source}/{{mobile}}"

    def to(self, mobile: str) -> list[str]:
        return [t for m, t in self.messages if m == mobile]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.sock.close()

    # ---- the server --------------------------------------------------------------------------------
    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    @staticmethod
    def _read(conn) -> bytes | None:
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (length,) = struct.unpack(">L", head)
        body = b""
        while len(body) < length - 4:
            chunk = conn.recv(length - 4 - len(body))
            if not chunk:
                return None
            body += chunk
        return head + body

    def _session(self, conn):
        from smpplib import consts, smpp

        seq = _Sequence()
        with conn:
            conn.settimeout(30)
            try:
                while True:
                    raw = self._read(conn)
                    if raw is None:
                        return
                    pdu = smpp.parse_pdu(raw, client=seq, allow_unknown_opt_params=True)
                    if pdu.command in ("bind_transmitter", "bind_transceiver"):
                        ok = (pdu.system_id.decode() if isinstance(pdu.system_id, bytes) else pdu.system_id,
                              pdu.password.decode() if isinstance(pdu.password, bytes) else pdu.password) == \
                            (self.system_id, self.password)
                        with self.lock:
                            self.binds.append((str(pdu.system_id), "ok" if ok else "refused"))
                        resp = smpp.make_pdu(f"{pdu.command}_resp", client=seq, sequence=pdu.sequence,
                                             system_id="SMSC",
                                             status=consts.SMPP_ESME_ROK if ok else consts.SMPP_ESME_RINVPASWD)
                        conn.sendall(resp.generate())
                        with self.lock:
                            drop = self.drop_after_bind > 0
                            if drop:
                                self.drop_after_bind -= 1
                        if drop or not ok:
                            conn.shutdown(socket.SHUT_RDWR)
                            return
                    elif pdu.command == "submit_sm":
                        self._submitted(pdu)
                        resp = smpp.make_pdu("submit_sm_resp", client=seq, sequence=pdu.sequence,
                                             message_id=f"m{len(self.messages)}")
                        conn.sendall(resp.generate())
                    elif pdu.command == "enquire_link":
                        conn.sendall(smpp.make_pdu("enquire_link_resp", client=seq, sequence=pdu.sequence).generate())
                    elif pdu.command == "unbind":
                        conn.sendall(smpp.make_pdu("unbind_resp", client=seq, sequence=pdu.sequence).generate())
                        return
            except OSError:
                return
            except Exception as exc:  # a PDU this server cannot handle: the test asserts there was none
                self.errors.append(repr(exc))

    def _submitted(self, pdu) -> None:
        dest = pdu.destination_addr.decode() if isinstance(pdu.destination_addr, bytes) else str(pdu.destination_addr)
        data = pdu.short_message
        coding = int(pdu.data_coding or 0)
        udh = int(pdu.esm_class or 0) & 0x40
        ref = total = seq = 0
        if udh:
            n = data[0]
            header, data = data[1:1 + n], data[1 + n:]
            if header[0] == 0x00:  # concatenation, 8-bit reference
                ref, total, seq = header[2], header[3], header[4]
            elif header[0] == 0x08:  # 16-bit reference
                ref, total, seq = (header[2] << 8) | header[3], header[4], header[5]
        text = data.decode("utf-16-be") if coding == 8 else data.decode("latin-1")
        with self.lock:
            if not udh or total <= 1:
                self.messages.append((dest, text))
                return
            parts = self._parts.setdefault((dest, ref), {})
            parts[seq] = text
            if len(parts) == total:
                self.messages.append((dest, "".join(parts[i] for i in sorted(parts))))
                del self._parts[(dest, ref)]


@pytest.fixture
def http_gateway():
    with HttpSmsGateway() as gw:
        yield gw


@pytest.fixture
def smpp_gateway():
    with SmppGateway() as gw:
        yield gw
