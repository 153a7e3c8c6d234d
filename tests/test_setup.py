"""run.sh's set-up: uv installs exactly requirements.lock, pip installs it where uv cannot be had.

Each test sets up a copy of the checkout in a fresh .venv, for real, from PyPI (through the machine's
caches once `bash run.sh` has run here); nothing is timed (bench/README.md has the numbers).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pins(lock: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a requirements file (names normalized)."""
    out = {}
    for line in lock.read_text("utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(3)
    return out


def checkout_copy(dst: Path) -> Path:
    """The project's tracked files (as a fresh clone has them), without .venv, caches or outputs."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dst / name)
    return dst


def run_setup(checkout: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "HAZARDNET_INSTALLER", "PYTHONPATH")}
    return subprocess.run(["bash", "run.sh", "setup"], cwd=checkout, env={**environ, **env}, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)


def installed(checkout: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([str(checkout / ".venv/bin/python"), "-c", code], capture_output=True, text=True,
                         check=True).stdout
    import json

    return {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in json.loads(out).items()}


def test_uv_bootstrap_pin_matches_the_lock():
    lock_uv = pins(ROOT / "requirements.lock").get("uv")
    boot = (ROOT / "requirements-uv.txt").read_text("utf-8")
    assert lock_uv, "uv is pinned in requirements.lock (pyproject's test extra)"
    assert pins(ROOT / "requirements-uv.txt") == {"uv": lock_uv}
    hashes = re.findall(r"--hash=sha256:([0-9a-f]+)", boot)
    assert hashes and all(len(h) == 64 for h in hashes)


@pytest.mark.slow
def test_setup_with_uv_installs_exactly_the_lock(tmp_path):
    checkout = checkout_copy(tmp_path / "clone")
    done = run_setup(checkout, PYTHONDONTWRITEBYTECODE="1")  # Python may not write bytecode: set-up writes it
    assert done.returncode == 0, done.stderr
    assert "改用 pip" not in done.stderr  # uv did the work
    # bytecode written at set-up for what the ingest imports (its command, the flow, the intake's workers) …
    site = next((checkout / ".venv/lib").glob("python3*/site-packages"))
    assert list((site / "prefect" / "__pycache__").glob("flow_engine.*.pyc"))
    assert list((site / "pandera" / "__pycache__").glob("__init__.*.pyc"))
    assert list((checkout / "hazardnet" / "intake" / "__pycache__").glob("validation.*.pyc"))
    assert list((checkout / "flows" / "__pycache__").glob("ingest.*.pyc"))
    # … and not for the rest, which the venv's Python writes when a command first imports it, even though
    # PYTHONDONTWRITEBYTECODE is set
    assert not list((checkout / "flows" / "__pycache__").glob("quarterly.*.pyc"))
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([str(checkout / ".venv/bin/python"), "-c", "import flows.quarterly"], cwd=checkout, env=env,
                   check=True, capture_output=True)
    assert list((checkout / "flows" / "__pycache__").glob("quarterly.*.pyc"))
    lock = pins(checkout / "requirements.lock")
    have = installed(checkout)
    assert have.pop("hazardnet") == "0.1.0"
    assert have == lock  # exactly the lock: not even pip (the venv is made without it; uv needs none)
    version = subprocess.run([str(checkout / ".venv/bin/uv"), "--version"], capture_output=True, text=True).stdout
    assert version.split()[1] == lock["uv"]
    assert not (checkout / ".venv/.uv-bootstrap").exists()
    # the project is installed editable from the copy, its command too
    where = subprocess.run([str(checkout / ".venv/bin/python"), "-c", "import hazardnet; print(hazardnet.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env={"PATH": os.environ["PATH"]}).stdout
    assert Path(where.strip()).is_relative_to(checkout)
    assert (checkout / ".venv/bin/hazardnet").exists()
    stamp = (checkout / ".venv/.installed").read_text()
    again = run_setup(checkout, PYTHONDONTWRITEBYTECODE="1")  # nothing changed: nothing to do
    assert again.returncode == 0 and again.stdout == "" and again.stderr == ""
    assert (checkout / ".venv/.installed").read_text() == stamp


@pytest.mark.slow
def test_setup_falls_back_to_pip_when_uv_cannot_be_had(tmp_path):
    checkout = checkout_copy(tmp_path / "clone")
    # uv's wheels do not match the hashes (as for a tampered download): pip refuses them, run.sh uses pip.
    boot = checkout / "requirements-uv.txt"
    boot.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, boot.read_text("utf-8")), "utf-8")
    # a one-package lock keeps pip's install short; the mechanism is the same for the whole lock
    lock = pins(ROOT / "requirements.lock")
    (checkout / "requirements.lock").write_text(f"defusedxml=={lock['defusedxml']}\n", "utf-8")
    done = run_setup(checkout)
    assert done.returncode == 0, done.stderr
    assert "无法获得 uv，改用 pip 安装 requirements.lock" in done.stderr
    assert "Hashes" in done.stderr or "hash" in done.stderr.lower()  # pip's reason is shown
    assert not (checkout / ".venv/bin/uv").exists()
    have = installed(checkout)
    assert have["defusedxml"] == lock["defusedxml"] and have["hazardnet"] == "0.1.0"
    assert "prefect" not in have


@pytest.mark.slow
def test_installer_pip_on_request(tmp_path):
    checkout = checkout_copy(tmp_path / "clone")
    lock = pins(ROOT / "requirements.lock")
    (checkout / "requirements.lock").write_text(f"defusedxml=={lock['defusedxml']}\n", "utf-8")
    done = run_setup(checkout, HAZARDNET_INSTALLER="pip")
    assert done.returncode == 0, done.stderr
    assert "uv" not in done.stderr
    assert not (checkout / ".venv/bin/uv").exists() and not (checkout / ".venv/.uv-bootstrap").exists()
    assert installed(checkout)["defusedxml"] == lock["defusedxml"]


@pytest.mark.slow
def test_a_failed_install_is_not_taken_for_done(tmp_path):
    checkout = checkout_copy(tmp_path / "clone")
    (checkout / "requirements.lock").write_text("defusedxml==0.0.0.999\n", "utf-8")  # no such release
    done = run_setup(checkout, HAZARDNET_INSTALLER="pip")
    assert done.returncode != 0
    assert not (checkout / ".venv/.installed").exists()  # the next run tries again
