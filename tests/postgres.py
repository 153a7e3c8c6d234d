"""A throwaway PostgreSQL server for the store tests (session-scoped pytest fixture `pg_url`).

    from tests.postgres import pg_url, fresh_pg_database  # in a test module

`pg_url` yields a SQLAlchemy URL (`postgresql+psycopg://…`) of an empty database:
- if HAZARDNET_TEST_PG_URL is set, that server is used as it is (nothing is started or stopped);
- otherwise Debian's PostgreSQL binaries (/usr/lib/postgresql/<version>/bin; scripts/ensure_postgres.sh
  installs them) are used to initdb a temporary cluster, start it on a free loopback port as an
  unprivileged user (`postgres` when we run as root), create a database, and stop and delete it all
  at the end of the session;
- when neither works, every test using it is skipped with the reason.

`fresh_pg_database(pg_url)` creates one more empty database on the same server (per test isolation);
`drop_database(url)` drops it again.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "HAZARDNET_TEST_PG_URL"
SUPERUSER = "postgres"
DATABASE = "hazardnet_test"
_counter = itertools.count(1)


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path:
    """The bin folder of the newest PostgreSQL installed from Debian's packages."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.parent.name.split(".")])
    if not found:
        raise PostgresUnavailable("no PostgreSQL binaries under /usr/lib/postgresql/*/bin "
                                  "(run scripts/ensure_postgres.sh, or set HAZARDNET_TEST_PG_URL)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """initdb + pg_ctl start of a private cluster in a temporary folder; `stop()` removes it all."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.runas: list[str] = []
        self.owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # the server refuses to run as root: run it as an unprivileged user
            try:
                self.owner = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise PostgresUnavailable(f"running as root and there is no '{SUPERUSER}' user to run "
                                          "the server as") from None
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root and `runuser` is not available")
            self.runas = [runuser, "-u", SUPERUSER, "--"]
        self.dir = Path(tempfile.mkdtemp(prefix="hazardnet-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = 0
        self.started = False

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([*self.runas, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.dir, env={**os.environ, "LC_ALL": "C"})

    def start(self) -> str:
        if self.owner is not None:
            os.chown(self.dir, self.owner.pw_uid, self.owner.pw_gid)
        init = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                         "--encoding=UTF8", "--no-locale", "--no-sync")
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(init.stderr or init.stdout).strip()[-500:]}")
        for _attempt in range(5):  # a free port can be taken between the check and the bind
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
            started = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                                "-o", options, "-w", "-t", "60", "start")
            if started.returncode == 0:
                self.started = True
                break
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        else:
            tail = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {(started.stderr or started.stdout).strip()[-300:]} "
                                      f"{tail}")
        admin = self.url("postgres")
        create_database(admin, DATABASE)
        return self.url(DATABASE)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


def _driver_url(url: str) -> str:
    """psycopg wants postgresql://…, SQLAlchemy postgresql+psycopg://…"""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(_driver_url(admin_url), autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def fresh_pg_database(pg_url: str) -> str:
    """A new empty database on the server behind `pg_url`; returns its SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    name = f"{url.database}_{os.getpid()}_{next(_counter)}"
    create_database(url.set(database="postgres").render_as_string(hide_password=False), name)
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by fresh_pg_database (its connections must be closed)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = u.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(_driver_url(admin), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty PostgreSQL database for this test session (see the module doc)."""
    given = os.environ.get(ENV_URL)
    if given:
        yield given
        return
    try:
        server = TempPostgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL store tests skipped: {exc}")
    try:
        url = server.start()
    except (PostgresUnavailable, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        pytest.skip(f"PostgreSQL store tests skipped: could not start a throwaway server: {exc}")
    except Exception:
        server.stop()
        raise
    try:
        yield url
    finally:
        server.stop()
