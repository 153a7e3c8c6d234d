"""A mail-intake run SIGKILLed at each of its failpoints (hazardnet/failpoints.py), then run again: every register
from a directory sender ingested once, every verdict replied once (one Message-ID per reply; the ledger may resend
a reply under its Message-ID only when the kill came between the server's acceptance and the ledger's record)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import AS_OF, DATA
from tests.imap_server import imap_server  # noqa: F401
from tests.smtp_server import smtp_server  # noqa: F401
from tests.test_mail_intake import delingha_register, foxmail_message, outlook_message, wps_forward, write_directory

ROOT = Path(__file__).resolve().parents[1]
RUN = textwrap.dedent(f"""
    import datetime as dt
    from hazardnet.jobs.mail_intake import mail_intake
    from hazardnet.settings import load_settings
    mail_intake(load_settings(), dt.date.fromisoformat("{AS_OF.isoformat()}"))
""")


def run(env: dict, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**env, **({"HAZARDNET_FAILPOINT": failpoint} if failpoint else {})}
    return subprocess.run([sys.executable, "-c", RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("failpoint", [
    "mailbox_after_archive:1", "mailbox_after_record:2", "mailbox_after_place:3", "mailbox_before_tidy:1",
    "after_record:2", "mailbox_before_reply:2", "mail_after_send:1"])
def test_killed_anywhere_the_next_run_finishes_once(failpoint, tmp_path, imap_server, smtp_server):  # noqa: F811
    home = tmp_path / "home"
    write_directory(home / "config" / "通讯录.xlsx")
    good, bad, several = (DATA / "good" / "canonical.xlsx").read_bytes(), (DATA / "bad" / "unknown_vocab.xlsx").read_bytes(), \
        (DATA / "bad" / "several_problems.xlsx").read_bytes()
    for raw in (outlook_message(good), foxmail_message(bad), wps_forward(delingha_register(tmp_path / "d.xlsx"), several)):
        imap_server.append(raw)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDNET_")}
    env.update(HAZARDNET_HOME=str(home), HAZARDNET_SETTLE_SECONDS="0", HAZARDNET_MAIL_RETRY_DELAYS="[]",
               HAZARDNET_SMTP_HOST=smtp_server.host, HAZARDNET_SMTP_PORT=str(smtp_server.port),
               HAZARDNET_SMTP_SECURITY="none", HAZARDNET_IMAP_HOST=imap_server.host,
               HAZARDNET_IMAP_PORT=str(imap_server.port), HAZARDNET_IMAP_SECURITY="none",
               HAZARDNET_IMAP_USER=imap_server.user, HAZARDNET_IMAP_PASSWORD=imap_server.password)
    killed = run(env, failpoint)
    assert killed.returncode == -9 and f"hit {failpoint}" in killed.stderr, killed.stderr[-2000:]
    again = run(env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert run(env).returncode == 0  # and a third run changes nothing

    with sqlite3.connect(home / "hazardnet.db") as conn:
        subs = conn.execute("select county, file_name, outcome from submissions where finalized").fetchall()
    assert sorted(subs) == sorted([
        ("格尔木市", "格尔木市11月隐患台账.xlsx", "accepted"), ("格尔木市", "格尔木市台账（州公司代报）.xlsx", "rejected"),
        ("德令哈市", "德令哈市隐患台账.xlsx", "accepted"), ("德令哈市", "德令哈市补充.xlsx", "rejected")])
    replies = Counter(str(m.message["In-Reply-To"]) for m in {m.message["Message-ID"]: m for m in smtp_server.messages}.values())
    assert replies == {"<outlook.1@gem-power.example.cn>": 1, "<202611161000.fox@haixi-power.example.cn>": 1,
                       "<wps.42@dlh-power.example.cn>": 3}
    if not failpoint.startswith("mail_after_send"):
        assert len(smtp_server.messages) == 5  # not even a repeat
    assert not list((home / "inbox").glob("*/*.xlsx"))  # every placed register was ingested
