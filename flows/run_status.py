"""Read the last flow runs and the next scheduled runs back from the Prefect API (for `hazardnet status`)."""

from __future__ import annotations

import asyncio
import os
from zoneinfo import ZoneInfo


PAGE = 200  # runs read per request while looking for this home's
MAX_PAGES = 50  # a server with runs of many homes: look through at most 10 000 runs each way


def same_home(parameters: dict, home: str) -> bool:
    """Whether a flow run's `home` parameter (every flow's and every deployment's) names this home folder."""
    value = (parameters or {}).get("home")
    return bool(value) and os.path.realpath(os.path.expanduser(str(value))) == os.path.realpath(home)


async def _fetch(limit: int, home: str, timezone: str) -> tuple[list[dict], list[dict]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        flows = {f.id: f.name for f in await client.read_flows()}

        async def of_this_home(state_filter, sort) -> list:
            """The first `limit` runs (in `sort` order) whose `home` is this home: the API filters no parameter."""
            found = []
            for page in range(MAX_PAGES):
                runs = await client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=state_filter)), sort=sort, limit=PAGE, offset=page * PAGE)
                found += [r for r in runs if same_home(r.parameters, home)]
                if len(found) >= limit or len(runs) < PAGE:
                    break
            return found[:limit]

        past = await of_this_home(FlowRunFilterStateType(not_any_=[StateType.SCHEDULED]), FlowRunSort.START_TIME_DESC)
        upcoming = await of_this_home(FlowRunFilterStateType(any_=[StateType.SCHEDULED]),
                                      FlowRunSort.EXPECTED_START_TIME_ASC)

    def row(run) -> dict:
        when = run.start_time or run.expected_start_time
        return {"flow": flows.get(run.flow_id, "?"), "run": run.name,
                "state": run.state.name if run.state else "?",
                "message": (run.state.message or "") if run.state else "",
                "time": when.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M") if when else ""}

    return [row(r) for r in past], [row(r) for r in upcoming]


def flow_runs(home: str, limit: int = 10) -> tuple[list[dict], list[dict]]:
    """This home's (last runs, next scheduled runs) with flow name, run name, state, message and local time."""
    from hazardnet.settings import load_settings

    return asyncio.run(_fetch(limit, home, load_settings(home).timezone))
