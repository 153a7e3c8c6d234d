"""A flow run of this project still sends Prefect's heartbeats (flows.automations watches them), and it ends
without waiting for the heartbeat thread's one-second sleep (flows.heartbeat)."""

from __future__ import annotations

import inspect
import threading


def _heartbeat_threads() -> list[threading.Thread]:
    """The live threads running Prefect's flow-run heartbeat loop."""
    found = []
    for thread in threading.enumerate():
        args = getattr(thread, "_args", ()) or ()
        if any(getattr(a, "__name__", "") == "heartbeat_loop" for a in args):
            found.append(thread)
    return found


def test_every_flow_of_the_package_uses_the_heartbeat_without_join():
    import prefect.flow_engine as flow_engine

    import flows
    from flows.heartbeat import _prefect_heartbeats, heartbeats_without_join

    assert flows.__name__ == "flows"
    assert flow_engine._send_heartbeats is heartbeats_without_join
    # the synchronous engine finds the heartbeat context by this module-level name, and Prefect's own context
    # still has the switch the asynchronous engine uses: if a Prefect upgrade changes either, this fails
    assert "_send_heartbeats(self)" in inspect.getsource(flow_engine.FlowRunEngine.run_context)
    assert "join_on_exit" in inspect.signature(_prefect_heartbeats).parameters


def test_a_flow_run_has_its_heartbeat_thread_and_leaves_it_to_end_by_itself(prefect_harness):
    from prefect import flow

    import flows  # noqa: F401 - installs the heartbeat without join

    seen: list[threading.Thread] = []

    @flow(name="心跳检查")
    def beating() -> int:
        seen.extend(_heartbeat_threads())
        return 1

    before = set(_heartbeat_threads())
    assert beating() == 1
    mine = [t for t in seen if t not in before]
    assert len(mine) == 1, "the flow run sends heartbeats from its own thread"
    mine[0].join(timeout=30)
    assert not mine[0].is_alive(), "the stopped heartbeat thread ends by itself"
