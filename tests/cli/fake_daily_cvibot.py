"""``cvibot`` with the fake daily-python SDK, as a process of its own (signal tests).

Usage: ``python fake_daily_cvibot.py SCENARIO ARGS...`` runs ``cvibot ARGS...`` with
:class:`cvibot.testing.fake_daily.FakeDaily` in place of ``daily``. ``SCENARIO`` is a
JSON object: ``client``, the fake client's options (``join_outcome``, ``join_outcomes``,
``join_delay``); ``replica``: the replica is in the room; ``call``: a tool call
(``{"name", "arguments", "tool_call_id"}``) the replica sends once joined; ``drop``:
the network drops once joined (after the call, if any). Each step is announced on
stdout as a line ``fake: ...``, for the test to wait on.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import cvibot.transports.daily.transport as daily_transport
from cvibot.cli.main import main
from cvibot.testing.fake_daily import FakeDaily, participant

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


def run(scenario: dict[str, Any], args: list[str]) -> None:
    options = dict(scenario.get("client", {}))
    if scenario.get("replica"):
        options["remote_participants"] = [REPLICA]
    fake = FakeDaily(**options)
    daily_transport.load_sdk = lambda: fake  # type: ignore[attr-defined]
    if scenario.get("call") is not None or scenario.get("drop"):
        threading.Thread(target=_script, args=(fake, scenario), daemon=True).start()
    sys.argv = ["cvibot", *args]
    main()


if __name__ == "__main__":
    run(json.loads(sys.argv[1]), sys.argv[2:])
