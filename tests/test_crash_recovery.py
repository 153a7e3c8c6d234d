"""Crash at any point: ingest is SIGKILLed at every failpoint, then the next run must finish the job.

Each case runs `ingest` in a subprocess with HAZARDNET_FAILPOINT=<checkpoint>:<n> (hazardnet/failpoints.py)
over one inbox of five files in two counties: a good register, a bad one and a byte-identical copy of the
good one in 格尔木市; two successive registers in 德令哈市. The process dies by SIGKILL. Then:

- the store is consistent: an accepted submission has exactly its rows, no other submission has any;
- no original is lost or half-moved: every input's bytes are in the inbox, archive/ or rejected/, and
  every file there is one of the inputs, whole;
- no output is truncated: every workbook in outbox/ and rejected/ opens (temporaries live in hidden
  `.tmp-*` folders, never mistaken for output), and no parser process outlives the killed run;
- a normal run afterwards ends in exactly the state of a run that was never interrupted: the same
  submissions (each file once), the same files kept, the same consolidated register.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from hazardnet import failpoints
from hazardnet.failpoints import CHECKPOINTS
from hazardnet.intake.inbox import REPORT_SUFFIX
from hazardnet.jobs.ingest import ingest
from hazardnet.settings import load_settings
from tests.conftest import AS_OF, DATA

ROOT = Path(__file__).resolve().parents[1]
GOOD = DATA / "good" / "canonical.xlsx"
BAD = DATA / "bad" / "unknown_vocab.xlsx"

# What the five-file scenario makes each checkpoint see in one uninterrupted run.
HITS = {
    "between_files": 5, "after_snapshot": 5, "after_archive": 3, "after_report": 1, "after_reject_keep": 1,
    "after_duplicate_keep": 1, "mid_record": 3, "after_record": 5, "original_set_aside": 5,
    "after_remove": 5, "before_consolidated": 1, "before_workbook_close": 2, "before_rename": 2,
    "after_consolidated_rename": 1,
}


def sha(data: bytes | Path) -> str:
    return hashlib.sha256(data.read_bytes() if isinstance(data, Path) else data).hexdigest()


# ---- the scenario ------------------------------------------------------------------------------
def delingha_register(path: Path, *, done: bool) -> None:
    """A 德令哈市 register made from the canonical one; `done` marks its first hazard fixed."""
    wb = openpyxl.load_workbook(GOOD)
    ws = wb.active
    for r in range(2, ws.max_row + 1):
        ws.cell(r, 1).value = "德令哈市"
        ws.cell(r, 2).value = f"06302000{r:02d}"
        ws.cell(r, 6).value = f"DLH-2026-{r:03d}"
    if done:
        ws["R2"] = "已整改"
        ws["S2"] = dt.datetime(2026, 11, 1)
    wb.save(path)


@pytest.fixture(scope="session")
def scenario_files(tmp_path_factory) -> dict[str, bytes]:
    """inbox-relative path -> bytes, in arrival order."""
    tmp = tmp_path_factory.mktemp("scenario")
    delingha_register(tmp / "d1.xlsx", done=False)
    delingha_register(tmp / "d2.xlsx", done=True)
    return {
        "格尔木市/01_台账.xlsx": GOOD.read_bytes(),
        "格尔木市/02_有问题的台账.xlsx": BAD.read_bytes(),
        "格尔木市/03_再次报送.xlsx": GOOD.read_bytes(),
        "德令哈市/10月台账.xlsx": (tmp / "d1.xlsx").read_bytes(),
        "德令哈市/11月台账.xlsx": (tmp / "d2.xlsx").read_bytes(),
    }


def fill_inbox(home: Path, files: dict[str, bytes]) -> None:
    start = time.time() - 3600
    for i, (rel, data) in enumerate(files.items()):
        path = home / "inbox" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (start + 60 * i, start + 60 * i))  # a county's files go in arrival order


# ---- running ingest in a subprocess ------------------------------------------------------------
RUNNER = textwrap.dedent("""
    import datetime as dt, json, sys
    from hazardnet.jobs.ingest import ingest
    from hazardnet.settings import load_settings
    settings = load_settings(sys.argv[1], settle_seconds=0, workers=int(sys.argv[3]))
    result = ingest(settings, dt.date.fromisoformat(sys.argv[2]))
    print(json.dumps(result.as_json(), ensure_ascii=False))
""")


def run_ingest(home: Path, *, failpoint: str | None = None, prelude: str = "", workers: int = 2,
               as_of: dt.date = AS_OF) -> subprocess.CompletedProcess:
    """`ingest` in a fresh process of its own session; afterwards no process of that session may remain."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDNET_")}
    if failpoint:
        env["HAZARDNET_FAILPOINT"] = failpoint
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(prelude) + RUNNER, str(home), as_of.isoformat(),
                             str(workers)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=180)  # hang safety only; it returns once every pipe holder is gone
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert_no_survivors(proc.pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_no_survivors(pgid: int) -> None:
    """The parser child processes (and their forkserver) die with the run that started them."""
    for _ in range(100):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)  # our own test session: do not leak it
    pytest.fail("processes of the killed ingest outlived it (orphaned parser workers)")


def killed_at(home: Path, failpoint: str, prelude: str = "") -> subprocess.CompletedProcess:
    proc = run_ingest(home, failpoint=failpoint, prelude=prelude)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-3000:])
    assert f"HAZARDNET_FAILPOINT hit {failpoint}" in proc.stderr
    return proc


# ---- what must hold after any crash ------------------------------------------------------------
def kept_files(home: Path) -> dict[Path, str]:
    """Every file in inbox/ (rejected/ and hidden files included) and archive/: path -> sha256.
    Error reports and the hidden `.tmp-*` scratch folders of workbook writers are not originals."""
    found = {}
    for top in (home / "inbox", home / "archive"):
        for path in top.rglob("*") if top.exists() else ():
            rel = path.relative_to(home)
            if path.is_file() and not path.name.endswith(REPORT_SUFFIX) \
                    and not any(part.startswith(".tmp-") for part in rel.parts):
                found[path] = sha(path)
    return found


def store_rows(home: Path) -> tuple[list[dict], Counter]:
    db = home / "hazardnet.db"
    if not db.exists():
        return [], Counter()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:  # what a crash left, not what a run repairs
        conn.row_factory = sqlite3.Row
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        if "submissions" not in tables:
            return [], Counter()
        subs = [dict(r) for r in conn.execute("select * from submissions order by id")]
        counts = Counter({r[0]: r[1] for r in conn.execute(
            "select submission_id, count(*) from hazard_rows group by submission_id")})
    return subs, counts


def assert_store_consistent(home: Path) -> list[dict]:
    subs, counts = store_rows(home)
    ids = {s["id"] for s in subs}
    assert set(counts) <= ids, "hazard rows of a submission that does not exist"
    for s in subs:
        if s["outcome"] == "accepted":
            assert s["rows"] > 0 and counts[s["id"]] == s["rows"], s
        else:
            assert counts[s["id"]] == 0, s
    return subs


def assert_outputs_whole(home: Path) -> None:
    folders = [home / "outbox", *(home / "inbox").glob("*/rejected")]
    for folder in folders:
        for path in folder.iterdir() if folder.exists() else ():
            if path.name.startswith(".tmp-"):
                assert path.is_dir(), f"a temporary file where output is read: {path}"
                continue
            assert path.suffix == ".xlsx", path
            if folder.name == "rejected" and not path.name.endswith(REPORT_SUFFIX):
                continue  # a kept original (checked byte for byte elsewhere)
            openpyxl.load_workbook(path, read_only=True).close()  # raises on a truncated workbook


def assert_nothing_lost(home: Path, files: dict[str, bytes]) -> None:
    inputs = {sha(b) for b in files.values()}
    kept = kept_files(home)
    assert inputs <= set(kept.values()), "an original's bytes are nowhere"
    stray = {p: h for p, h in kept.items() if h not in inputs}
    assert not stray, f"half-moved or truncated copies: {stray}"


def assert_after_crash(home: Path, files: dict[str, bytes]) -> None:
    assert_store_consistent(home)
    assert_nothing_lost(home, files)
    assert_outputs_whole(home)


# ---- what a finished job looks like ------------------------------------------------------------
def final_state(home: Path) -> dict:
    subs = assert_store_consistent(home)
    assert all(s["finalized"] for s in subs), "a submission left unfinalized"
    register = openpyxl.load_workbook(home / "outbox" / "海西州电力安全隐患台账（汇总）.xlsx")["隐患台账"]
    leftovers = [p for p in (home / "inbox").rglob("*") if p.is_file() and p.parent.name != "rejected"]
    assert not leftovers, f"files left in the inbox: {leftovers}"
    assert not list((home / ".staging").glob("*")), "staging copies left behind"
    return {
        "submissions": sorted((s["county"], s["file_name"], s["sha256"], s["outcome"], s["rows"]) for s in subs),
        "kept": sorted((str(p.relative_to(home)), h) for p, h in kept_files(home).items()),
        "reports": sorted(str(p.relative_to(home)) for p in (home / "inbox").rglob(f"*{REPORT_SUFFIX}")),
        "register": sorted(register.iter_rows(min_row=2, values_only=True)),
        "outbox": sorted(p.name for p in (home / "outbox").iterdir() if not p.name.startswith(".")),
    }


def uninterrupted(tmp_path_factory, name: str, files: dict[str, bytes]) -> tuple[Path, subprocess.CompletedProcess]:
    """A home that had `files` in its inbox, after one uninterrupted run."""
    home = tmp_path_factory.mktemp(name) / "home"
    fill_inbox(home, files)
    proc = run_ingest(home)
    assert proc.returncode == 0, proc.stderr
    return home, proc


@pytest.fixture(scope="session")
def reference(tmp_path_factory, scenario_files) -> dict:
    """The end state of an uninterrupted run."""
    home, _proc = uninterrupted(tmp_path_factory, "reference", scenario_files)
    state = final_state(home)
    outcomes = Counter(s[3] for s in state["submissions"])
    assert outcomes == {"accepted": 3, "rejected": 1, "duplicate": 1}
    return state


def assert_finished_like_reference(home: Path, reference: dict) -> None:
    proc = run_ingest(home)
    assert proc.returncode == 0, proc.stderr
    state = final_state(home)
    assert state == reference
    per_sha = Counter((s[2], s[3]) for s in state["submissions"])
    assert all(n == 1 for n in per_sha.values()), per_sha  # each file accepted (or rejected) exactly once


# ---- the tests ---------------------------------------------------------------------------------
def test_the_scenario_reaches_every_checkpoint(settings, as_of, scenario_files):
    """The failpoints are where the parametrization below believes, and are hit as often."""
    fill_inbox(settings.home, scenario_files)
    seen: Counter = Counter()
    try:
        for name in CHECKPOINTS:
            failpoints.set_hook(name, lambda name=name, **_: seen.update([name]))
        result = ingest(settings, as_of)
    finally:
        failpoints.reset()
    assert sorted(f.outcome for f in result.files) == ["accepted"] * 3 + ["duplicate", "rejected"]
    assert dict(seen) == HITS


def test_unknown_failpoint_name_is_refused():
    with pytest.raises(ValueError, match="unknown checkpoint"):
        failpoints.set_hook("no_such_point", print)
    env = {**os.environ, "HAZARDNET_FAILPOINT": "afterarchive:1"}
    proc = subprocess.run([sys.executable, "-c", "from hazardnet.failpoints import checkpoint; checkpoint('after_archive')"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "unknown checkpoint 'afterarchive'" in proc.stderr


def _cases():
    for name, hits in HITS.items():
        for n in sorted({1, 2, hits} & set(range(1, hits + 1))):
            marks = [pytest.mark.slow] if n > 1 else []
            yield pytest.param(name, n, id=f"{name}:{n}", marks=marks)


@pytest.mark.parametrize("name,n", list(_cases()))
def test_killed_at_any_point_the_next_run_finishes_the_job(tmp_path, scenario_files, reference, name, n):
    home = tmp_path / "home"
    fill_inbox(home, scenario_files)
    killed_at(home, f"{name}:{n}")
    assert_after_crash(home, scenario_files)
    assert_finished_like_reference(home, reference)


@pytest.mark.slow
def test_killed_twice_in_a_row_still_finishes(tmp_path, scenario_files, reference):
    home = tmp_path / "home"
    fill_inbox(home, scenario_files)
    killed_at(home, "after_record:2")
    assert_after_crash(home, scenario_files)
    killed_at(home, "mid_record:1")
    assert_after_crash(home, scenario_files)
    killed_at(home, "before_rename:1")
    assert_after_crash(home, scenario_files)
    assert_finished_like_reference(home, reference)


# ---- a file replaced while it is being ingested ----------------------------------------------------
def replace_file(path: Path, data: bytes) -> None:
    """What Excel or WPS does on save: write a new file, rename it over the old name."""
    tmp = path.with_name(f"~${path.name}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@pytest.mark.parametrize("when", ["after_snapshot", "after_archive", "after_record", "original_set_aside"])
def test_file_replaced_while_read_old_one_ingested_once_new_one_left_for_next_run(settings, as_of, tmp_path, when):
    """The clerk saves a corrected register over the one being ingested: the bytes that were read are
    ingested exactly once, and the new version stays in the inbox for the next run."""
    old = GOOD.read_bytes()
    wb = openpyxl.load_workbook(GOOD)
    wb.active["R2"] = "已整改"
    wb.active["S2"] = dt.datetime(2026, 11, 1)
    wb.save(tmp_path / "new.xlsx")
    new = (tmp_path / "new.xlsx").read_bytes()
    path = settings.inbox / "格尔木市" / "台账.xlsx"
    path.parent.mkdir(parents=True)
    path.write_bytes(old)

    failpoints.set_hook(when, lambda **_: replace_file(path, new) if not path.exists() or path.read_bytes() != new else None)
    try:
        first = ingest(settings, as_of)
    finally:
        failpoints.reset()
    [f] = first.files
    assert f.outcome == "accepted" and sha(Path(f.kept_at)) == sha(old)
    assert path.read_bytes() == new, "the new version must wait in the inbox"
    assert not [p for p in path.parent.iterdir() if p.name != path.name], "nothing else left in the folder"

    second = ingest(settings, as_of)
    [g] = second.files
    assert g.outcome == "accepted" and sha(Path(g.kept_at)) == sha(new)
    assert not path.exists()
    subs, _ = store_rows(settings.home)
    assert Counter((s["sha256"], s["outcome"]) for s in subs) == {(sha(old), "accepted"): 1,
                                                                  (sha(new), "accepted"): 1}


PRELUDE_REPLACE = """
    import os, pathlib
    from hazardnet import failpoints
    def _replace(**_):
        path = pathlib.Path({path!r})
        new = pathlib.Path({new!r}).read_bytes()
        if not path.exists() or path.read_bytes() != new:
            tmp = path.with_name("~$" + path.name)
            tmp.write_bytes(new)
            os.replace(tmp, path)
    failpoints.set_hook({when!r}, _replace)
"""


@pytest.mark.parametrize("when", ["after_record", "original_set_aside"])
def test_killed_while_taking_out_an_original_that_was_just_replaced(tmp_path, when):
    """Killed right after the original was renamed aside (hazardnet.intake._remove_original):
    the next run deletes the aside file if it holds the ingested bytes, and otherwise puts it back —
    the replacement came before the rename (`after_record`) or after it (`original_set_aside`)."""
    home = tmp_path / "home"
    old = GOOD.read_bytes()
    new_path = tmp_path / "new.xlsx"
    wb = openpyxl.load_workbook(GOOD)
    wb.active["R2"] = "已整改"
    wb.active["S2"] = dt.datetime(2026, 11, 1)
    wb.save(new_path)
    new = new_path.read_bytes()
    fill_inbox(home, {"格尔木市/台账.xlsx": old})

    killed_at(home, "original_set_aside:1", prelude=PRELUDE_REPLACE.format(
        path=str(home / "inbox" / "格尔木市" / "台账.xlsx"), new=str(new_path), when=when))
    files = {"old": old, "new": new}
    assert_after_crash(home, files)
    folder = home / "inbox" / "格尔木市"
    asides = [p for p in folder.iterdir() if p.name.startswith(".hazardnet-removing-")]
    assert len(asides) == 1

    proc = run_ingest(home)  # recovery, and the new version is ingested
    assert proc.returncode == 0, proc.stderr
    subs = assert_store_consistent(home)
    assert Counter((s["sha256"], s["outcome"]) for s in subs) == {(sha(old), "accepted"): 1,
                                                                  (sha(new), "accepted"): 1}
    assert all(s["finalized"] for s in subs)
    assert not [p for p in folder.iterdir() if p.is_file()], "the inbox is empty once both are in"
    assert {sha(p) for p in (home / "archive").rglob("*.xlsx")} == {sha(old), sha(new)}
    out = json.loads(proc.stdout)
    assert [f["outcome"] for f in out["files"]] == ["accepted"]



@pytest.mark.parametrize("failpoint", ["after_report:1", "after_record:1", "after_reject_keep:1"])
def test_killed_while_rejecting_a_file_it_could_not_read_the_rejection_is_recorded_once(tmp_path, failpoint):
    """A file in a folder that is no configured county is moved to rejected/ as it is (nothing to copy):
    wherever the run dies, the next one leaves exactly one finalized rejection, the file and one report."""
    from hazardnet.store import Store

    home = tmp_path / "home"
    fill_inbox(home, {"未知县/台账.xlsx": GOOD.read_bytes()})
    killed = run_ingest(home, failpoint=failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    finished = run_ingest(home)
    assert finished.returncode == 0, finished.stderr[-2000:]

    store = Store(load_settings(home).database_url)
    try:
        subs = store.submissions_frame()
        assert store.unfinalized() == []
    finally:
        store.dispose()
    assert list(subs["outcome"]) == ["rejected"] and bool(subs["finalized"].iloc[0])
    rejected = home / "inbox" / "未知县" / "rejected"
    kept = sorted(p.name for p in rejected.iterdir())
    assert kept == sorted(["台账.xlsx", f"台账{REPORT_SUFFIX}"])
    assert sha(rejected / "台账.xlsx") == sha(GOOD) and subs["kept_at"].iloc[0] == str(rejected / "台账.xlsx")
    assert not (home / "inbox" / "未知县" / "台账.xlsx").exists()


# ---- the other files of a county's folder: customer file, drills workbook, the meeting's commitment table ----
@pytest.fixture(scope="session")
def record_files(tmp_path_factory) -> dict[str, bytes]:
    """A register, then a customer file (一户一档), a drills workbook and a 整改承诺表 naming one of its hazards."""
    from tests.customer_files import customer_file, drills_file
    from tests.test_customer_file import GOLMUD, GOLMUD_DRILLS
    from tests.test_supervision import write_commitment_table

    tmp = tmp_path_factory.mktemp("records")
    promised = (AS_OF + dt.timedelta(days=30)).isoformat()
    return {
        "格尔木市/01_台账.xlsx": GOOD.read_bytes(),
        "格尔木市/02_客户档案.xlsx": customer_file(tmp / "c.xlsx", GOLMUD).read_bytes(),
        "格尔木市/03_演练记录.xlsx": drills_file(tmp / "d.xlsx", GOLMUD_DRILLS).read_bytes(),
        "格尔木市/04_整改承诺表.xlsx": write_commitment_table(tmp / "t.xlsx", [
            (1, "格尔木市", "0630100001", "青海盐湖钾肥股份有限公司", "GEM-2026-001", "重大", "单回路供电", "2026-06-30",
             "整改中", promised, "李建国")]).read_bytes(),
    }


def record_store(home: Path) -> dict:
    """What the store holds of the record files and commitments, each version whole or absent: an accepted
    version carries exactly its rows, anything else none; commitments only with their submission."""
    with sqlite3.connect(f"file:{home / 'hazardnet.db'}?mode=ro", uri=True) as conn:
        files = conn.execute("select id, kind, outcome, rows, finalized, sha256 from record_files order by id").fetchall()
        rows = Counter(dict(conn.execute("select file_id, count(*) from customer_rows group by file_id").fetchall()))
        rows.update(dict(conn.execute("select file_id, count(*) from drill_rows group by file_id").fetchall()))
        subs = dict(conn.execute("select id, rows from submissions where outcome = 'commitments'").fetchall())
        promised = Counter(dict(conn.execute(
            "select submission_id, count(*) from commitments group by submission_id").fetchall()))
    assert set(rows) <= {f[0] for f in files} and set(promised) <= set(subs), "rows without their file"
    for file_id, _kind, outcome, n, _done, _sha in files:
        assert rows[file_id] == (n if outcome == "accepted" else 0), (file_id, outcome, n, rows[file_id])
    for sub_id, n in subs.items():
        assert promised[sub_id] == n, (sub_id, n, promised[sub_id])
    return {"files": sorted((kind, outcome, n, done, sha) for _i, kind, outcome, n, done, sha in files),
            "commitments": sorted(subs.values())}


@pytest.fixture(scope="session")
def record_reference(tmp_path_factory, record_files) -> dict:
    home, proc = uninterrupted(tmp_path_factory, "record-reference", record_files)
    outcomes = [(f["path"].rsplit("/", 1)[-1], f["outcome"]) for f in json.loads(proc.stdout)["files"]]
    assert outcomes == [("01_台账.xlsx", "accepted"), ("02_客户档案.xlsx", "accepted"),
                        ("03_演练记录.xlsx", "accepted"), ("04_整改承诺表.xlsx", "commitments")], outcomes
    return {"state": final_state(home), "records": record_store(home)}


@pytest.mark.parametrize("failpoint", ["after_archive:2", "after_record:2", "after_remove:2", "after_archive:3",
                                       "after_record:3", "after_archive:4", "after_record:4", "after_remove:4"])
def test_killed_while_taking_in_a_customer_file_drills_or_commitments_the_next_run_finishes_the_job(
        tmp_path, record_files, record_reference, failpoint):
    """Killed with a customer file (2), a drills workbook (3) or a commitment table (4) half taken in: no version
    without its rows, no rows twice, the original kept; the next run ends where an uninterrupted one does."""
    home = tmp_path / "home"
    fill_inbox(home, record_files)
    killed_at(home, failpoint)
    assert_after_crash(home, record_files)
    record_store(home)
    proc = run_ingest(home)
    assert proc.returncode == 0, proc.stderr
    assert final_state(home) == record_reference["state"]
    assert record_store(home) == record_reference["records"]
