"""A flow run's plain parameters reach Prefect exactly as Prefect's own encoder writes them, without importing
FastAPI (flows.parameters); any other value still goes through Prefect's encoder."""

from __future__ import annotations

import datetime as dt
import enum
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import harness_env


class Level(str, enum.Enum):
    HIGH = "重大"


def _flow():
    from prefect import flow

    @flow(name="参数检查")
    def f(home: str | None = None, as_of: str | None = None, n: int = 0, flags: list | None = None,
          extra: dict | None = None) -> int:
        return 1

    return f


def test_every_flow_of_the_package_serializes_plain_parameters_itself():
    from prefect.flows import Flow

    import flows  # noqa: F401 - installs it
    from flows.parameters import serialize_plain_parameters

    assert Flow.serialize_parameters is serialize_plain_parameters


@pytest.mark.parametrize("params", [
    {"home": "/srv/安全网", "as_of": "2026-11-15"},
    {"home": None, "as_of": None, "n": 3, "flags": [True, False, None], "extra": {"县": ["格尔木市", 1.5]}},
    {"flags": ("a", ("b", 2)), "extra": {"k": {"deep": (1, 2)}}},
    {},
])
def test_plain_parameters_come_out_as_prefects_own_encoder_writes_them(params):
    import flows  # noqa: F401
    from flows.parameters import _prefect_serialize, serialize_plain_parameters

    f = _flow()
    assert serialize_plain_parameters(f, params) == _prefect_serialize(f, params)


@pytest.mark.parametrize("value", [dt.date(2026, 11, 15), Path("/srv/x"), Level.HIGH, {1: "a"}, [dt.date(2026, 1, 1)]])
def test_any_other_value_goes_through_prefects_encoder(value):
    import flows  # noqa: F401
    from flows.parameters import _plain, _prefect_serialize, serialize_plain_parameters

    f = _flow()
    assert not _plain(value)
    got = serialize_plain_parameters(f, {"extra": value})
    assert got == _prefect_serialize(f, {"extra": value})
    if isinstance(value, dt.date):
        assert got == {"extra": "2026-11-15"}  # what Prefect's encoder makes of it, not the date object


def test_a_flow_run_with_plain_parameters_does_not_import_fastapi(prefect_harness, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        "import flows\n"
        "from prefect import flow\n"
        "@flow(name='参数检查')\n"
        "def f(home: str, as_of: str) -> str:\n"
        "    return home + as_of\n"
        "state = f(home='/srv/安全网', as_of='2026-11-15', return_state=True)\n"
        "assert state.is_completed(), state\n"
        "print('fastapi' in sys.modules, 'prefect.flow_engine' in sys.modules)\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(script)], cwd=root, env={**harness_env(), "PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["False", "True"], out.stdout
