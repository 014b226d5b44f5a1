"""The host's Prometheus metrics (those of the fleet design's HTTP API), on a registry of their own.

:class:`HostMetrics` is both the host's :class:`~cvibot.serve._host.HostEvents` and a
:class:`~cvibot._listening.SessionListener` of every conversation it serves, so each figure
is counted where it happens, on the loop. ``GET /metrics`` renders :attr:`registry`.

Metrics (seconds for times):

- ``cvibot_sessions_capacity``, ``cvibot_sessions_limit`` (capacity × load threshold),
  ``cvibot_sessions_active``, ``cvibot_conversations{state}`` (joining, active),
  ``cvibot_worker_draining`` (0 or 1);
- ``cvibot_join_seconds`` (job taken → room joined), ``cvibot_session_seconds``,
  ``cvibot_session_ends_total{reason}`` (ended, stopped, failed, released, lost, error);
- ``cvibot_tool_calls_total{tool,outcome}``, ``cvibot_tool_call_seconds{tool}`` (arrival
  → answer handed to the transport), ``cvibot_call_fenced_total``;
- ``cvibot_event_rejections_total{reason}``, ``cvibot_event_drops_total{reason}``,
  ``cvibot_failed_sends_total``, ``cvibot_conversations_refused_total{reason}`` (the
  control API: full, ended, invalid);
- ``cvibot_loop_lag_seconds`` (the watchdog's last heartbeat delay; 0 without one),
  ``cvibot_process_threads`` (OS threads: Daily's included), and the standard
  ``process_*`` collector (RSS, CPU, open fds).

A tool name the bot does not have is counted as ``<unknown>``, so the LLM cannot grow
the label set.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from cvibot._dispatch import OutcomeKind, ToolOutcome
from cvibot._listeners import DropReason
from cvibot._listening import SessionListener
from cvibot._protocol.events import Event
from cvibot._protocol.parse import Rejection
from cvibot.serve._host import HostEvents

__all__ = ["CONTENT_TYPE_LATEST", "HostMetrics"]

_JOIN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)
_SESSION_BUCKETS = (1.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_UNKNOWN_TOOL = "<unknown>"


def _os_threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: the Python threads only
        return threading.active_count()


class HostMetrics(HostEvents, SessionListener):
    """The metrics of one host. ``capacity`` and ``limit`` are the host's; ``tools`` the
    bot's tool names; ``active`` and ``loop_lag`` are read at each scrape."""

    def __init__(
        self,
        *,
        capacity: int,
        limit: int,
        tools: Collection[str],
        active: Callable[[], int],
        loop_lag: Callable[[], float],
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._tools = frozenset(tools)
        Gauge("cvibot_sessions_capacity", "Conversations this host may serve", registry=r).set(
            capacity
        )
        Gauge(
            "cvibot_sessions_limit", "Conversations taken at once (capacity x load)", registry=r
        ).set(limit)
        Gauge(
            "cvibot_sessions_active",
            "Conversations on this host (joining or in the room)",
            registry=r,
        ).set_function(lambda: float(active()))
        self.by_state = Gauge(
            "cvibot_conversations", "Conversations on this host by state", ["state"], registry=r
        )
        for state in ("joining", "active"):
            self.by_state.labels(state).set(0)
        self.draining_gauge = Gauge("cvibot_worker_draining", "1 while the host drains", registry=r)
        self.join_seconds = Histogram(
            "cvibot_join_seconds", "Job taken to room joined", buckets=_JOIN_BUCKETS, registry=r
        )
        self.session_seconds = Histogram(
            "cvibot_session_seconds",
            "Time a conversation spent on this host",
            buckets=_SESSION_BUCKETS,
            registry=r,
        )
        self.session_ends = Counter(
            "cvibot_session_ends",
            "Conversations that left this host, by how",
            ["reason"],
            registry=r,
        )
        self.tool_calls = Counter(
            "cvibot_tool_calls",
            "Tool calls by tool and outcome",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_seconds = Histogram(
            "cvibot_tool_call_seconds",
            "Tool call arrival to answer sent",
            ["tool"],
            buckets=_CALL_BUCKETS,
            registry=r,
        )
        self.fenced = Counter(
            "cvibot_call_fenced", "Tool calls not answered: another host holds them", registry=r
        )
        self.rejections = Counter(
            "cvibot_event_rejections",
            "Inbound events rejected by the parser",
            ["reason"],
            registry=r,
        )
        self.drops = Counter("cvibot_event_drops", "Inbound events dropped", ["reason"], registry=r)
        self.failed_sends = Counter(
            "cvibot_failed_sends", "App-messages that could not be sent", registry=r
        )
        self.refused = Counter(
            "cvibot_conversations_refused",
            "Conversations the control API refused",
            ["reason"],
            registry=r,
        )
        Gauge(
            "cvibot_loop_lag_seconds", "Event-loop heartbeat delay (watchdog)", registry=r
        ).set_function(loop_lag)
        Gauge("cvibot_process_threads", "OS threads of the process", registry=r).set_function(
            lambda: float(_os_threads())
        )
        ProcessCollector(registry=r)

    def render(self) -> bytes:
        """The Prometheus text exposition (content type :data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)

    # -- HostEvents ------------------------------------------------------------------------

    def state_changed(self, old: str | None, new: str | None) -> None:
        if old is not None:
            self.by_state.labels(old).dec()
        if new is not None:
            self.by_state.labels(new).inc()

    def joined(self, seconds: float) -> None:
        self.join_seconds.observe(seconds)

    def ended(self, how: str, seconds: float) -> None:
        self.session_ends.labels(how).inc()
        self.session_seconds.observe(seconds)

    def send_failed(self) -> None:
        self.failed_sends.inc()

    def draining(self) -> None:
        self.draining_gauge.set(1)

    # -- SessionListener -------------------------------------------------------------------

    def on_outcome(self, outcome: ToolOutcome) -> None:
        tool = outcome.tool if outcome.tool in self._tools else _UNKNOWN_TOOL
        self.tool_calls.labels(tool, outcome.kind.value).inc()
        if outcome.kind is OutcomeKind.FENCED:
            self.fenced.inc()
        else:
            self.tool_seconds.labels(tool).observe(outcome.latency)

    def on_rejection(self, rejection: Rejection) -> None:
        self.rejections.labels(rejection.reason.value).inc()

    def on_drop(self, event: Event, reason: DropReason) -> None:
        self.drops.labels(reason.value).inc()

    def on_untrusted(self, message: object, sender: str) -> None:
        self.drops.labels(DropReason.UNTRUSTED_SENDER.value).inc()
