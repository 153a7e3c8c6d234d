"""The README's "Several machines" set-up, run on one box: PostgreSQL, `hazardnet server` on PostgreSQL with
authentication, a process work pool, `prefect deploy --all`, N `prefect worker` processes, and the ingest,
bulletin and quarterly deployments run for two homes (two prefectures sharing one server, a store each).

    .venv/bin/python scripts/several_machines.py                 # check it works (two workers), a few minutes
    .venv/bin/python scripts/several_machines.py --bench         # also runs per minute with two workers, then one
    .venv/bin/python scripts/several_machines.py --json --root DIR   # a report for tests/test_several_machines.py

Every process is started as the README says (the same commands, the same environment variables); the script
checks that every run completed on a worker, the outputs were written and each county file was taken once,
and prints what it found. PostgreSQL: Debian's server binaries (scripts/ensure_postgres.sh) in a private
cluster, or HAZARDNET_TEST_PG_URL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.postgres import ENV_URL, TempPostgres, create_database  # noqa: E402

BIN = REPO / ".venv" / "bin"
AS_OF = dt.date(2026, 11, 15)
DEPLOYMENTS = {"ingest": "导入县公司隐患台账/收件箱轮询", "bulletin": "月度电力安全隐患通报/月度通报",
               "quarterly": "季度隐患治理情况汇总/季度汇总"}
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Cluster:
    """The processes of the several-machines set-up, stopped in reverse order by `close()`."""

    def __init__(self, root: Path, workers: int):
        self.root = root
        self.n_workers = workers
        self.procs: dict[str, subprocess.Popen] = {}
        self.pg: TempPostgres | None = None
        self.pg_base = ""

    # ---- PostgreSQL ------------------------------------------------------------------------------------------
    def start_postgres(self) -> None:
        url = os.environ.get(ENV_URL)
        if url:
            admin = url.rsplit("/", 1)[0] + "/postgres"
        else:
            self.pg = TempPostgres()
            self.pg.start()
            admin = self.pg.url("postgres")
        self.pg_base = admin.rsplit("/", 1)[0]
        tag = secrets.token_hex(3)
        self.databases = {name: f"{name}_{tag}" for name in ("prefect", "home1", "home2")}
        for db in self.databases.values():
            create_database(admin, db)

    def db_url(self, name: str, driver: str = "psycopg") -> str:
        return f"{self.pg_base.replace('+psycopg', '+' + driver)}/{self.databases[name]}"

    # ---- the server ------------------------------------------------------------------------------------------
    def start_server(self) -> None:
        self.port = free_port()
        self.auth_file = self.root / "prefect-auth"
        self.auth_file.write_text(f"hazardnet:{secrets.token_urlsafe(18)}\n")
        self.auth_file.chmod(0o600)
        env = {**self.base_env(), "PREFECT_HOME": str(self.root / "server-home"),
               "PREFECT_API_DATABASE_CONNECTION_URL": self.db_url("prefect", "asyncpg"),
               # the runs are started here, not by schedules (prefect.yaml's ingest polls every 5 minutes)
               "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}
        self.spawn("server", [str(BIN / "hazardnet"), "server", "--host", "0.0.0.0", "--port", str(self.port),
                              "--auth-file", str(self.auth_file)], env, cwd=self.root)
        self.api = f"http://127.0.0.1:{self.port}/api"
        import httpx

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.procs["server"].poll() is not None:
                raise RuntimeError(f"hazardnet server ended: see {self.root / 'server.log'}")
            try:
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("hazardnet server did not answer within 300 s")

    def base_env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HAZARDNET_"))}

    def client_env(self, **extra: str) -> dict[str, str]:
        """What every client machine sets (README, "Several machines")."""
        return {**self.base_env(), "PREFECT_API_URL": self.api, "PREFECT_HOME": str(self.root / "client-home"),
                "PREFECT_API_AUTH_STRING": self.auth_file.read_text().strip(), **extra}

    def spawn(self, name: str, argv: list[str], env: dict, cwd: Path) -> None:
        log = open(self.root / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

    def prefect(self, *args: str, **extra: str) -> str:
        done = subprocess.run([str(BIN / "prefect"), "--no-prompt", *args], env=self.client_env(**extra), cwd=REPO,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    # ---- pool, deployments, workers --------------------------------------------------------------------------
    def deploy(self, homes: list[Path]) -> None:
        self.prefect("work-pool", "create", "hazardnet", "--type", "process")
        self.prefect("deploy", "--all", HAZARDNET_CHECKOUT=str(REPO), HAZARDNET_HOME=str(homes[0]),
                     HAZARDNET_DB_URL=self.db_url("home1"))

    def start_worker(self, i: int) -> None:
        env = self.client_env(PREFECT_WORKER_QUERY_SECONDS="2")
        self.spawn(f"worker-{i}", [str(BIN / "prefect"), "worker", "start", "--pool", "hazardnet", "--name",
                                   f"worker-{i}", "--limit", "1"], env, cwd=self.root)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        for name in [n for n in self.procs if n.startswith("worker")] + ["server"]:
            self.stop(name)
        if self.pg is not None:
            self.pg.stop()

    def worker_of_runs(self) -> dict[str, str]:
        """flow run id → the worker that started its process (from the workers' own logs: "submitting flow run
        '<id>'", unless that worker lost the race for it and logged "Aborted submission of flow run '<id>'"). By id,
        not name: a run renames itself when it starts (flows/run_form.py), after the worker logged the old name."""
        found: dict[str, str] = {}
        for log in self.root.glob("worker-*.log"):
            text = log.read_text(errors="replace")
            aborted = set(re.findall(r"Aborted submission of flow run '([^']+)'", text))
            for run_id in re.findall(r"submitting flow run '([^']+)'", text):
                if run_id not in aborted:
                    found[run_id] = log.stem
        return found


def run(cluster: Cluster, kind: str, home: Path, db: str, **params) -> str:
    """Start a run of a deployment for `home` (its store by the run's environment); the flow run's id."""
    from prefect.client.orchestration import get_client

    env = {"HAZARDNET_DB_URL": db, "PREFECT_LOGGING_SETTINGS_PATH": str(REPO / "flows" / "logging.yml")}
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENTS[kind])
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, parameters={"home": str(home), **params}, job_variables={"env": env})
    return str(flow_run.id)


def wait_for(run_ids: list[str], timeout: float = 900) -> dict[str, dict]:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = {i: client.read_flow_run(i) for i in run_ids}
            if all(r.state_type and r.state_type.value in FINAL for r in runs.values()) or time.monotonic() > deadline:
                return {i: {"state": r.state_type.value if r.state_type else None, "name": r.name,
                            "message": (r.state.message if r.state else None),
                            "infrastructure_pid": r.infrastructure_pid, "work_pool": r.work_pool_name,
                            "start": r.start_time.isoformat() if r.start_time else None,
                            "end": r.end_time.isoformat() if r.end_time else None,
                            "parameters": r.parameters}
                        for i, r in runs.items()}
            time.sleep(1)


def home_outputs(home: Path, db_url: str) -> dict:
    """What a home holds after its runs: files in the inbox, archive, rejected; store submissions per file."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            subs = conn.execute(sa.text("SELECT county, file_name, sha256, outcome FROM submissions")).all()
    finally:
        engine.dispose()
    return {
        "inbox_left": sorted(str(p.relative_to(home)) for p in (home / "inbox").glob("*/*.xlsx")),
        "archived": len(list((home / "archive").rglob("*.xlsx"))),
        "rejected": len(list((home / "inbox").glob("*/rejected/*.xlsx"))) - len(
            list((home / "inbox").glob("*/rejected/*_问题报告.xlsx"))),
        "submissions": [list(s) for s in subs],
        "consolidated": (home / "outbox" / "海西州电力安全隐患台账（汇总）.xlsx").is_file(),
        "mails": len(list((home / "outbox" / "mail").glob("*.eml"))),
        "quarterly_workbooks": len(list((home / "outbox" / "quarterly" / "2026Q3").glob("*.xlsx"))),
    }


def runs_per_minute(cluster: Cluster, homes: list[Path], dbs: list[str], rounds: int) -> dict:
    """A batch of runs that may run side by side (each deployment runs one at a time: concurrency_limit 1):
    per round and home, the quarterly summary and a nothing-new ingest."""
    ids = []
    started = time.monotonic()
    for _ in range(rounds):
        for home, db in zip(homes, dbs):
            ids.append(run(cluster, "quarterly", home, db, quarter="2026Q3", as_of=AS_OF.isoformat()))
            ids.append(run(cluster, "ingest", home, db, as_of=AS_OF.isoformat()))
    runs = wait_for(ids, timeout=1800)
    elapsed = time.monotonic() - started
    done = sum(1 for r in runs.values() if r["state"] == "COMPLETED")
    return {"runs": len(ids), "completed": done, "seconds": round(elapsed, 1),
            "runs_per_minute": round(done / elapsed * 60, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="folder for homes, logs and Prefect's files (default: a temporary one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bench", action="store_true", help="also measure runs per minute with N workers, then one")
    parser.add_argument("--bench-rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    args = parser.parse_args(argv)
    root = (args.root or Path(tempfile.mkdtemp(prefix="hazardnet-machines-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(root, args.workers)
    report: dict = {"root": str(root), "workers": args.workers}
    try:
        say("PostgreSQL …")
        cluster.start_postgres()
        say("hazardnet server --host 0.0.0.0 (PostgreSQL, authentication) …")
        cluster.start_server()
        os.environ.update({"PREFECT_API_URL": cluster.api,
                           "PREFECT_API_AUTH_STRING": cluster.auth_file.read_text().strip()})
        homes = [root / "home1", root / "home2"]
        dbs = [cluster.db_url("home1"), cluster.db_url("home2")]
        from hazardnet.cli.demo import months_back, write_demo_inbox

        for home in homes:
            write_demo_inbox(home, AS_OF, since=months_back(AS_OF, 12))
        say("prefect work-pool create, prefect deploy --all …")
        cluster.deploy(homes)
        for i in range(1, args.workers + 1):
            cluster.start_worker(i)
        say(f"{args.workers} workers; ingest, then bulletin and quarterly, for two homes …")
        ingest_ids = [run(cluster, "ingest", h, db, as_of=AS_OF.isoformat()) for h, db in zip(homes, dbs)]
        runs = wait_for(ingest_ids)
        later = []
        for home, db in zip(homes, dbs):
            later.append(run(cluster, "bulletin", home, db, month="2026-11", as_of=AS_OF.isoformat()))
            later.append(run(cluster, "quarterly", home, db, quarter="2026Q3", send=True, as_of=AS_OF.isoformat()))
        runs.update(wait_for(later))
        workers = cluster.worker_of_runs()
        for run_id, r in runs.items():
            r["worker"] = workers.get(run_id)
        report["runs"] = runs
        report["homes"] = {str(h): home_outputs(h, db) for h, db in zip(homes, dbs)}
        if args.bench:
            bench = {}
            bench[f"{args.workers}_workers"] = runs_per_minute(cluster, homes, dbs, args.bench_rounds)
            for i in range(2, args.workers + 1):
                cluster.stop(f"worker-{i}")
            bench["1_worker"] = runs_per_minute(cluster, homes, dbs, args.bench_rounds)
            report["bench"] = bench
    finally:
        cluster.close()
    problems = check(report)
    report["problems"] = problems
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1, default=str))
    else:
        for run_id, r in report.get("runs", {}).items():
            say(f"{r['state']:<10} {r['worker'] or '-':<9} {r['parameters'].get('home')} {r['name']} ({run_id})")
        for key, b in report.get("bench", {}).items():
            say(f"{key}: {b['completed']}/{b['runs']} runs in {b['seconds']} s = {b['runs_per_minute']} runs/min")
        say("problems: " + ("; ".join(problems) if problems else "none"))
    if args.root is None and not problems:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if problems else 0


def check(report: dict) -> list[str]:
    """Every run completed on a worker; each home's files taken once, its outputs written."""
    problems = []
    for run_id, r in report.get("runs", {}).items():
        if r["state"] != "COMPLETED":
            problems.append(f"run {run_id} {r['state']}: {r['message']}")
        if not r.get("worker") or not r.get("infrastructure_pid"):
            problems.append(f"run {run_id} not started by a worker")
    for home, out in report.get("homes", {}).items():
        files = [(s[0], s[1]) for s in out["submissions"]]
        if len(files) != len(set(files)) or len(files) != 6:
            problems.append(f"{home}: submissions {files}")
        if out["inbox_left"] or out["archived"] != 5 or out["rejected"] != 1:
            problems.append(f"{home}: inbox {out['inbox_left']}, archived {out['archived']}, rejected {out['rejected']}")
        if not out["consolidated"] or not out["mails"] or out["quarterly_workbooks"] != 7:
            problems.append(f"{home}: outputs {out}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
