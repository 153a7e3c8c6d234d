"""What the Prefect UI shows of a flow's parameters and runs: the deployment's Run form and the run's name.

The Run form lists each parameter under its title, with its description below. Prefect titles a parameter with
its Python name (home, as_of, counties) and keeps a `json_schema_extra` title of a `pydantic.Field` default, so
each parameter of a flow is declared with `field(...)`: a Chinese title and a sentence saying what to write.
Prefect resolves such a default to its value when the flow is called from Python (the CLI, the tests).

A flow run is named by Prefect with two random English words (natural-junglefowl); `run_name` names it for what
it does (导入台账 2026-12-10, 电网风险预警 格尔木市 2026-12-03) when it starts, whoever started it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field


def field(title: str, description: str, default: Any = None) -> Any:
    """A flow parameter as the Run form shows it: `title` above the input, `description` below it."""
    return Field(default=default, description=description, json_schema_extra={"title": title})


def home() -> Any:
    return field("工作目录", "含 inbox/ 与 outbox/ 的工作目录；部署已填好，一般不用改。")


def as_of(title: str = "基准日", what: str = "按截至该日报送的台账办理") -> Any:
    return field(title, f"日期，写成 YYYY-MM-DD，例如 2026-11-15；{what}。不填为今天（按配置的时区，默认北京时间）。")


def pdf(default: bool | None = False, what: str = "同时生成 PDF 纸质版") -> Any:
    return field("生成纸质版（PDF）", f"{what}（需要本机装有 LibreOffice）。" +
                 ("不选则按配置 HAZARDNET_PAPER_COPIES。" if default is None else ""), default)


def run_name(label: str, *parts: Callable[[dict], str | None]) -> Callable[[], str]:
    """Prefect's `flow_run_name`: `label` and, after it, what each of `parts` makes of the run's parameters (the
    as-of date as given, or today). A part that cannot say (a mistyped date) is left out: the run still starts,
    and says why it failed in its state."""

    def name() -> str:
        from prefect.runtime import flow_run

        params = dict(flow_run.parameters or {})
        words = [label]
        for part in parts:
            try:
                word = part(params)
            except Exception:  # noqa: BLE001 - a name never stops a run; the run reports the bad value itself
                word = None
            if word:
                words.append(word)
        return " ".join(words)

    return name


def settings_of(params: dict) -> Any:
    """The settings of the run's home (its time zone says what "today" is)."""
    from hazardnet.settings import load_settings

    return load_settings(params.get("home"))


def day(params: dict) -> str:
    """The run's date: its as_of as given (YYYY-MM-DD), or today in the configured time zone."""
    from hazardnet.settings import report_date

    return report_date(params.get("as_of"), settings_of(params)).isoformat()
