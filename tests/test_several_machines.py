"""The README's "Several machines" set-up, run for real (scripts/several_machines.py): PostgreSQL, `hazardnet
server` with authentication on it, a process work pool, `prefect deploy --all`, two `prefect worker` processes;
the ingest, bulletin and quarterly deployments of two homes run through the workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import ENV_URL, PostgresUnavailable, find_bindir

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_two_homes_run_their_deployments_on_two_workers(tmp_path):
    if not os.environ.get(ENV_URL):
        try:
            find_bindir()
        except PostgresUnavailable as exc:
            pytest.skip(str(exc))
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "several_machines.py"), "--json", "--root",
                           str(tmp_path), "--workers", "2"], capture_output=True, text=True, timeout=1500)
    assert done.stdout, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["problems"] == [], report["problems"]
    assert done.returncode == 0
    runs = report["runs"]
    homes = sorted(report["homes"])
    # two homes × (ingest, bulletin, quarterly), each completed, each started by one of the two workers
    assert len(runs) == 6
    assert sorted(r["parameters"]["home"] for r in runs.values()) == sorted(homes * 3)
    assert all(r["state"] == "COMPLETED" and r["worker"] in ("worker-1", "worker-2") for r in runs.values())
    assert all(r["infrastructure_pid"] for r in runs.values())
    assert {r["worker"] for r in runs.values()} == {"worker-1", "worker-2"}
    for home, out in report["homes"].items():
        files = [(county, name) for county, name, _sha, _outcome in out["submissions"]]
        assert len(files) == len(set(files)) == 6  # each county file taken once
        assert sorted(o for *_x, o in out["submissions"]) == ["accepted"] * 5 + ["rejected"]
        assert out["inbox_left"] == [] and out["archived"] == 5 and out["rejected"] == 1
        assert out["consolidated"] and out["mails"] > 0 and out["quarterly_workbooks"] == 7
        assert (Path(home) / "outbox" / "海西州电力安全隐患台账（汇总）.xlsx").is_file()
    # the server never ran without its password, and none of the logs shows it
    password = (tmp_path / "prefect-auth").read_text().strip().split(":", 1)[1]
    for log in tmp_path.glob("*.log"):
        assert password not in log.read_text(errors="replace"), log
