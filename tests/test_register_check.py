"""Registers checked in worker processes (big runs) give exactly what checking in-process gives."""

from __future__ import annotations

import hazardnet.register_check as register_check
from hazardnet.intake import ingest

from .conftest import DATA, drop

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


def test_worker_processes_find_exactly_what_in_process_checking_finds(settings, as_of, monkeypatch, tmp_path):
    from hazardnet.settings import load_settings

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
