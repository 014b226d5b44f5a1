"""Dispatch: one tool call in, exactly one terminal outcome and answer out."""

from cvibot.dispatch.admission import WaitingBound
from cvibot.dispatch.dispatcher import Dispatcher
from cvibot.dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot.dispatch.policy import DispatchPolicy
from cvibot.dispatch.pool import PoolBusy, ToolPool

__all__ = [
    "DispatchPolicy",
    "Dispatcher",
    "ErrorKind",
    "OutcomeKind",
    "PoolBusy",
    "ToolOutcome",
    "ToolPool",
    "WaitingBound",
]
