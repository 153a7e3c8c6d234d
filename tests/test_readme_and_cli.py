"""Docs that cannot rot: the README's commands are the real ones, every command has help, the demo runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import openpyxl
from typer.testing import CliRunner

from hazardnet.cli.main import app
from tests.conftest import harness_env

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_names_the_two_commands_and_ci_runs_the_test_one():
    assert "bash run.sh demo" in README and "bash run.sh test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec bash run\.sh test$", ci, re.M)


def test_every_command_has_help_text():
    runner = CliRunner()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert {"ingest", "template", "demo", "serve", "status"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        cmd = next(c for c in app.registered_commands if (c.name or c.callback.__name__) == name)
        assert (cmd.callback.__doc__ or "").strip(), f"{name} has no help text"
        assert f"hazardnet {name}" in README, f"README does not document `hazardnet {name}`"


ENGLISH_HELP_WORDS = ("Usage", "Options", "Arguments", "Commands", "Show this message", "[default", "[required]",
                      "[env var", "COMMAND", "[OPTIONS]", "[ARGS]", "<str>", "<bool>", "<path>", "<int", "<float",
                      "<list")


def _squeezed(text: str) -> str:
    """A help screen's words without its layout: spaces, line breaks and the panels' box characters."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


def test_help_is_chinese_and_never_cuts_a_sentence():
    """`hazardnet --help` and every command's: typer's own words in Chinese, and each help text whole on an 80-column
    terminal (rich breaks lines only at spaces and cut a long Chinese sentence with "…")."""
    import typer.main

    runner = CliRunner()
    group = typer.main.get_group(app)
    screens = {"hazardnet": runner.invoke(app, ["--help"], terminal_width=80)}
    for name in group.commands:
        screens[name] = runner.invoke(app, [name, "--help"], terminal_width=80)
    for name, result in screens.items():
        assert result.exit_code == 0, (name, result.output)
        text = result.output
        assert "用法：" in text and "选项" in text and "显示本帮助并退出。" in text, (name, text)
        for word in ENGLISH_HELP_WORDS:
            assert word not in text, (name, word, text)
        squeezed = _squeezed(text)
        command = group if name == "hazardnet" else group.commands[name]
        texts = [p.help for p in command.params if getattr(p, "help", None)]
        if name == "hazardnet":
            texts += [c.help for c in group.commands.values()]  # the list of commands: each one's first paragraph
            texts = [t.split("\n\n")[0] for t in texts]
        for help_text in texts:
            assert _squeezed(help_text) in squeezed, (name, help_text, text)
    assert "[必填]" in screens["check"].output and "{台账文件}" in screens["check"].output
    assert "[默认：4200]" in _squeezed(screens["server"].output)


def test_demo_builds_a_working_folder_and_runs_the_pipeline(prefect_harness, tmp_path):
    # a process of its own, as a user runs it (in-process, CliRunner's swapped stdout would stay in
    # Prefect's console log handler and break later tests' logging once it is closed)
    home = tmp_path / "demo"
    env = {k: v for k, v in harness_env().items() if k != "HAZARDNET_SMTP_HOST"}
    # on 1 December the three registers (October, November, December) all arrive after 2026Q3 ended: the
    # quarter must still show its real figures, as known on the demo's day
    result = subprocess.run([sys.executable, "-m", "hazardnet.cli", "demo", "--home", str(home), "--as-of",
                             "2026-12-01"], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    # a console a person can read: no Prefect log line (they go to the UI and to <home>/logs), the summaries stay
    console = result.stdout + result.stderr
    assert not re.search(r"\| *(DEBUG|INFO|WARNING|ERROR|CRITICAL) *\|", console), console
    assert "导入结果" in result.stdout and "全部输出位于" in result.stdout
    log = home / "logs" / "hazardnet.log"
    assert console.count(f"运行日志：{log}") == 1
    assert "Beginning flow run" in log.read_text(encoding="utf-8")
    consolidated = next((home / "outbox").glob("*汇总*.xlsx"))
    ws = openpyxl.load_workbook(consolidated)["隐患台账"]
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    counties = {r[0] for r in rows}
    # three months of history: 都兰县's December register is the flawed one, its November register stands
    assert len(rows) >= 150 and counties == {"德令哈市", "格尔木市", "茫崖市", "乌兰县", "天峻县", "都兰县"}
    assert len(list((home / "archive").rglob("*.xlsx"))) == 17  # 6 + 6 + 5 accepted originals
    mails = list((home / "outbox" / "mail").glob("*.eml"))
    assert any("_政府主管部门_" in m.name for m in mails) and any("_用电客户_" in m.name for m in mails)
    quarterly = home / "outbox" / "quarterly" / "2026Q3"
    assert len(list(quarterly.glob("*.xlsx"))) == 7  # prefecture + 6 counties
    assert len(list(quarterly.glob("*通报会.pptx"))) == 7 and (quarterly / "2026年第三季度工作开展情况.docx").is_file()
    overview = openpyxl.load_workbook(quarterly / "海西州2026年第三季度电力安全隐患治理情况汇总.xlsx")["总览"]
    header = next(r for r in overview.iter_rows(values_only=True) if r[0] == "县(市)")
    total = next(r for r in overview.iter_rows(values_only=True) if r[0] == "合计")
    assert dict(zip(header, total))["本季度新发现"] > 0
    assert "数据截至2026年12月01日" in overview["A2"].value
    rejected = list((home / "inbox" / "都兰县" / "rejected").glob("*_问题报告.xlsx"))
    assert len(rejected) == 1
    issues = openpyxl.load_workbook(rejected[0])["问题清单"]
    assert issues.max_row >= 7  # title, time, header and the four planted mistakes


def test_the_command_collects_young_objects_less_often_from_its_first_import():
    """`hazardnet` raises the collector's young-generation threshold before typer, Prefect or pandas are
    imported (runtime.collect_young_less_often): some 400 collections fewer while a command starts."""
    import subprocess
    import sys

    from hazardnet.runtime import GC_YOUNG_THRESHOLD

    code = "import gc, hazardnet.cli.main; print(gc.get_threshold()[0], gc.get_count()[0])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == GC_YOUNG_THRESHOLD
    assert int(out[1]) > 700  # young objects accumulated past Python's default threshold without a collection


def test_command_line_mistakes_are_one_chinese_line_and_exit_2():
    """Usage mistakes are raised by typer's own copy of click: each is one Chinese line naming the option, exit 2
    (they were reported as a failed run in English, exit 1, e.g. “运行失败：MissingParameter: Missing parameter”)."""
    cases = [
        (["hazard", "--county", "格尔木市"], "缺少参数 --id"),
        (["ingest", "--bogus"], "没有选项 --bogus"),
        (["ingest", "--hom", "x"], "是否要写 --home"),
        (["ingest", "--as-of"], "选项 --as-of 后面需要写一个值"),
        (["serve", "--poll-minutes", "abc"], "参数 --poll-minutes 的值应为数字"),
        (["server", "--port", "x"], "参数 --port 的值应为 1–65535 之间的整数"),
        (["no-such-command"], "没有命令“no-such-command”"),
        (["ingest", "extra"], "用法见：hazardnet ingest --help"),
    ]
    for args, expected in cases:
        result = subprocess.run([sys.executable, "-m", "hazardnet.cli", *args], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and "Missing" not in result.stderr and "运行失败" not in result.stderr
    alone = subprocess.run([sys.executable, "-m", "hazardnet.cli"], capture_output=True, text=True, timeout=120)
    assert alone.returncode == 0 and "ingest" in alone.stdout + alone.stderr and "运行失败" not in alone.stderr


def test_a_mistyped_home_is_refused_by_every_command_but_the_intake(tmp_path):
    """A --home that does not exist (or is a file) is one Chinese line and exit 2 — it used to end as
    “运行失败：OperationalError … unable to open database file”, or to start an empty store there; `ingest`
    still sets a new home up (tests/test_ingest_flow.py)."""
    missing, a_file = tmp_path / "nohome", tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    cases = [(["hazard", "--county", "格尔木市", "--id", "X"], missing, "不存在"), (["customer-checks"], missing, "不存在"),
             (["warnings"], missing, "不存在"), (["status"], a_file, "不是文件夹"),
             (["ingest"], a_file, "不是文件夹")]
    for args, home, expected in cases:
        result = subprocess.run([sys.executable, "-m", "hazardnet.cli", *args, "--home", str(home)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert f"工作目录“{home}”{expected}" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not missing.exists()


# ---- the README's claims against the code (cheap: no command is run) --------------------------------------------

def _readme_transcripts() -> list[tuple[str, list[str]]]:
    """Every `$ …hazardnet …` command in the README's code blocks (`bash run.sh demo` included) with the lines it is
    shown to print, up to the next command or the block's end."""
    shown: list[tuple[str, list[str]]] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", README, re.M | re.S):
        command = None
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line if re.search(r"\bhazardnet |\brun\.sh demo\b", line) else None
                if command is not None:
                    shown.append((command, []))
            elif command is not None:
                shown[-1][1].append(line)
    return shown


def test_readme_transcripts_show_the_console_as_it_prints_now():
    """A transcript shows what the command prints today: every address and mobile masked as on every console line
    (delivery.masking.redact; `--json` keeps them whole, so its output is left out), and a delivery's outcome in the
    Chinese words of delivery.labels, never the ledger's own `written` / `skipped` (transcripts pasted before the
    console was masked and translated kept showing both)."""
    from hazardnet.delivery.masking import redact

    transcripts = [(c, lines) for c, lines in _readme_transcripts() if "--json" not in c]
    assert len(transcripts) >= 10
    for command, lines in transcripts:
        for line in lines:
            assert redact(line) == line, f"README shows an unmasked address or mobile after `{command}`: {line}"
            assert not re.search(r"[：:]\s*(sent|written|skipped|failed|pending)\b", line), (command, line)


def test_readme_cites_only_tests_that_exist():
    """Every `tests/test_x.py` and `tests/test_x.py::name` (a trailing * matching a prefix) the README cites exists."""
    cited = re.findall(r"(tests/test_\w+\.py)(?:::(\w+\*?))?", README)
    assert len(cited) >= 20
    for path, name in cited:
        source = ROOT / path
        assert source.is_file(), f"README cites {path}, which does not exist"
        if name:
            pattern = r"^(?:async )?def " + name.rstrip("*") + ("" if name.endswith("*") else r"\(")
            assert re.search(pattern, source.read_text(encoding="utf-8"), re.M), f"README cites {path}::{name}"


def test_readme_names_only_real_options_and_settings():
    """Every `hazardnet <command> --option` the README writes is an option of that command, and every `HAZARDNET_…`
    variable it names is a setting (hazardnet/settings.py) or one of the few read outside it."""
    import typer.main

    from hazardnet.settings import Settings

    group = typer.main.get_group(app)

    def options(command) -> set[str]:
        return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}

    general = options(group) | {"--help"}
    checked = 0
    for match in re.finditer(r"hazardnet((?:\s+--verbose)?)\s+([a-z][a-z-]*)([^`\n|;]*)", README):
        name, rest = match.group(2), match.group(3)
        if name not in group.commands:
            assert name in {"sets", "commands"}, f"README names a command `hazardnet {name}` that does not exist"
            continue
        rest = re.split(r"\bhazardnet\b", rest)[0]
        for option in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", rest):
            assert option in options(group.commands[name]) | general, f"README: `hazardnet {name} {option}`"
            checked += 1
    assert checked >= 50
    # the CLI, prefect.yaml, run.sh, and the wait for the temporary server's records (flows/temporary_server.py)
    outside = {"HAZARDNET_API_AUTH_FILE", "HAZARDNET_CHECKOUT", "HAZARDNET_INSTALLER", "HAZARDNET_TASK_RUNS_WAIT_SECONDS"}
    for variable in set(re.findall(r"\bHAZARDNET_[A-Z0-9_]+", README)) - outside:
        assert variable[len("HAZARDNET_"):].lower() in Settings.model_fields, f"README names {variable}: no such setting"


def test_a_mistyped_date_is_refused_before_the_console_names_a_log_or_a_home_is_made(prefect_harness, tmp_path):
    """`--as-of 2026-13-01`: one Chinese line and exit 2, before the command says where its run log goes (a clerk
    reading "运行日志：…" first went looking for a run that never started) and before mail-intake sets a home up."""
    entry = Path(sys.executable).with_name("hazardnet")
    env = {**harness_env(), "HAZARDNET_IMAP_HOST": "127.0.0.1"}
    for command in ("notices", "customer-checks", "mail-intake"):
        home = tmp_path / command
        if command != "mail-intake":  # mail-intake sets a new home up itself
            home.mkdir()
        result = subprocess.run([str(entry), command, "--home", str(home), "--as-of", "2026-13-01"],
                                capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "2026-13-01" in result.stderr and "Traceback" not in result.stderr, (command, result.stderr)
        assert "运行日志" not in result.stdout + result.stderr, (command, result.stderr)
        assert [p.name for p in home.iterdir()] == [] if home.exists() else command == "mail-intake", command
