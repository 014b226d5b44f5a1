from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import structlog
from runtime_helpers import CID, Harness, MakeHarness, Recorder, spec_of

from cvibot._dispatch import DispatchPolicy
from cvibot._session import Session
from cvibot.tools import ToolRegistry, ToolSpec
from cvibot.transports._memory import MemoryTransport


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cvibot-test")
    yield pool
    # Sync handlers that outlived their timeout still run here: let them end.
    pool.shutdown(wait=True)


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """structlog entries captured while the test runs (sessions bind loggers when built)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
def make_harness(executor: ThreadPoolExecutor, logs: list[dict[str, Any]]) -> MakeHarness:
    """Build a session on a MemoryTransport with the given ``@tool`` functions or specs.

    Keyword arguments go to :class:`DispatchPolicy` when they are policy fields, to
    :class:`Session` otherwise; ``conversation_id`` defaults to ``"c1"``.
    """
    policy_fields = set(DispatchPolicy.__dataclass_fields__)

    def make(*tools: Callable[..., Any] | ToolSpec, **options: Any) -> Harness:
        policy = DispatchPolicy(**{k: v for k, v in options.items() if k in policy_fields})
        session_options = {k: v for k, v in options.items() if k not in policy_fields}
        session_options.setdefault("conversation_id", CID)
        rec = Recorder()
        listeners = (rec, *session_options.pop("listeners", ()))
        transport = MemoryTransport()
        session = Session(
            transport=transport,
            tools=ToolRegistry.build(
                fn if isinstance(fn, ToolSpec) else spec_of(fn) for fn in tools
            ),
            policy=policy,
            executor=executor,
            listeners=listeners,
            **session_options,
        )
        return Harness(session=session, transport=transport, rec=rec)

    return make
