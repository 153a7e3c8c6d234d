"""Settings an operator got wrong — hazardnet.toml or a HAZARDNET_ variable — are one Chinese sentence naming the
setting and where it comes from (never its value: it may be a password), exit 2; a home path that looks like a URL
query still holds its own database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hazardnet.settings import SettingsError, load_settings
from hazardnet.store import Store


@pytest.mark.parametrize("toml, expected", [
    ('counties = ["德令哈市"', "格式有误（文件末尾）"),
    ('counties = ["德令哈市"]\nseverities = = 1', "格式有误（第 2 行第"),
    ('counties = "格尔木市"', "设置项 counties（hazardnet.toml 中的 counties 或环境变量 HAZARDNET_COUNTIES）的值应为列表"),
    ("counties = []", "counties（hazardnet.toml 中的 counties 或环境变量 HAZARDNET_COUNTIES）的值不能为空"),
    ('counties = ["格尔木市", " 格尔木市", "德令哈市"]', "的值“格尔木市”重复出现"),
    ('counties = ["格尔木市", " "]', "不能有空白的名称"),
    ('countys = ["格尔木市"]', "未知的设置项：countys"),
    ("workers = 0", "设置项 workers（hazardnet.toml 中的 workers 或环境变量 HAZARDNET_WORKERS）的值不能小于 1"),
    ("parse_memory_mb = 1", "parse_memory_mb（hazardnet.toml 中的 parse_memory_mb 或环境变量 HAZARDNET_PARSE_MEMORY_MB）的值不能小于 128"),
    ('smtp_security = "tls"', "的值应为以下之一：'ssl'、'starttls'、'none'"),
    ("smtp_port = 99999", "不能大于 65535"),
])
def test_a_wrong_setting_in_the_config_file_is_named_in_chinese(tmp_path, toml, expected):
    (tmp_path / "hazardnet.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert expected in message, message
    assert "pydantic" not in message and "Input should" not in message and "\n" not in message


def test_a_wrong_environment_variable_is_named_without_its_value(tmp_path, monkeypatch):
    monkeypatch.setenv("HAZARDNET_SMTP_PORT", "abc")
    monkeypatch.setenv("HAZARDNET_SMTP_SECURITY", "s3cret-tls")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert "HAZARDNET_SMTP_PORT）的值应为整数" in message and "HAZARDNET_SMTP_SECURITY）的值应为以下之一" in message
    assert "abc" not in message and "s3cret" not in message


def test_a_home_path_with_url_characters_keeps_its_database_inside_it(tmp_path):
    home = tmp_path / "q?mode=ro" / "pct%41x"
    home.mkdir(parents=True)
    store = Store(load_settings(home).database_url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("create table probe (x integer)")
    finally:
        store.dispose()
    assert (home / "hazardnet.db").is_file()
    assert not (tmp_path / "q").exists()  # "?mode=ro" was read as a URL query: the database landed there


def test_the_command_line_says_one_chinese_line_and_exits_2(tmp_path):
    (tmp_path / "hazardnet.toml").write_text('counties = ["德令哈市"', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "hazardnet.cli", "status", "--home", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert f"错误：配置文件“{tmp_path / 'hazardnet.toml'}”格式有误" in result.stderr
    assert "Traceback" not in result.stderr and "TOMLDecodeError" not in result.stderr
    scripted = subprocess.run([sys.executable, "-m", "hazardnet.cli", "status", "--home", str(tmp_path), "--json"],
                              capture_output=True, text=True, timeout=120)
    answer = json.loads(scripted.stdout)  # --json: the error is a result a script can read
    assert scripted.returncode == 2 and answer["exit_code"] == 2 and "格式有误" in answer["error"]
    elsewhere = tmp_path / "elsewhere"  # a folder without the broken hazardnet.toml
    elsewhere.mkdir()
    folder = subprocess.run([sys.executable, "-m", "hazardnet.cli", "template", "--county", "格尔木市", "-o",
                             str(elsewhere)], capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert folder.returncode == 2 and f"输出路径“{elsewhere}”是文件夹" in folder.stderr, folder.stderr
    text = subprocess.run([sys.executable, "-m", "hazardnet.cli", "template", "--county", "格尔木市", "-o",
                           str(elsewhere / "x.txt")], capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert text.returncode == 2 and "应以 .xlsx 结尾" in text.stderr and not (elsewhere / "x.txt").exists()
    both = subprocess.run([sys.executable, "-m", "hazardnet.cli", "template", "--directory", "--customers", "--county",
                           "格尔木市"], capture_output=True, text=True, timeout=120, cwd=elsewhere)
    assert both.returncode == 2 and "一次只能选一个" in both.stderr and not list(elsewhere.iterdir()), both.stderr
