"""`hazardnet ingest` with nothing to do answers without starting a flow run, and without importing Prefect
or pandas; in every other case the flow runs exactly as before.

The CLI runs in a subprocess against the session's Prefect test server, on a real home folder with a real
SQLite store; which flow runs exist is read back through the Prefect client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hazardnet.settings import Settings
from hazardnet.store import Store
from tests.conftest import AS_OF, DATA, drop, harness_env

ROOT = Path(__file__).resolve().parents[1]
FLOW = "导入县公司隐患台账"
GOOD = DATA / "good" / "canonical.xlsx"
BAD = DATA / "bad" / "unknown_vocab.xlsx"
HEAVY = ("prefect", "pandas", "pandera", "xlsxwriter", "openpyxl", "numpy")


def ingest_cli(settings: Settings, *args: str, as_of: dt.date = AS_OF, env: dict | None = None,
               python_flags: tuple[str, ...] = ()) -> tuple[dict, subprocess.CompletedProcess]:
    """`hazardnet ingest --json` in a fresh process; returns its JSON answer and the process."""
    proc = subprocess.run([sys.executable, *python_flags, "-m", "hazardnet", "ingest", "--home", str(settings.home),
                           "--as-of", as_of.isoformat(), "--json", *args],
                          capture_output=True, text=True, env={**harness_env(), **(env or {})}, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def ingest_flow_runs(settings: Settings) -> dict[str, object]:
    """Every flow run of the ingest flow for this home folder, by id (read through the Prefect client)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async def fetch():
        runs = []
        async with get_client() as client:
            while page := await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW])),
                                                      limit=200, offset=len(runs)):
                runs += page
        return runs

    home = str(settings.home.resolve())
    return {str(r.id): r for r in asyncio.run(fetch()) if r.parameters.get("home") == home}


def assert_flow_ran(settings: Settings, out: dict) -> None:
    """The answer names a flow run, and that run exists, completed, for this home."""
    assert out["flow_run"] is not None, out
    run = ingest_flow_runs(settings).get(out["flow_run"])
    assert run is not None and run.state.is_completed(), run


def assert_no_flow_run(settings: Settings, out: dict, runs_before: dict) -> None:
    """The answer is that of a run with nothing new, and no flow run was created for it."""
    assert out == {"files": [], "consolidated": str(settings.consolidated_path.resolve()), "waiting": [],
                   "flow_run": None}
    assert ingest_flow_runs(settings).keys() == runs_before.keys()


@pytest.fixture
def ingested(prefect_harness, settings) -> Settings:
    """A home whose inbox was ingested once through the CLI (one accepted register)."""
    drop(settings, GOOD)
    out, _ = ingest_cli(settings)
    assert [f["outcome"] for f in out["files"]] == ["accepted"]
    assert_flow_ran(settings, out)
    return settings


def test_nothing_new_answers_without_a_flow_run(ingested):
    runs = ingest_flow_runs(ingested)
    register = ingested.consolidated_path.resolve()
    written = register.stat().st_mtime_ns
    out, _ = ingest_cli(ingested)
    assert_no_flow_run(ingested, out, runs)
    human = subprocess.run([sys.executable, "-m", "hazardnet", "ingest", "--home", str(ingested.home),
                            "--as-of", AS_OF.isoformat()], capture_output=True, text=True, env=harness_env(),
                           cwd=ROOT, timeout=600)
    assert human.returncode == 0, human.stderr
    assert "收件箱中没有新文件，汇总台账已是最新；未启动流程运行。" in human.stdout
    assert f"汇总台账：{register}" in human.stdout.replace("\n", "")
    assert ingest_flow_runs(ingested).keys() == runs.keys()
    assert register.stat().st_mtime_ns == written


def test_always_run_starts_a_flow_run_with_the_same_answer(ingested):
    shortcut, _ = ingest_cli(ingested)
    assert shortcut["flow_run"] is None
    runs = ingest_flow_runs(ingested)
    out, _ = ingest_cli(ingested, "--always-run")
    assert_flow_ran(ingested, out)
    assert out["flow_run"] not in runs
    assert {**out, "flow_run": None} == shortcut  # same shape and content, only the run differs


def test_the_shortcut_imports_neither_prefect_nor_pandas(ingested):
    runs = ingest_flow_runs(ingested)
    out, proc = ingest_cli(ingested, python_flags=("-X", "importtime"))
    assert_no_flow_run(ingested, out, runs)
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert {"hazardnet.intake.inbox", "hazardnet.publish.fingerprint", "sqlite3"} <= imported  # it did check
    assert sorted(m for m in imported if m.split(".")[0] in (*HEAVY, "sqlalchemy")) == []
    # the same command that has to run the flow does import them (so the check above can see them)
    drop(ingested, BAD)
    out, proc = ingest_cli(ingested, python_flags=("-X", "importtime"))
    assert out["flow_run"] is not None
    assert {"prefect", "pandas"} <= {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                                    if line.startswith("import time:")}


@pytest.mark.parametrize("settled", [True, False], ids=["settled", "still-being-copied"])
def test_a_waiting_file_goes_through_the_flow(ingested, settled):
    waiting = drop(ingested, BAD, name="11月台账.xlsx")
    # a file modified less than HAZARDNET_SETTLE_SECONDS ago (and not settled within the wait) is left for later,
    # by the run and by the check, and named
    out, _ = ingest_cli(ingested, env={"HAZARDNET_SETTLE_SECONDS": "0" if settled else "3600",
                                       "HAZARDNET_SETTLE_WAIT_SECONDS": "0"})
    assert_flow_ran(ingested, out)
    if settled:
        assert [(Path(f["path"]).name, f["outcome"]) for f in out["files"]] == [("11月台账.xlsx", "rejected")]
        assert not waiting.exists()
    else:
        assert out["files"] == [] and waiting.exists()
        assert [w["file"] for w in out["waiting"]] == ["11月台账.xlsx"]


def test_a_deleted_consolidated_register_is_rewritten(ingested):
    ingested.consolidated_path.unlink()
    out, _ = ingest_cli(ingested)
    assert_flow_ran(ingested, out)
    assert out["files"] == [] and ingested.consolidated_path.is_file()
    again, _ = ingest_cli(ingested)
    assert again["flow_run"] is None


def test_another_as_of_goes_through_the_flow(ingested):
    later = AS_OF + dt.timedelta(days=1)
    out, _ = ingest_cli(ingested, as_of=later)
    assert_flow_ran(ingested, out)
    assert ingest_cli(ingested, as_of=later)[0]["flow_run"] is None
    back, _ = ingest_cli(ingested)  # the register on disk is now the one for the later date
    assert_flow_ran(ingested, back)


KILLED_RUN = textwrap.dedent("""
    import datetime as dt, sys
    from hazardnet.jobs.ingest import ingest
    from hazardnet.settings import load_settings
    ingest(load_settings(sys.argv[1], settle_seconds=0), dt.date.fromisoformat(sys.argv[2]))
""")


def run_engine_killed_at(settings: Settings, failpoint: str) -> None:
    """The engine's ingest (no Prefect) in a process of its own, SIGKILLed at `failpoint`."""
    env = {**os.environ, "HAZARDNET_FAILPOINT": failpoint}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(settings.home), AS_OF.isoformat()], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=300)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # parser children of the killed run, if any remain
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL and f"hit {failpoint}" in err, err


def test_an_unfinalized_submission_goes_through_recovery(ingested):
    # a rejected register, recorded and taken out of the inbox, then the run died before finalizing it:
    # the inbox is empty and the register's inputs are unchanged, only recovery has work left
    drop(ingested, BAD)
    run_engine_killed_at(ingested, "after_remove:1")
    store = Store(ingested.database_url)
    try:
        assert [s["file_name"] for s in store.unfinalized()] == [BAD.name]
        out, _ = ingest_cli(ingested)
        assert_flow_ran(ingested, out)
        assert out["files"] == [] and store.unfinalized() == []
    finally:
        store.dispose()
    assert ingest_cli(ingested)[0]["flow_run"] is None


@pytest.mark.parametrize("leftover", ["set-aside original", "staging snapshot", "half-written report"])
def test_what_a_killed_run_left_on_disk_goes_through_recovery(ingested, leftover):
    county = ingested.inbox / "格尔木市"
    if leftover == "set-aside original":  # a newer version, saved while its predecessor was being taken out
        left = county / ".hazardnet-removing-4242-1-12月台账.xlsx"
        shutil.copyfile(BAD, left)
    elif leftover == "staging snapshot":
        left = ingested.home / ".staging" / "4242-1.part"
        left.parent.mkdir(exist_ok=True)
        left.write_bytes(GOOD.read_bytes()[:1000])
    else:
        left = county / "rejected" / ".tmp-4242"
        left.mkdir(parents=True)
        (left / "report.xlsx").write_bytes(b"PK")
    out, _ = ingest_cli(ingested)
    assert_flow_ran(ingested, out)
    assert not left.exists()
    if leftover == "set-aside original":  # put back into the inbox by recovery, then ingested
        assert [(Path(f["path"]).name, f["outcome"]) for f in out["files"]] == [("12月台账.xlsx", "rejected")]
    else:
        assert out["files"] == []
    assert ingest_cli(ingested)[0]["flow_run"] is None


def test_a_fresh_home_goes_through_the_flow(prefect_harness, settings):
    settings.home.mkdir()  # an empty folder: no store, no inbox, no register yet
    out, _ = ingest_cli(settings)
    assert_flow_ran(settings, out)
    assert out["files"] == [] and settings.consolidated_path.is_file()
    assert (settings.home / "hazardnet.db").is_file()
    runs = ingest_flow_runs(settings)
    out, _ = ingest_cli(settings)
    assert_no_flow_run(settings, out, runs)


def test_an_ingest_holding_the_lock_means_a_real_run(ingested):
    """While another ingest holds the home's lock the check cannot trust what it sees: a flow run is started
    (and waits for the lock, as before)."""
    from hazardnet.intake.transaction import ingest_lock

    runs = ingest_flow_runs(ingested)
    with ingest_lock(ingested):
        proc = subprocess.Popen([sys.executable, "-m", "hazardnet", "ingest", "--home", str(ingested.home), "--as-of",
                                 AS_OF.isoformat(), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=harness_env(), cwd=ROOT)
        try:
            started = {}
            for _ in range(600):  # until its flow run exists (hang safety only)
                started = ingest_flow_runs(ingested).keys() - runs.keys()
                if started or proc.poll() is not None:
                    break
                time.sleep(0.5)
            assert started, proc.poll() is not None and proc.communicate()
        except BaseException:
            proc.kill()
            raise
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert json.loads(out)["flow_run"] in started


def test_the_shortcuts_sqlite_reader_answers_as_the_store(prefect_harness, settings):
    """`_SqliteProbe` (plain sqlite3, so the shortcut needs no SQLAlchemy) gives the Store's answers: with
    accepted, rejected and unfinalized submissions, on dates before, at and after them, and for outputs
    recorded or not."""
    from hazardnet.jobs.ingest import ingest
    from hazardnet.publish.fingerprint import _read_store, _SqliteProbe, inputs_fingerprint

    drop(settings, GOOD)
    drop(settings, BAD, county="德令哈市")
    ingest(settings, AS_OF)
    store = Store(settings.database_url)
    try:
        late = store.record_submission(county="格尔木市", file_name="late.xlsx", sha256="0" * 64,
                                       as_of=AS_OF + dt.timedelta(days=3), outcome="accepted", findings=[],
                                       kept_at=None)
        probe = _read_store(settings.database_url)
        assert isinstance(probe, _SqliteProbe)
        try:
            unfinalized = store.unfinalized()
            assert [u["id"] for u in unfinalized] == [late] and probe.unfinalized() == unfinalized
            for day in (AS_OF - dt.timedelta(days=1), AS_OF, AS_OF + dt.timedelta(days=3)):
                assert probe.accepted_through(day) == store.accepted_through(day)
                assert inputs_fingerprint(probe, settings, day) == inputs_fingerprint(store, settings, day)
            assert store.accepted_through(AS_OF) and store.accepted_through(AS_OF) != store.accepted_through(
                AS_OF + dt.timedelta(days=3))
            register = str(settings.consolidated_path)
            assert store.output_hash(register) is not None
            assert probe.output_hash(register) == store.output_hash(register)
            assert probe.output_hash(register + ".missing") is None is store.output_hash(register + ".missing")
        finally:
            probe.dispose()
    finally:
        store.dispose()
