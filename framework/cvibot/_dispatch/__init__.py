"""Dispatch: one tool call in, exactly one terminal outcome and answer out."""

from cvibot._dispatch.admission import WaitingBound
from cvibot._dispatch.dispatcher import Dispatcher
from cvibot._dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome
from cvibot._dispatch.policy import DispatchPolicy
from cvibot._dispatch.pool import PoolBusy, ToolPool

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
