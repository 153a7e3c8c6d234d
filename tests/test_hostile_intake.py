"""Hostile and broken inputs at the intake level: the whole inbox at once, in a real ingest process.

Every file of tests/data/hostile/ (made by tests/data/make_hostile.py), plus what cannot be committed
(links leading out of the inbox, names with `..`, control characters or 250 bytes, a named pipe, a
1,048,576-row register made by tests/data/make_hostile_more.py), is dropped into inbox/格尔木市/
beside one good register. Each hostile one must be rejected with its reason, its original kept byte
for byte in rejected/ beside a report that opens; the good one accepted; the process survives.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import textwrap
from pathlib import Path

import openpyxl
import pytest

from hazardnet.intake.inbox import REPORT_SUFFIX
from hazardnet.intake.transaction import safe_name
from tests.conftest import DATA
from tests.test_crash_recovery import run_ingest, sha
from tests.test_workbook_reader import EXPECTED as READER_REASONS

HOSTILE = DATA / "hostile"
_spec = importlib.util.spec_from_file_location("make_hostile_more", DATA / "make_hostile_more.py")
make_hostile_more = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_hostile_more)
GOOD = DATA / "good" / "canonical.xlsx"
COUNTY = "格尔木市"

CONTROL_NAME = "台账\x1b[31m红色\x07\r\n第二行\x7f.xlsx"
BACKSLASH_NAME = "台账\\..\\..\\..\\outside\\evil.xlsx"  # Windows-style traversal
DOTS_NAME = "台账..xlsx"
LONG_NAME = "海西州格尔木市供电公司客户安全隐患台账" * 4 + "长" * 6 + ".xlsx"  # 250 bytes: NAME_MAX is 255
LINK_REASON = "快捷方式/链接"


def report_messages(report: Path) -> list[str]:
    ws = openpyxl.load_workbook(report)["问题清单"]
    return [r[5] for r in ws.iter_rows(min_row=4, values_only=True) if r[5]]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def run(home: Path) -> dict:
    proc = run_ingest(home)
    assert proc.returncode == 0, proc.stderr[-3000:]  # the process survives every file
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_whole_hostile_corpus_rejected_good_register_accepted(tmp_path):
    home = tmp_path / "home"
    folder = home / "inbox" / COUNTY
    folder.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("smtp_password=hunter2\n")
    (outside / "register.xlsx").write_bytes(GOOD.read_bytes())

    originals: dict[str, bytes] = {}
    for path in sorted(HOSTILE.iterdir()):
        originals[path.name] = path.read_bytes()
    originals[CONTROL_NAME] = (DATA / "bad" / "unknown_vocab.xlsx").read_bytes()
    originals[BACKSLASH_NAME] = (DATA / "bad" / "negative_funds.xlsx").read_bytes()
    originals[DOTS_NAME] = (DATA / "bad" / "future_date.xlsx").read_bytes()
    originals[LONG_NAME] = (DATA / "bad" / "missing_required_value.xlsx").read_bytes()
    for name, data in originals.items():
        (folder / name).write_bytes(data)
    (folder / "好的台账.xlsx").write_bytes(GOOD.read_bytes())
    links = {"链接到机密.xlsx": secret, "链接到外部台账.xlsx": outside / "register.xlsx", "链接到目录.xlsx": outside,
             "坏链接.xlsx": outside / "nothing-here"}
    for name, target in links.items():
        (folder / name).symlink_to(target)
    os.mkfifo(folder / "命名管道.xlsx")  # opening it would block forever
    (folder / "文件夹.xlsx").mkdir()
    (home / "inbox" / "外部目录").symlink_to(outside, target_is_directory=True)  # a county folder that is a link
    outside_before = {p: p.read_bytes() for p in outside.iterdir() if p.is_file()}
    tmp_before = tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in home.rglob("*")}

    result = run(home)

    by_name = {Path(f["path"]).name: f for f in result["files"]}
    assert by_name.pop("好的台账.xlsx")["outcome"] == "accepted"
    assert set(by_name) == set(originals) | set(links), "every hostile entry has an outcome"
    rejected = folder / "rejected"
    for name, f in by_name.items():
        assert f["outcome"] == "rejected", (name, f)
        [finding] = [x for x in f["findings"] if x["level"] == "error"][:1]
        kept, report = Path(f["kept_at"]), Path(f["report"])
        assert kept.parent == rejected and report.parent == rejected, (name, kept, report)
        assert kept.name == safe_name(name) and len(report.name.encode()) <= 255
        assert report.name.endswith(REPORT_SUFFIX)
        messages = report_messages(report)  # the report opens, and says why
        assert finding["message"] in messages
        if name in READER_REASONS:
            assert re.search(READER_REASONS[name][1], finding["message"]), (name, finding["message"])
        if name in originals:
            assert kept.read_bytes() == originals[name], f"{name}: the original is not kept byte for byte"
        else:
            assert LINK_REASON in finding["message"]
            assert kept.is_symlink() and os.readlink(kept) == str(links[name]), "the link itself is kept, untouched"

    # the control characters, the backslashes and the length are gone from the kept names
    for name in (CONTROL_NAME, BACKSLASH_NAME, LONG_NAME):
        kept = Path(by_name[name]["kept_at"]).name
        assert not any(ord(c) < 32 or c in "\\/\x7f" for c in kept) and len(kept.encode()) <= 160
    assert "命名管道.xlsx" in os.listdir(folder) and (folder / "文件夹.xlsx").is_dir()  # not files: left alone
    assert {p: p.read_bytes() for p in outside.iterdir() if p.is_file()} == outside_before
    assert tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in home.rglob("*")} == tmp_before, \
        "something was written outside the home folder"
    secret_sha = sha(secret)
    assert all(sha(p) != secret_sha for p in home.rglob("*") if p.is_file() and not p.is_symlink()), \
        "the link target was read and copied"
    openpyxl.load_workbook(result["consolidated"]).close()


def test_hostile_file_alone_leaves_the_store_and_register_untouched(settings, as_of):
    """The worst of the corpus in one county and a good register in another: the good one is not held up."""
    from hazardnet.jobs.ingest import ingest
    from hazardnet.store import Store

    for name in ("zip_bomb.xlsx", "billion_laughs.xlsx", "far_cell_abort.xlsx", "truncated.xlsx"):
        (settings.inbox / COUNTY).mkdir(parents=True, exist_ok=True)
        (settings.inbox / COUNTY / name).write_bytes((HOSTILE / name).read_bytes())
    (settings.inbox / "德令哈市").mkdir(parents=True)
    from tests.test_crash_recovery import delingha_register

    delingha_register(settings.inbox / "德令哈市" / "台账.xlsx", done=False)
    result = ingest(settings, as_of)
    outcomes = sorted((f.county, f.outcome) for f in result.files)
    assert outcomes == [("德令哈市", "accepted")] + [(COUNTY, "rejected")] * 4
    store = Store(settings.database_url)
    try:
        register = store.register_as_of(as_of)
        assert set(register["county"]) == {"德令哈市"} and len(register) == 3
    finally:
        store.dispose()


MAXRSS = textwrap.dedent("""
    import atexit, resource, sys
    atexit.register(lambda: print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))
""")


@pytest.mark.slow
def test_register_of_1048576_rows_is_rejected_in_bounded_memory(tmp_path):
    """Every row Excel allows, each a complete hazard, and no <dimension> to give it away (~1 GB of
    XML, 57 MB zipped): rejected by its row count in the parser child, before its cells become
    objects; the ingest process itself stays small, and the good register beside it is accepted."""
    home = tmp_path / "home"
    folder = home / "inbox" / COUNTY
    folder.mkdir(parents=True)
    big = make_hostile_more.million_row_register(folder / "百万行.xlsx")
    big_sha = sha(big)
    (folder / "好的台账.xlsx").write_bytes(GOOD.read_bytes())

    proc = run_ingest(home, prelude=MAXRSS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    by_name = {Path(f["path"]).name: f for f in result["files"]}
    assert by_name["好的台账.xlsx"]["outcome"] == "accepted"
    f = by_name["百万行.xlsx"]
    assert f["outcome"] == "rejected"
    assert "1,048,576 行" in f["findings"][0]["message"] and "上限" in f["findings"][0]["message"]
    assert sha(Path(f["kept_at"])) == big_sha
    maxrss_mb = int(proc.stderr.split("MAXRSS_KB")[-1].split()[0]) / 1024
    assert maxrss_mb < 600, f"the ingest process grew to {maxrss_mb:.0f} MB"


def test_sheet_over_max_rows_is_rejected_before_its_cells_are_read(settings, as_of):
    """The row limit (settings.max_rows) at work on a small scale: the canonical register is 4 rows."""
    from hazardnet.jobs.ingest import ingest

    small = settings.model_copy(update={"max_rows": 3})
    folder = small.inbox / COUNTY
    folder.mkdir(parents=True)
    (folder / "台账.xlsx").write_bytes(GOOD.read_bytes())
    [f] = ingest(small, as_of).files
    assert f.outcome == "rejected"
    assert f.findings[0].message == "工作表“隐患台账”有 4 行，超过 3 行的上限，不是一份县公司隐患台账（文件可能被恶意构造），已拒绝导入。"
    assert Path(f.kept_at).read_bytes() == GOOD.read_bytes()
    (folder / "台账.xlsx").write_bytes(GOOD.read_bytes())
    assert [g.outcome for g in ingest(settings, as_of).files] == ["accepted"]  # within the default limit
