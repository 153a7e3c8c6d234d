"""The directory (通讯录) is read only from config/, and a changed directory is mailed to the previous version's
prefecture supply company before it is used for any mailing."""

from __future__ import annotations

import email
import socket
from email.policy import default
from pathlib import Path

from hazardnet.delivery.directory import load_directory
from hazardnet.delivery.mail import make_transport
from hazardnet.settings import load_settings
from hazardnet.store import Store
from tests.test_bulletin import AS_OF, CUST_C, DIRECTORY, GOV_GEM, UTIL_GEM, UTIL_HAIXI, write_directory_file

ATTACKER = "collect@evil.example.net"


def changed_directory() -> list[tuple]:
    """The prefecture supply company's address replaced, a county company's mobile added, a customer gone,
    a new customer."""
    rows = []
    for row in DIRECTORY:
        if row[3] == "国网海西供电公司营销部":
            row = (*row[:5], ATTACKER, row[6])
        elif row[3] == "国网格尔木供电公司":
            row = (*row[:6], "13897005678")
        elif row[5] == CUST_C:
            continue
        rows.append(row)
    rows.append(("用电客户", "格尔木市", "0630100009", "格尔木新客户有限公司", "周新", "new@customer.example.cn", ""))
    return rows


def mails(settings) -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=default)
            for p in sorted((settings.outbox / "mail").glob("*.eml"))]


def test_the_directory_is_not_read_from_the_counties_inbox(tmp_path, monkeypatch):
    monkeypatch.delenv("HAZARDNET_DIRECTORY_PATH", raising=False)
    settings = load_settings(tmp_path / "home")
    assert settings.directory_file == tmp_path / "home" / "config" / "通讯录.xlsx"
    assert settings.inbox not in settings.directory_file.parents
    write_directory_file(settings.inbox / "通讯录.xlsx", DIRECTORY)  # a county dropping a directory of its own
    store = Store(settings.database_url)
    try:
        result = load_directory(settings, store, AS_OF)
    finally:
        store.dispose()
    assert result.recipients == [] and not result.usable
    monkeypatch.setenv("HAZARDNET_DIRECTORY_PATH", str(tmp_path / "etc" / "通讯录.xlsx"))
    assert load_settings(tmp_path / "home").directory_file == tmp_path / "etc" / "通讯录.xlsx"


def test_a_changed_directory_is_announced_to_the_previous_prefecture_company_first(settings):
    settings.home.mkdir(parents=True)
    store = Store(settings.database_url)
    try:
        write_directory_file(settings.directory_file, DIRECTORY)
        first = load_directory(settings, store, AS_OF)
        assert first.source == "file" and mails(settings) == []  # the first version has no previous one

        write_directory_file(settings.directory_file, changed_directory())
        second = load_directory(settings, store, AS_OF)
        assert second.source == "file"
        assert ATTACKER in {a for r in second.recipients for a in r.addresses}
        notices = mails(settings)
        assert len(notices) == 1
        notice = notices[0]
        assert notice["To"] == UTIL_HAIXI and ATTACKER not in str(notice["To"])  # the PREVIOUS address
        body = notice.get_body().get_content()
        lines = [line.strip() for line in body.splitlines()]
        first_change = next(i for i, line in enumerate(lines) if line.startswith("1. "))
        assert lines[first_change].startswith("1. 全州 供电企业 国网海西供电公司营销部：变更")
        assert f"新增邮箱：{ATTACKER}" in lines and f"删除邮箱：{UTIL_HAIXI}" in lines
        assert "新增手机：13897005678" in lines
        assert any("德令哈市 用电客户 柴达木纯碱化工有限公司：删除" in line for line in lines)
        assert any("格尔木市 用电客户 格尔木新客户有限公司：新增" in line for line in lines)
        assert "新增邮箱：new@customer.example.cn" in lines
        assert GOV_GEM not in body  # unchanged parties are not listed

        load_directory(settings, store, AS_OF)  # the same version again: no second notice
        assert len(mails(settings)) == 1
    finally:
        store.dispose()


def test_a_change_that_cannot_be_announced_is_not_used(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.home.mkdir(parents=True)
    store = Store(settings.database_url)
    try:
        write_directory_file(settings.directory_file, DIRECTORY)
        load_directory(settings, store, AS_OF)
        write_directory_file(settings.directory_file, changed_directory())
        down = make_transport(load_settings(settings.home, smtp_host="127.0.0.1", smtp_port=closed_port,
                                            smtp_security="none", mail_retry_delays=[]))
        held = load_directory(settings, store, AS_OF, transport=down)
        addresses = {a for r in held.recipients for a in r.addresses}
        assert held.source == "store" and ATTACKER not in addresses and UTIL_HAIXI in addresses
        assert UTIL_GEM in addresses
        assert any("变更通知未能发给州供电公司" in f.message for f in held.findings)
        # once the notice goes out, the new version is used
        assert ATTACKER in {a for r in load_directory(settings, store, AS_OF).recipients for a in r.addresses}
        assert len(mails(settings)) == 1
    finally:
        store.dispose()
