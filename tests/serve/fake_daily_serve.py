"""``cvibot`` with the fake daily-python SDK, as a process of its own (serve tests).

Usage: ``python fake_daily_serve.py ARGS...`` runs ``cvibot ARGS...`` with
:class:`doubles.fake_daily.FakeDaily` in place of ``daily``: every room joins at
once with the replica in it, and the replica sends one ``lookup_order`` tool call to
each room it joins (``tool_call_id`` ``call-<room>``). Each answer is printed on stdout
as ``fake: answered <tool_call_id> <status>``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import cvibot.transports._daily.transport as daily_transport
from cvibot._cli.main import main

# The test doubles: tests/doubles, the package `doubles` (this script runs on its own).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from doubles.fake_daily import FakeDaily, participant

REPLICA = participant("Anna", "tavus-replica-r1")


def _script(fake: FakeDaily) -> None:
    called: set[int] = set()
    answered: set[str] = set()
    while True:
        for index, client in enumerate(list(fake.clients)):
            if client.joined and index not in called:
                called.add(index)
                room = client.joins[-1][0].rstrip("/").rsplit("/", 1)[-1] if client.joins else "?"
                client.inject_app_message(
                    {
                        "message_type": "conversation",
                        "event_type": "conversation.tool_call",
                        "conversation_id": room,
                        "seq": 1,
                        "properties": {
                            "name": "lookup_order",
                            "arguments": json.dumps({"order_id": "A1"}),
                            "tool_call_id": f"call-{room}",
                        },
                    },
                    REPLICA["id"],
                )
            for message, _ in list(client.sent):
                props = message.get("properties", {})
                tcid = props.get("tool_call_id")
                if message.get("event_type") == "conversation.tool_result" and tcid not in answered:
                    answered.add(tcid)
                    print(f"fake: answered {tcid} {props.get('status')}", flush=True)
        time.sleep(0.01)


def run(args: list[str]) -> None:
    fake = FakeDaily(join_outcome="ok", join_delay=0.01, remote_participants=[REPLICA])
    daily_transport.load_sdk = lambda: fake  # type: ignore[attr-defined]
    threading.Thread(target=_script, args=(fake,), daemon=True).start()
    sys.argv = ["cvibot", *args]
    main()


if __name__ == "__main__":
    run(sys.argv[1:])
