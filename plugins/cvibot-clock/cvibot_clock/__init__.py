"""Date and time tools for cvibot bots, offline (the standard library's time-zone data).

"Now" is the moment the user asked: the tool call event's ``timestamp``
(:attr:`cvibot.ToolContext.timestamp`), so that a replayed conversation answers as it
did live.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cvibot import ToolContext, ToolError, tool

__version__ = "0.1.0"
__all__ = ["convert_time", "local_time"]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolError(f"{name!r} is not a time zone name like 'Asia/Tokyo'.") from None


def _now(ctx: ToolContext) -> datetime:
    return datetime.fromtimestamp(ctx.timestamp, tz=UTC)


@tool
def local_time(timezone: str, ctx: ToolContext) -> str:
    """Tell the current date and time in a time zone.

    Args:
        timezone: An IANA time zone name, for example "Asia/Tokyo" or "Europe/Paris".
    """
    now = _now(ctx).astimezone(_zone(timezone))
    return f"In {timezone} it is {now:%H:%M} on {now:%A %d %B %Y}."


@tool
def convert_time(clock_time: str, from_timezone: str, to_timezone: str, ctx: ToolContext) -> str:
    """Convert a time of today from one time zone to another.

    Args:
        clock_time: The time on a 24-hour clock, for example "15:30".
        from_timezone: The IANA time zone the time is in, for example "Europe/Paris".
        to_timezone: The IANA time zone to convert it to, for example "America/New_York".
    """
    try:
        parsed = time.fromisoformat(clock_time.strip())
    except ValueError:
        raise ToolError(f"{clock_time!r} is not a time like '15:30'.") from None
    source, target = _zone(from_timezone), _zone(to_timezone)
    today = _now(ctx).astimezone(source).date()
    moment = datetime.combine(today, parsed.replace(tzinfo=None), tzinfo=source)
    converted = moment.astimezone(target)
    day = ""
    if converted.date() != moment.date():
        day = " the next day" if converted.date() > moment.date() else " the day before"
    return (
        f"{moment:%H:%M} in {from_timezone} is {converted:%H:%M}{day} in {to_timezone} "
        f"(on {moment:%A %d %B %Y})."
    )
