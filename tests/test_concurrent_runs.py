"""Two runs at once (a schedule overlapping a manual run): no file processed twice, the store intact.

Real processes on one home folder and one SQLite file, started together; the end state must equal that
of a single uninterrupted run (tests/test_crash_recovery.py's five-file scenario and reference).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter

import pytest

from tests.conftest import AS_OF
from tests.test_crash_recovery import (
    ROOT,
    RUNNER,
    assert_no_survivors,
    fill_inbox,
    final_state,
    reference,
    scenario_files,
)

GO = textwrap.dedent("""
    import pathlib, time
    _go = pathlib.Path({go!r})
    while not _go.exists():  # every process imported and ready: start together
        time.sleep(0.005)
""")


def start_ingest(home, go, workers=2) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDNET_")}
    return subprocess.Popen([sys.executable, "-c", "import hazardnet.intake\n" + GO.format(go=str(go)) + RUNNER,
                             str(home), AS_OF.isoformat(), str(workers)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def run_together(home, n: int) -> list[dict]:
    go = home.parent / "go"
    procs = [start_ingest(home, go) for _ in range(n)]
    go.touch()
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=300)  # hang safety only
            assert p.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    for p in procs:
        assert_no_survivors(p.pid)
    return results


@pytest.mark.parametrize("fresh_store", [True, False], ids=["fresh-store", "existing-store"])
def test_two_runs_at_once_process_each_file_once(tmp_path, scenario_files, reference, fresh_store):
    home = tmp_path / "home"
    if not fresh_store:  # the store and folders already exist (the usual case: a schedule + a manual run)
        results = run_together(home, 1)
        assert results[0]["files"] == []
    fill_inbox(home, scenario_files)
    results = run_together(home, 2)
    outcomes = Counter(f["path"] for r in results for f in r["files"])
    assert sorted(outcomes) == sorted(str(home / "inbox" / rel) for rel in scenario_files)
    assert set(outcomes.values()) == {1}, "a file was processed by both runs"
    assert final_state(home) == reference


@pytest.mark.slow
def test_three_runs_at_once_over_a_bigger_inbox(tmp_path, scenario_files):
    """Fifteen files (three copies of the scenario under other names, one week apart) and three runs."""
    home = tmp_path / "home"
    files = {}
    for k in range(3):
        for rel, data in scenario_files.items():
            county, name = rel.split("/")
            files[f"{county}/{k}_{name}"] = data
    fill_inbox(home, files)
    results = run_together(home, 3)
    seen = Counter(f["path"] for r in results for f in r["files"])
    assert len(seen) == 15 and set(seen.values()) == {1}
    state = final_state(home)
    per_outcome = Counter(s[3] for s in state["submissions"])
    assert per_outcome == {"accepted": 3, "rejected": 3, "duplicate": 9}  # 3 distinct good registers, once each


OPEN_STORE = textwrap.dedent("""
    import sys
    from hazardnet.store import Store
    store = Store(sys.argv[1])
    store.unfinalized()
    store.dispose()
""")


def test_processes_opening_a_fresh_store_together_all_succeed(tmp_path):
    """Every run opens the store before it takes the ingest lock: on a fresh SQLite file they race to
    create the tables, and the losers must not fail ("table submissions already exists")."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAZARDNET_")}
    for round_ in range(3):
        go = tmp_path / f"go{round_}"
        url = f"sqlite:///{tmp_path / f'store{round_}.db'}"
        procs = [subprocess.Popen([sys.executable, "-c", "import hazardnet.store\n" + GO.format(go=str(go)) + OPEN_STORE,
                                   url], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        go.touch()
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 6, [e[-500:] for e in errors if e]
