"""Prefect automation that marks a flow run whose process died as 崩溃 (Crashed) instead of leaving it Running.

A flow run's process sends a heartbeat event every `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (180 by
default). If a machine or process dies mid-run (power cut, kill, out of memory), nothing reports the end,
and the Prefect UI would show the run as Running for ever. This proactive automation (Prefect's own recipe,
"detect zombie flows") watches every flow run from its Running state on: when neither a heartbeat nor a
final state arrives within three heartbeat periods, the server sets the run to Crashed with a message that
says why. `hazardnet serve` creates it when it is missing; `python -m flows.automations` does the same for
set-ups with work pools and workers.
"""

from __future__ import annotations

from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import get_current_settings

CRASHED_RUNS = "失联运行标记为崩溃"
CRASHED_MESSAGE = "运行进程已失联（长时间没有心跳，也没有结束状态），可能因断电、进程被终止或内存不足而中断；请查看该运行的日志后重新运行。"
FINAL = ("prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
         "prefect.flow-run.Crashed")


def silence_allowed() -> timedelta:
    """Three heartbeat periods: a live run has sent two heartbeats by then."""
    return timedelta(seconds=3 * (get_current_settings().flows.heartbeat_frequency or 180))


def crashed_runs_automation(within: timedelta | None = None) -> Automation:
    return Automation(
        name=CRASHED_RUNS,
        description="流程运行超过三个心跳周期既无心跳也无结束状态时，将其标记为“崩溃”（Crashed）。",
        trigger=EventTrigger(
            after={"prefect.flow-run.Running", "prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *FINAL},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within or silence_allowed(),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="崩溃", message=CRASHED_MESSAGE)],
    )


def ensure_crashed_runs_automation(within: timedelta | None = None) -> Automation:
    """Create the automation on the current Prefect server unless one of that name exists; returns it."""
    try:
        return Automation.read(name=CRASHED_RUNS)
    except ValueError:  # Prefect's answer for "no automation of that name"
        return crashed_runs_automation(within).create()


if __name__ == "__main__":
    made = ensure_crashed_runs_automation()
    print(f"自动化“{made.name}”已就绪（{made.id}）。")
