"""Benchmark of the intake at province scale (issue 6): the pipeline against the naive way and the floor.

One run generates a synthetic inbox (default: 300 county registers of 300 rows in the three real-world
styles of `hazardnet.cli.sample_data`, plus one register of 100,000 rows in its own inbox), then times each
variant as a whole in a fresh process, with the peak resident memory and the CPU seconds of that process
tree (and of the Prefect server's processes over the same span):

  a   `hazardnet ingest` (CLI → Prefect flow → consolidated workbook) against a running Prefect server
      (`prefect server start`, the production set-up); a-eph: the same with Prefect's ephemeral server,
      whose start-up alone is timed as well; a-pin: the same with the run on CPU 0…n-2 and the server on
      the last CPU (--rounds N repeats d, a and a-pin interleaved)
  b   the engine call `hazardnet.jobs.ingest.ingest(settings, as_of)`, no Prefect
  c   naive: pandas.read_excel (openpyxl) per file, concat, to_excel (openpyxl)
  d   floor: python-calamine read of every file + xlsxwriter constant_memory write of the concatenation
  e   re-run after one new file arrived in the already-ingested inbox (e1), and with nothing new (e0);
      e-run: `--always-run` on the then empty inbox (a flow run with nothing to do)

    .venv/bin/python bench/run_bench.py            # the default run (a few minutes)
    .venv/bin/python bench/run_bench.py --small    # 20 registers of 100 rows, a 5,000-row register

Everything lands in bench/out/ (git-ignored); the table is also written to bench/out/results.md/json.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
AS_OF = dt.date(2026, 11, 15)
BIG_COUNTY = "省会市"
GIB = 1 << 30


# ---- the synthetic inbox ------------------------------------------------------------------------
def county_names(n: int) -> list[str]:
    """n distinct county names; none is a substring of another (e.g. 测试001县 … 测试300县)."""
    return [f"测试{i:03d}县" for i in range(1, n + 1)]


def synthetic_hazards(county: str, n: int, seed: int) -> list:
    """n realistic hazards of `county` from sample_hazards (ids renumbered where chunks are joined;
    (户号, 发现日期, 描述) unique, so registers without a 隐患编号 column derive unique ids too)."""
    from hazardnet.cli.sample_data import county_code, sample_hazards

    out, seen, chunk = [], set(), 0
    since = AS_OF - dt.timedelta(days=5000)
    while len(out) < n:
        for h in sample_hazards(AS_OF, [county], seed=seed * 1000 + chunk, since=since):
            key = (h.customer_id, h.found_date, h.description)
            if key in seen:
                continue
            seen.add(key)
            if chunk:
                h = dataclasses.replace(h, hazard_id=f"{county_code(county)}-{chunk:03d}-{h.hazard_id[-8:]}")
            out.append(h)
            if len(out) == n:
                break
        chunk += 1
    return out


STYLES = ("canonical", "variant", "no_hazard_id")


def generate(template: Path, counties: int, rows: int, big_rows: int) -> dict:
    """Write template/main/inbox (the county registers), template/big/inbox (the big register) and
    template/new/<file> (the file that arrives later). Reused when the parameters are unchanged."""
    from hazardnet.cli.sample_data import register_title, write_register

    params = {"counties": counties, "rows": rows, "big_rows": big_rows, "as_of": AS_OF.isoformat(), "v": 2}
    stamp = template / "params.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return params
    shutil.rmtree(template, ignore_errors=True)
    names = county_names(counties)
    t0 = time.perf_counter()
    for i, county in enumerate(names):
        hazards = synthetic_hazards(county, rows, seed=i)
        write_register(template / "main" / "inbox" / county / f"{register_title(county, AS_OF)}.xlsx", county,
                       hazards, as_of=AS_OF, style=STYLES[i % len(STYLES)])
    # the file that arrives after the first run: county 1's register again, five more hazards
    county = names[0]
    write_register(template / "new" / "inbox" / county / f"{register_title(county, AS_OF)}（更新）.xlsx", county,
                   synthetic_hazards(county, rows + 5, seed=0), as_of=AS_OF, style=STYLES[0])
    t1 = time.perf_counter()
    write_register(template / "big" / "inbox" / BIG_COUNTY / f"{register_title(BIG_COUNTY, AS_OF)}.xlsx",
                   BIG_COUNTY, synthetic_hazards(BIG_COUNTY, big_rows, seed=99), as_of=AS_OF, style="variant")
    t2 = time.perf_counter()
    print(f"generated {counties} registers × {rows} rows in {t1 - t0:.1f} s, "
          f"the {big_rows:,}-row register in {t2 - t1:.1f} s")
    stamp.write_text(json.dumps(params))
    return params


def make_home(out: Path, template: Path, name: str, which: str, counties: list[str]) -> Path:
    """A fresh home folder holding a copy of the template inbox and a hazardnet.toml."""
    home = out / "runs" / name
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(template / which / "inbox", home / "inbox")
    toml = "settle_seconds = 0\ncounties = [" + ", ".join(json.dumps(c, ensure_ascii=False) for c in counties) + "]\n"
    (home / "hazardnet.toml").write_text(toml, encoding="utf-8")
    return home


def inbox_files(home: Path) -> list[Path]:
    return sorted(p for p in (home / "inbox").rglob("*.xlsx") if "rejected" not in p.parts)


# ---- the variants that run inside a measured child process -------------------------------------
def child_engine(home: str) -> None:
    from hazardnet.jobs.ingest import ingest
    from hazardnet.settings import load_settings

    result = ingest(load_settings(home), AS_OF)
    summary(result.as_json(), result.consolidated_rewritten)


def summary(result: dict, rewritten: bool | None = None) -> None:
    outcomes: dict[str, int] = {}
    for f in result["files"]:
        outcomes[f["outcome"]] = outcomes.get(f["outcome"], 0) + 1
    rows = sum(f["rows"] for f in result["files"])
    print(json.dumps({"outcomes": outcomes, "rows": rows, "rewritten": rewritten}), file=sys.stderr)


def child_naive(home: str, output: str) -> None:
    """What a data analyst writes: read every workbook with pandas/openpyxl, concat, to_excel."""
    import pandas as pd

    frames = []
    for path in inbox_files(Path(home)):
        sheets = pd.read_excel(path, sheet_name=None, header=None, engine="openpyxl")
        frame = max(sheets.values(), key=len)  # the register is the biggest sheet
        frames.append(frame.assign(来源文件=path.name))
    pd.concat(frames, ignore_index=True).to_excel(output, index=False, engine="openpyxl")


def child_floor(home: str, output: str) -> None:
    """The floor: calamine reads every sheet of every file, xlsxwriter (constant_memory) writes it all."""
    import xlsxwriter
    from python_calamine import CalamineWorkbook

    wb = xlsxwriter.Workbook(output, {"constant_memory": True})
    ws = wb.add_worksheet("隐患台账")
    r = 0
    for path in inbox_files(Path(home)):
        book = CalamineWorkbook.from_path(str(path))
        for name in book.sheet_names:
            for row in book.get_sheet_by_name(name).to_python():
                ws.write_row(r, 0, row)
                r += 1
    wb.close()


def child_ephemeral_startup(_: str) -> None:
    from prefect.server.api.server import SubprocessASGIServer

    t0 = time.perf_counter()
    server = SubprocessASGIServer()
    server.start()
    print(json.dumps({"startup_s": time.perf_counter() - t0}), file=sys.stderr)
    server.stop()


def child_bulletin_home(home: str, counties: str) -> None:
    """Set up (not timed) a home for the bulletin variants: ingest its registers, write its directory."""
    from hazardnet.cli.sample_data import sample_customers, write_directory
    from hazardnet.jobs.ingest import ingest
    from hazardnet.settings import load_settings

    settings = load_settings(home)
    ingest(settings, AS_OF)
    names = counties.split(",")
    write_directory(settings.directory_file, names, sample_customers(names))


CHILDREN = {"engine": child_engine, "naive": child_naive, "floor": child_floor,
            "ephemeral_startup": child_ephemeral_startup, "bulletin_home": child_bulletin_home}


# ---- measuring -----------------------------------------------------------------------------------
@dataclasses.dataclass
class Measure:
    key: str
    label: str
    seconds: float
    peak_rss: int  # bytes: the process tree's peak PSS (or the largest process's RSS, if larger)
    info: dict

    def row(self) -> list[str]:
        return [self.key, self.label, f"{self.seconds:8.2f}", f"{self.peak_rss / (1 << 20):8.0f}"]


_TICK = os.sysconf("SC_CLK_TCK")


def _tree_pss(root: int, cpu: dict[int, float] | None = None) -> int:
    """Proportional set size (bytes) of `root` and all its descendants (forkserver children included):
    shared pages are counted once, so this is what the run really occupies. Records each process's
    CPU seconds so far in `cpu`."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
                times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK
            except (OSError, IndexError, ValueError):
                pass
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total = 0
    if cpu is not None:
        for pid in tree:
            if pid in times:
                cpu[pid] = max(cpu.get(pid, 0.0), times[pid])
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class _PeakSampler(threading.Thread):
    """Samples the process tree's PSS every 50 ms until stopped; `.peak` is the largest seen."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._halt = pid, 0, threading.Event()
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds last seen (a process's last 50 ms may be missed)

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, _tree_pss(self.pid, self.cpu))
            self._halt.wait(0.05)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def become_subreaper() -> bool:
    """Make this process the reaper of every orphan its runs leave (Linux PR_SET_CHILD_SUBREAPER): then the
    CPU of a run's whole process tree (forkserver, parser and worker processes, whoever their parent was when
    they ended) adds up in this process's RUSAGE_CHILDREN, exactly, instead of being sampled."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


SUBREAPER = False
KEEP_CHILDREN: set[int] = set()  # our own long-lived children (the Prefect server): never reaped by measure()


def reap_orphans(timeout: float = 30.0) -> list[int]:
    """Wait for the processes a finished run left behind (re-parented to us); returns those still alive."""
    me, deadline = os.getpid(), time.monotonic() + timeout
    while True:
        left = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) not in KEEP_CHILDREN:
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as fh:
                        if int(fh.read().rsplit(b")", 1)[1].split()[1]) == me:
                            left.append(int(entry.name))
                except (OSError, IndexError, ValueError):
                    pass
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.remove(pid)
            except ChildProcessError:
                left.remove(pid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def group_cpu(pgid: int) -> float:
    """CPU seconds so far of the processes in process group `pgid` (e.g. the Prefect server's)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[2]) == pgid:
                    total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / _TICK
            except (OSError, IndexError, ValueError):
                pass
    return total


def measure(key: str, label: str, cmd: list[str], env: dict[str, str], server_pgid: int | None = None,
            cpus: set[int] | None = None) -> Measure:
    """Run `cmd` in a fresh process: wall time, the CPU seconds of its whole process tree (and of the Prefect
    server's processes, `server_pgid`, over the same span), and the peak memory of the tree (PSS, sampled)
    next to the largest single process (max RSS from wait4, for reaped descendants). `cpus`: the run (and
    everything it starts) is pinned to these CPUs."""
    server_before = group_cpu(server_pgid) if server_pgid else 0.0
    reap_orphans(0)
    tree_before = children_cpu()
    logs = Path(env.get("BENCH_LOGS", "/tmp"))
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / f"{key}.out", logs / f"{key}.err"
    t0 = time.perf_counter()
    with open(out_path, "wb") as out_fh, open(err_path, "wb") as err_fh:  # files: a full pipe never blocks it
        proc = subprocess.Popen(cmd, env=env, stdout=out_fh, stderr=err_fh, cwd=ROOT,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    sampler = _PeakSampler(proc.pid)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    tree_peak = sampler.stop()
    left_behind = reap_orphans() if SUBREAPER else []
    tree_cpu = children_cpu() - tree_before
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = err_path.read_text("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{key} ({label}) failed with exit code {proc.returncode}:\n{err[-4000:]}")
    info: dict = {}
    for line in err.splitlines():
        if line.startswith("{") and line.endswith("}"):
            try:
                info.update(json.loads(line))
            except ValueError:
                pass
    try:  # `hazardnet ingest --json` prints the run's result
        result = json.loads(out_path.read_text("utf-8"))
        if "deliveries" in result:  # `hazardnet bulletin --json`
            statuses: dict[str, int] = {}
            for d in result["deliveries"]:
                statuses[d["status"]] = statuses.get(d["status"], 0) + 1
            info.update(deliveries=statuses)
        outcomes: dict[str, int] = {}
        for f in result["files"]:
            outcomes[f["outcome"]] = outcomes.get(f["outcome"], 0) + 1
        info.update(outcomes=outcomes, rows=sum(f["rows"] for f in result["files"]))
    except (ValueError, KeyError, TypeError):
        pass
    # Linux keeps a process's RSS high-water mark across exec: a child forked from this process starts with this
    # process's own peak (after generating 1,000 registers, ≈600 MiB), so a figure not above it says nothing
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    one_process = usage.ru_maxrss if usage.ru_maxrss > own_peak else 0
    m = Measure(key, label, seconds, max(tree_peak, one_process * 1024), info)
    info["max_rss_one_process_mib"] = round(one_process / 1024) if one_process else None
    if SUBREAPER and not left_behind:  # exact: every process of the tree has ended and was reaped here
        info["cpu_s"] = round(tree_cpu, 2)
    else:  # sampled every 50 ms (a process's last 50 ms may be missed)
        own = usage.ru_utime + usage.ru_stime  # the process itself and the children it reaped
        others = sum(v for pid, v in sampler.cpu.items() if pid != proc.pid)  # e.g. forkserver children
        info["cpu_s"] = round(max(own, sampler.cpu.get(proc.pid, 0.0)) + others, 1)
        info["cpu_sampled"] = True
    if cpus:
        info["cpus"] = sorted(cpus)
    if server_pgid:
        time.sleep(2)  # the server finishes handling the run's events
        info["server_cpu_s"] = round(group_cpu(server_pgid) - server_before, 2)
        info["run_and_server_cpu_s"] = round(info["cpu_s"] + info["server_cpu_s"], 2)
    print(f"  {key:<8} {label:<58} {seconds:8.2f} s {m.peak_rss / (1 << 20):7.0f} MiB  {json.dumps(info, ensure_ascii=False)}",
          flush=True)
    return m


def child_cmd(kind: str, *args: str) -> list[str]:
    return [PY, str(Path(__file__).resolve()), "--child", kind, *args]


def bulletin_cmd(home: Path) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "hazardnet"), "bulletin", "--month", AS_OF.strftime("%Y-%m"), "--home",
            str(home), "--as-of", AS_OF.isoformat(), "--resend", "--json"]


def cli_cmd(home: Path) -> list[str]:
    return [str(ROOT / ".venv" / "bin" / "hazardnet"), "ingest", "--home", str(home), "--as-of", AS_OF.isoformat(),
            "--json"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """`prefect server start` in the background, on its own PREFECT_HOME (SQLite) and port."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PrefectServer:
        import httpx

        t0 = time.perf_counter()
        self.logfh = open(self.log, "wb")
        self.proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "prefect"), "server", "start", "--host",
                                      "127.0.0.1", "--port", str(self.port)], env=self.env, stdout=self.logfh,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     cwd=ROOT)  # the project's prefect.toml (server settings) applies
        while time.perf_counter() - t0 < 180:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.proc.returncode}); see {self.log}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        else:
            raise RuntimeError(f"prefect server did not answer within 180 s; see {self.log}")
        self.startup = time.perf_counter() - t0
        self.pgid = self.proc.pid  # started in its own session: the group of everything it runs
        KEEP_CHILDREN.add(self.proc.pid)
        print(f"  prefect server started on {self.url} in {self.startup:.1f} s", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server's own process group, started above
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.logfh.close()


def pin_group(pgid: int, cpus: set[int]) -> int:
    """Set the CPU affinity of every thread of every process in group `pgid`; returns how many threads."""
    n = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                if int(fh.read().rsplit(b")", 1)[1].split()[2]) != pgid:
                    continue
            for tid in os.listdir(f"/proc/{entry.name}/task"):
                os.sched_setaffinity(int(tid), cpus)
                n += 1
        except (OSError, IndexError, ValueError):
            pass
    return n


class ExternalServer:
    """A Prefect server already running elsewhere (`--server-url`), e.g. on its own machine: its CPU is not
    measured here."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.pgid = None

    def __enter__(self) -> ExternalServer:
        import httpx

        if httpx.get(f"{self.url}/health", timeout=10).status_code != 200:
            raise RuntimeError(f"no Prefect server answers at {self.url}")
        print(f"  using the Prefect server at {self.url} (its CPU is not measured)", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        pass


# ---- the run ------------------------------------------------------------------------------------
def drop_new_file(template: Path, home: Path) -> None:
    src = next((template / "new").rglob("*.xlsx"))
    dst = home / "inbox" / src.parent.name / src.name
    shutil.copyfile(src, dst)


def fmt_cpus(cpus: set[int]) -> str:
    return ",".join(str(c) for c in sorted(cpus))


def ratio(a: Measure | None, b: Measure | None) -> str:
    return f"{a.seconds / b.seconds:.3f}" if a and b and b.seconds else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="20 registers of 100 rows and a 5,000-row register")
    ap.add_argument("--counties", type=int, default=300)
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--big-rows", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--no-server", action="store_true", help="skip the runs against `prefect server start`")
    ap.add_argument("--server-url", help="time a/e/f against this running Prefect server (e.g. on another machine, "
                                         "started in a checkout so prefect.toml applies) instead of starting one")
    ap.add_argument("--no-ephemeral", action="store_true", help="skip the runs on Prefect's ephemeral server")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive pandas/openpyxl variant")
    ap.add_argument("--eph-reruns", action="store_true", help="also time the re-runs on the ephemeral server")
    ap.add_argument("--big-naive", action="store_true", help="also time the naive variant on the big register")
    ap.add_argument("--only", help="comma-separated variant keys to run (a,a-eph,b,c,d,big,f)")
    ap.add_argument("--bulletin-counties", type=int, default=40,
                    help="counties in the bulletin variants f/f1 (each: a government, a supply company and "
                         "its customers as recipients)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="time d, a and a-pin this many times, interleaved (the VM's speed drifts): d, a, a-pin, "
                         "d#2, a#2, a-pin#2, …")
    ap.add_argument("--no-pinned", action="store_true",
                    help="skip a-pin (the run pinned to CPU 0…n-2, the Prefect server to the last CPU)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        CHILDREN[args.child[0]](*args.child[1:])
        return
    if args.small:
        args.counties, args.rows, args.big_rows = 20, 100, 5_000
    only = set(args.only.split(",")) if args.only else None

    def want(key: str) -> bool:
        return only is None or key in only

    global SUBREAPER
    SUBREAPER = become_subreaper()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    template = out / ("template-small" if args.small else "template")
    sys.path.insert(0, str(ROOT))
    params = generate(template, args.counties, args.rows, args.big_rows)
    names = county_names(args.counties)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HAZARDNET_", "PREFECT_"))}
    # Prefect's default log level (INFO), as in production: every task run's log lines go to the server
    # (the variants' stdout/stderr go to bench/out/logs/)
    env.update(PREFECT_HOME=str(out / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", PYTHONPATH=str(ROOT), BENCH_LOGS=str(out / "logs"))
    env.pop("PREFECT_API_URL", None)
    machine = (f"{platform.node()}: {os.cpu_count()} CPUs ({_cpu_model()}), "
               f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB RAM, "
               f"Python {platform.python_version()}, {platform.platform()}")
    print(f"machine: {machine}")
    print(f"inbox: {args.counties} registers × {args.rows} rows (+ 1 new file later); "
          f"big inbox: 1 register × {args.big_rows:,} rows; as of {AS_OF}")
    print(f"  {'key':<8} {'variant':<58} {'seconds':>8}   {'peak':>7}")
    m: dict[str, Measure] = {}
    big_home_counties = [BIG_COUNTY]

    def run(key, label, cmd, extra_env=None, server=None, cpus=None):
        m[key] = measure(key, label, cmd, {**env, **(extra_env or {})}, server.pgid if server else None, cpus)

    if want("d"):
        home = make_home(out, template, "d", "main", names)
        run("d", "floor: calamine read + xlsxwriter constant_memory write", child_cmd("floor", str(home), str(home / "floor.xlsx")))
    if want("b"):
        home = make_home(out, template, "b", "main", names)
        run("b", "engine: hazardnet.jobs.ingest.ingest (no Prefect)", child_cmd("engine", str(home)))
        drop_new_file(template, home)
        run("e1-b", "engine re-run, one new file", child_cmd("engine", str(home)))
        run("e0-b", "engine re-run, nothing new", child_cmd("engine", str(home)))
    if want("c") and not args.no_naive:
        home = make_home(out, template, "c", "main", names)
        run("c", "naive: pandas.read_excel (openpyxl) + concat + to_excel", child_cmd("naive", str(home), str(home / "naive.xlsx")))
    if (want("a") or want("f")) and not args.no_server:
        server_cm = ExternalServer(args.server_url) if args.server_url else PrefectServer(env, out / "prefect-server.log")
        with server_cm as server:
            senv = {"PREFECT_API_URL": server.url}
            home = make_home(out, template, "a-warm", "new", names[:1])  # warm the server up
            measure("warm-up", "(flow run to warm up the server, not counted)", cli_cmd(home), {**env, **senv})
            if want("a"):
                all_cpus = os.sched_getaffinity(0)
                pinned = len(all_cpus) >= 2 and server.pgid is not None and not args.no_pinned
                for r in range(1, args.rounds + 1):
                    tag = "" if r == 1 else f"#{r}"
                    if r > 1 and want("d"):  # interleaved: the floor again, beside this round's runs
                        home = make_home(out, template, "d" + tag, "main", names)
                        run("d" + tag, "floor: calamine read + xlsxwriter constant_memory write",
                            child_cmd("floor", str(home), str(home / "floor.xlsx")))
                    home = make_home(out, template, "a" + tag, "main", names)
                    run("a" + tag, "hazardnet ingest, running Prefect server", cli_cmd(home), senv, server=server)
                    if r == 1:
                        drop_new_file(template, home)
                        run("e1", "hazardnet ingest re-run, one new file", cli_cmd(home), senv, server=server)
                        run("e0", "hazardnet ingest re-run, nothing new", cli_cmd(home), senv, server=server)
                        # the inbox is empty now: a flow run with nothing to do (what every run costs at least)
                        run("e-run", "hazardnet ingest --always-run, empty inbox", cli_cmd(home) + ["--always-run"],
                            senv, server=server)
                    if pinned:  # the server alone on the last CPU, the run on the others
                        server_cpus, run_cpus = {max(all_cpus)}, all_cpus - {max(all_cpus)}
                        pin_group(server.pgid, server_cpus)
                        try:
                            home = make_home(out, template, "a-pin" + tag, "main", names)
                            run("a-pin" + tag, f"hazardnet ingest, run on CPU {fmt_cpus(run_cpus)}, "
                                f"server on CPU {fmt_cpus(server_cpus)}", cli_cmd(home), senv, server=server,
                                cpus=run_cpus)
                        finally:
                            pin_group(server.pgid, all_cpus)
            if want("f"):
                fc = names[:args.bulletin_counties]
                home = make_home(out, template, "f", "main", fc)
                for folder in (home / "inbox").iterdir():
                    if folder.is_dir() and folder.name not in fc:
                        shutil.rmtree(folder)
                measure("f-setup", "(bulletin home: ingest + directory, not counted)",
                        child_cmd("bulletin_home", str(home), ",".join(fc)), env)
                for key, workers, label in (("f1", "1", "threads only (HAZARDNET_WORKERS=1)"),
                                            ("f", "2", "workbooks in 2 worker processes")):
                    run(key, f"hazardnet bulletin, {len(fc)} counties, server: {label}", bulletin_cmd(home),
                        {**senv, "HAZARDNET_WORKERS": workers}, server=server)
            if want("big") and want("a"):
                home = make_home(out, template, "big-a", "big", big_home_counties)
                run("big-a", f"big register ({args.big_rows:,} rows): hazardnet ingest, server", cli_cmd(home), senv,
                    server=server)
    if want("a-eph") and not args.no_ephemeral:
        run("eph", "ephemeral Prefect server start-up alone", child_cmd("ephemeral_startup", "-"))
        home = make_home(out, template, "a-eph", "main", names)
        run("a-eph", "hazardnet ingest, ephemeral Prefect server", cli_cmd(home))
        if args.eph_reruns:
            drop_new_file(template, home)
            run("e1-eph", "hazardnet ingest re-run, one new file, ephemeral", cli_cmd(home))
            run("e0-eph", "hazardnet ingest re-run, nothing new, ephemeral", cli_cmd(home))
    if want("big"):
        home = make_home(out, template, "big-b", "big", big_home_counties)
        run("big-b", f"big register ({args.big_rows:,} rows): engine", child_cmd("engine", str(home)))
        home = make_home(out, template, "big-d", "big", big_home_counties)
        run("big-d", f"big register ({args.big_rows:,} rows): floor", child_cmd("floor", str(home), str(home / "floor.xlsx")))
        if args.big_naive and not args.no_naive:
            home = make_home(out, template, "big-c", "big", big_home_counties)
            run("big-c", f"big register ({args.big_rows:,} rows): naive", child_cmd("naive", str(home), str(home / "naive.xlsx")))

    report(m, params, machine, out)


def report(m: dict[str, Measure], params: dict, machine: str, out: Path) -> None:
    a = m.get("a") or m.get("a-eph")
    lines = ["", "| key | variant | seconds | peak MiB | CPU s (run's tree) | server CPU s | run + server CPU s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for x in m.values():
        lines.append(f"| {x.key} | {x.label} | {x.seconds:.2f} | {x.peak_rss / (1 << 20):.0f} | "
                     f"{x.info.get('cpu_s', '')}{'*' if x.info.get('cpu_sampled') else ''} | "
                     f"{x.info.get('server_cpu_s', '')} | {x.info.get('run_and_server_cpu_s', '')} |")
    def cpu_of(x: Measure | None, with_server: bool = True) -> float | None:
        if x is None or "cpu_s" not in x.info:
            return None
        return x.info["cpu_s"] + (x.info.get("server_cpu_s") or 0.0 if with_server else 0.0)

    def cpu_ratio(x: Measure | None, y: Measure | None) -> str:
        cx, cy = cpu_of(x), cpu_of(y)
        return f"{cx / cy:.3f}" if cx is not None and cy else "n/a"

    ratios = []
    rounds = sorted({k.partition("#")[2] for k in m if k.split("#")[0] in ("a", "a-pin")})
    for tag in rounds:  # issue 16's targets, each measured in one round
        t = f"#{tag}" if tag else ""
        dk = "d" + t if "d" + t in m else "d"
        d = m.get(dk)
        ratios += [
            (f"a{t}/{dk} wall", ratio(m.get("a" + t), d), "≤ 1.2 (issue 28)"),
            (f"a{t}/{dk} CPU (run's tree + server)", cpu_ratio(m.get("a" + t), d), "≤ 1.4 (issue 28)"),
        ]
        if "a-pin" + t in m:
            ratios += [(f"a-pin{t}/{dk} wall (run and server on their own CPUs)", ratio(m.get("a-pin" + t), d), ""),
                       (f"a-pin{t}/{dk} CPU (run's tree + server)", cpu_ratio(m.get("a-pin" + t), d), "")]
    ratios += [
        ("e0/a", ratio(m.get("e0") or m.get("e0-b"), a), "≤ 0.05"),
        ("e-run (s)", f"{m['e-run'].seconds:.2f}" if "e-run" in m else "n/a", "≤ 1.2 s on issue 28's machine"),
        ("a/b", ratio(a, m.get("b")), "(the flow against the engine alone)"),
        ("b/d", ratio(m.get("b"), m.get("d")), "(the engine alone against the floor)"),
        ("a/c", ratio(a, m.get("c")), "(against the naive way)"),
        ("e1/a", ratio(m.get("e1") or m.get("e1-b"), a), "one new file: only it parsed, outputs it changes rewritten"),
        ("e0-b/b", ratio(m.get("e0-b"), m.get("b")), "(engine alone)"),
        ("a-eph/b", ratio(m.get("a-eph"), m.get("b")), "(ephemeral server, start-up included)"),
    ]
    lines += ["", "| ratio | value | target |", "| --- | ---: | --- |"]
    lines += [f"| {k} | {v} | {t} |" for k, v, t in ratios if v != "n/a"]
    if "f" in m and "f1" in m:
        lines.append(f"| f/f1 (bulletin: worker processes / threads only) | {ratio(m['f'], m['f1'])} | "
                     "(write independent workbooks in parallel) |")
    for key in ("big-a", "big-b"):
        if key in m:
            lines.append(f"| peak memory {key} | {m[key].peak_rss / GIB:.2f} GiB | < 1 GiB |")
    if "eph" in m and "startup_s" in m["eph"].info:
        lines.append(f"| ephemeral server start-up | {m['eph'].info['startup_s']:.2f} s | (reported separately) |")
    if a and "a" in m and "a-eph" in m:
        lines.append(f"| a-eph − a | {m['a-eph'].seconds - m['a'].seconds:.2f} s | (ephemeral server cost) |")
    text = "\n".join(lines)
    print(text)
    (out / "results.md").write_text(f"machine: {machine}\n\nparams: {json.dumps(params)}\n{text}\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps({
        "machine": machine, "params": params,
        "measures": {k: dataclasses.asdict(v) for k, v in m.items()}}, ensure_ascii=False, indent=1))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
