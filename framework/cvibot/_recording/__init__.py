"""Recorded conversations as regression tests.

A conversation recorded with :class:`cvibot.transports._recording.RecordingTransport`
(``cvibot run CONFIG --record FILE``) replays through
:class:`cvibot.transports._replay.ReplayTransport`; :func:`compare_outbound` compares
what the bot sends on the replay with the recording's ``out`` lines
(:func:`cvibot.transports._replay.read_outbound`), for ``cvibot replay --check``.
"""

from cvibot._recording.compare import (
    ABSENT,
    ChangedMessage,
    FieldChange,
    OutboundDiff,
    UnpairedMessage,
    compare_outbound,
)

__all__ = [
    "ABSENT",
    "ChangedMessage",
    "FieldChange",
    "OutboundDiff",
    "UnpairedMessage",
    "compare_outbound",
]
