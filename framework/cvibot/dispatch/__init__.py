"""Dispatch: one tool call in, exactly one terminal outcome and answer out."""

from cvibot.dispatch.dispatcher import Dispatcher, DispatchPolicy
from cvibot.dispatch.outcome import ErrorKind, OutcomeKind, ToolOutcome

__all__ = ["DispatchPolicy", "Dispatcher", "ErrorKind", "OutcomeKind", "ToolOutcome"]
