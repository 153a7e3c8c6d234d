"""Read the last flow runs and the next scheduled runs back from the Prefect API (for `hazardnet status`)."""

from __future__ import annotations

import asyncio
import datetime as dt


async def _fetch(limit: int) -> tuple[list[dict], list[dict]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        flows = {f.id: f.name for f in await client.read_flows()}
        past = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                not_any_=[StateType.SCHEDULED]))),
            sort=FlowRunSort.START_TIME_DESC, limit=limit)
        upcoming = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.SCHEDULED]))),
            sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=limit)

    def row(run) -> dict:
        when = run.start_time or run.expected_start_time
        return {"flow": flows.get(run.flow_id, "?"), "run": run.name,
                "state": run.state.name if run.state else "?",
                "message": (run.state.message or "") if run.state else "",
                "time": when.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M") if when else ""}

    return [row(r) for r in past], [row(r) for r in upcoming]


def flow_runs(limit: int = 10) -> tuple[list[dict], list[dict]]:
    """(last runs, next scheduled runs) with flow name, run name, state, message and local time."""
    return asyncio.run(_fetch(limit))
