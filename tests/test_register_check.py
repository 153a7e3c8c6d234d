"""Registers checked in worker processes or in the parser process (big runs) give exactly what checking
in-process gives: the same outcomes, findings, kept files and error reports."""

from __future__ import annotations

import zipfile

import hazardnet.intake.check_pool as register_check
import hazardnet.intake.transaction as intake
from hazardnet.intake.reader import WorkbookReaderPool
from hazardnet.jobs.ingest import ingest
from tests.conftest import DATA, drop

GOOD = sorted((DATA / "good").glob("*.xlsx"))
BAD = sorted((DATA / "bad").glob("*.xlsx"))


def _run(settings, as_of) -> list[dict]:
    for i, src in enumerate(GOOD + BAD):
        drop(settings, src, county="格尔木市" if i % 2 else "德令哈市", name=f"{i:02d}_{src.name}")
    result = ingest(settings, as_of)
    return sorted((f.as_json() for f in result.files), key=lambda f: f["path"])


def _comparable(files: list[dict], home) -> list[dict]:
    return [{**f, "kept_at": f["kept_at"] and f["kept_at"].replace(str(home), "~"),
             "report": f["report"] and f["report"].replace(str(home), "~"),
             "path": f["path"].replace(str(home), "~")} for f in files]


def _reports(files: list[dict]) -> list[dict[str, bytes]]:
    """The sheets of every error report (the rejected file's own sheet, marked), without timestamps."""
    out = []
    for f in files:
        if f["report"]:
            with zipfile.ZipFile(f["report"]) as z:
                out.append({n: z.read(n) for n in z.namelist() if n.startswith("xl/worksheets/")})
    return out


def test_worker_processes_find_exactly_what_in_process_checking_finds(settings, as_of, monkeypatch, tmp_path):
    from hazardnet.settings import load_settings

    monkeypatch.setattr(intake, "PARSER_CHECKS_UP_TO", -1)  # the parser process never checks
    monkeypatch.setattr(register_check, "START_AFTER", 10**9)  # never start workers
    in_process = _comparable(_run(settings, as_of), settings.home)

    used = []
    monkeypatch.setattr(register_check, "START_AFTER", 0)  # workers from the first register on
    other = load_settings(tmp_path / "other", settle_seconds=0, workers=2)
    when_ready = register_check.CheckPool._executor_when_ready

    def spy(self):
        executor = when_ready(self)
        if executor is None and self._ready is not None:
            self._ready.result()  # here, wait for the workers rather than check in-process meanwhile
            executor = self._executor
        used.append(executor is not None)
        return executor

    monkeypatch.setattr(register_check.CheckPool, "_executor_when_ready", spy)
    in_workers = _comparable(_run(other, as_of), other.home)
    assert any(used)  # the workers really did some of the checking
    assert len(in_workers) == len(GOOD) + len(BAD)
    assert in_workers == in_process
    assert {f["outcome"] for f in in_workers} == {"accepted", "rejected"}


def test_parser_process_checks_big_runs_exactly_as_in_process(settings, as_of, monkeypatch, tmp_path):
    from hazardnet.settings import load_settings

    monkeypatch.setattr(intake, "PARSER_CHECKS_FROM", 10**9)  # in-process only
    monkeypatch.setattr(register_check, "START_AFTER", 10**9)
    plain = _run(settings, as_of)
    in_process = _comparable(plain, settings.home)

    followed = []
    submit = WorkbookReaderPool.submit

    def spy(self, path, then=None):
        followed.append(then is not None)
        return submit(self, path, then=then)

    monkeypatch.setattr(WorkbookReaderPool, "submit", spy)
    monkeypatch.setattr(intake, "PARSER_CHECKS_FROM", 3)  # the parser process checks from the 4th file on
    other = load_settings(tmp_path / "other", settle_seconds=0, workers=2)
    files = _run(other, as_of)
    assert followed.count(False) == 3 and followed.count(True) == len(GOOD) + len(BAD) - 3
    assert _comparable(files, other.home) == in_process
    assert {f["outcome"] for f in files} == {"accepted", "rejected"}
    # a rejected file's report shows its own sheet: the grid came back from the parser for it
    rejected = sum(f["outcome"] == "rejected" for f in files)
    assert rejected >= len(BAD) and len(_reports(files)) == rejected
    assert _reports(files) == _reports(plain)



def test_the_ingesting_process_leaves_pandas_and_pandera_to_the_parser_processes(settings, as_of):
    """Registers of ordinary size are checked in the parser processes, which fork from a server that imported
    pandas and pandera once, and send the rows back as plain lists (schemas.table.PlainFrame): the ingesting
    process itself imports neither pandas, numpy nor pandera (≈1 CPU s of imports in every run), yet it
    stores every row, writes the consolidated register and the rejected file still gets its findings."""
    import json
    import subprocess
    import sys

    for i, src in enumerate(GOOD + BAD):
        drop(settings, src, county="格尔木市" if i % 2 else "德令哈市", name=f"{i:02d}_{src.name}")
    code = ("import json, sys, datetime as dt\n"
            "from hazardnet.jobs.ingest import ingest\n"
            "from hazardnet.settings import load_settings\n"
            "if __name__ == '__main__':\n"
            f"    r = ingest(load_settings({str(settings.home)!r}, settle_seconds=0), dt.date.fromisoformat({as_of.isoformat()!r}),\n"
            "               mail_rejections=False)  # mailing reports reads the directory (pandas): not the intake\n"
            "    print(json.dumps({'pandera': sorted(m for m in sys.modules if m.split('.')[0] in\n"
            "                                          ('pandera', 'pandas', 'numpy')),\n"
            "                      'rows': sum(f.rows for f in r.files), 'register': r.consolidated,\n"
            "                      'outcomes': sorted(f.outcome for f in r.files),\n"
            "                      'findings': sum(len(f.findings) for f in r.files if f.outcome == 'rejected')}))\n")
    script = settings.home / "run_ingest.py"
    script.write_text(code, encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                         cwd=str(DATA.parent.parent))
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["pandera"] == []
    assert got["outcomes"].count("accepted") >= 1 and got["outcomes"].count("rejected") >= len(BAD)
    assert got["findings"] >= len(BAD)
    from hazardnet.store import Store

    import openpyxl
    import sqlalchemy as sa

    store = Store(settings.database_url)
    try:  # every accepted row is in the store; the current version of each hazard is in the consolidated register
        with store.engine.connect() as conn:
            assert got["rows"] > 0 and conn.execute(sa.text("SELECT count(*) FROM hazard_rows")).scalar() == got["rows"]
        current = store.current_rows(as_of, ["county", "hazard_id"])
    finally:
        store.dispose()
    assert current and openpyxl.load_workbook(got["register"], read_only=True)["隐患台账"].max_row == 1 + len(current)
