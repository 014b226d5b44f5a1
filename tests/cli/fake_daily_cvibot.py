"""``cvibot`` with the fake daily-python SDK, as a process of its own (signal tests).

Usage: ``python fake_daily_cvibot.py SCENARIO ARGS...`` runs ``cvibot ARGS...`` with
:class:`doubles.fake_daily.FakeDaily` in place of ``daily``. ``SCENARIO`` is a
JSON object: ``client``, the fake client's options (``join_outcome``, ``join_outcomes``,
``join_delay``); ``replica``: the replica is in the room; ``call``: a tool call
(``{"name", "arguments", "tool_call_id"}``) the replica sends once joined; ``drop``:
the network drops once joined (after the call, if any); ``leave``: the replica leaves
once joined; ``tavus``: serve a fake Tavus API (key ``fake-tavus-key``, persona ``p1``)
at ``$FAKE_TAVUS_URL``, which takes a minute to end a conversation. Each step is
announced on stdout as a line ``fake: ...``, for the test to wait on.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cvibot.transports._daily.transport as daily_transport
from cvibot._cli.main import main

# The test doubles: tests/doubles, the package `doubles` (this script runs on its own).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from doubles.fake_daily import FakeDaily, participant
from doubles.fake_tavus import FakeTavusAPI

REPLICA = participant("Anna", "tavus-replica-r1")


def _say(text: str) -> None:
    print(f"fake: {text}", flush=True)  # stdout: log lines and these never interleave


def _script(fake: FakeDaily, scenario: dict[str, Any]) -> None:
    while not (fake.clients and fake.client.joined):
        time.sleep(0.01)
    _say("joined")
    client = fake.client
    if (call := scenario.get("call")) is not None:
        client.inject_app_message(
            {
                "message_type": "conversation",
                "event_type": "conversation.tool_call",
                "conversation_id": "c0ffee",
                "seq": 1,
                "properties": {
                    "name": call["name"],
                    "arguments": json.dumps(call["arguments"]),
                    "tool_call_id": call["tool_call_id"],
                },
            },
            REPLICA["id"],
        )
        _say("call sent")
        time.sleep(0.3)  # the handler starts
    if scenario.get("drop"):
        client.drop_network()
        _say("network dropped")
    if scenario.get("leave"):
        client.inject_participant_left(REPLICA)
        _say("replica left")


class SlowEnd(FakeTavusAPI):
    """Ending a conversation takes a minute."""

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        if method.upper() == "POST" and target.rstrip("/").endswith("/end"):
            _say("end requested")
            time.sleep(60)
        return super().handle(method, target, headers, body)


def run(scenario: dict[str, Any], args: list[str]) -> None:
    options = dict(scenario.get("client", {}))
    if scenario.get("replica"):
        options["remote_participants"] = [REPLICA]
    fake = FakeDaily(**options)
    daily_transport.load_sdk = lambda: fake  # type: ignore[attr-defined]
    if any(scenario.get(step) for step in ("call", "drop", "leave")):
        threading.Thread(target=_script, args=(fake, scenario), daemon=True).start()
    sys.argv = ["cvibot", *args]
    if not scenario.get("tavus"):
        main()
        return
    api = SlowEnd()
    api.add_persona(persona_id="p1", persona_name="Test", default_replica_id="r1")
    with api.serve() as base_url:
        os.environ["FAKE_TAVUS_URL"] = base_url
        main()


if __name__ == "__main__":
    run(json.loads(sys.argv[1]), sys.argv[2:])
