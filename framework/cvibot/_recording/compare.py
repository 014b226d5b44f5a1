"""Compare what a bot sends now with what it sent when a conversation was recorded.

The rule (:func:`compare_outbound`):

- Messages compare as parsed JSON: key order and whitespace do not matter, ``1`` equals
  ``1.0`` (one JSON number), but ``true`` does not equal ``1`` nor ``"1"``. A string
  holding a JSON object or array (the ``tool_result`` output of a handler that returned
  a dict) compares as the JSON it holds, so neither the key order nor the spacing of
  that text is a difference either; any other string compares exactly.
- The two lists compare as multisets: live, concurrent calls answer in any order, so
  order is not a difference. Every sent message equal to a recorded one that is not
  taken yet is "same".
- What is left is paired by key: ``event_type`` + ``properties.tool_call_id`` when the
  message has one, else ``event_type`` + position among the messages of that type left
  unpaired. A pair is "changed" (with the fields that differ); a recorded message with
  no partner is "missing", a sent one "unexpected".
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ABSENT",
    "ChangedMessage",
    "FieldChange",
    "OutboundDiff",
    "UnpairedMessage",
    "compare_outbound",
]

_WIDTH: Final = 72
"""Longest value shown in a line of :meth:`OutboundDiff.format`, in characters."""
_MESSAGE_WIDTH: Final = 200


class _Absent:
    """The value of a field a message does not have."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
""":attr:`FieldChange.recorded` / :attr:`FieldChange.sent` of a field one side lacks."""


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between a recorded message and its sent partner.

    ``path`` reads like ``properties.output`` or ``properties.items[2]``; inside a string
    that holds JSON, the JSON's own path follows a ``<json>`` mark, for example
    ``properties.output<json>.status``. A value is :data:`ABSENT` on the side that does
    not have the field.
    """

    path: str
    recorded: Any
    sent: Any

    def format(self) -> str:
        """``path: <recorded> -> <sent>``, long strings cut around the first difference."""
        old, new = _show_pair(self.recorded, self.sent)
        return f"{self.path}: {old} -> {new}"


@dataclass(frozen=True, slots=True)
class ChangedMessage:
    """A recorded message and the sent message paired with it, which differ.

    ``key`` names the pair (``conversation.tool_result tool_call_id=t1``, or
    ``conversation.echo #2``: the second echo of the recording); the indexes are
    positions (from 0) in the recorded and the sent list.
    """

    key: str
    recorded_index: int
    sent_index: int
    recorded: Mapping[str, Any]
    sent: Mapping[str, Any]
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class UnpairedMessage:
    """A message only in the recording (missing) or only sent now (unexpected).

    ``key`` names it as :attr:`ChangedMessage.key` does (positions count in its own
    list); ``index`` is its position (from 0) in that list.
    """

    key: str
    index: int
    message: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OutboundDiff:
    """The result of :func:`compare_outbound`.

    ``counts`` has ``recorded`` and ``sent`` (the list lengths), ``same``, ``changed``
    (pairs), ``missing`` and ``unexpected``.
    """

    changed: tuple[ChangedMessage, ...]
    missing: tuple[UnpairedMessage, ...]
    unexpected: tuple[UnpairedMessage, ...]
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the bot sent the same messages as recorded, in any order."""
        return not (self.changed or self.missing or self.unexpected)

    def format(self) -> str:
        """Lines for a terminal: a summary line, then one line per changed field, per
        missing and per unexpected message (no trailing newline)."""
        c = self.counts
        if self.ok:
            return f"outbound: {c.get('sent', 0)} messages, the same as recorded"
        lines = [
            f"outbound differs from the recording: {c.get('recorded', 0)} recorded, "
            f"{c.get('sent', 0)} sent; {c.get('same', 0)} same, {c.get('changed', 0)} changed, "
            f"{c.get('missing', 0)} missing, {c.get('unexpected', 0)} unexpected"
        ]
        for pair in self.changed:
            lines += [f"  changed    {pair.key}: {change.format()}" for change in pair.fields]
        lines += [f"  missing    {m.key}: {_show_message(m.message)}" for m in self.missing]
        lines += [f"  unexpected {m.key}: {_show_message(m.message)}" for m in self.unexpected]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def compare_outbound(
    recorded: Sequence[Mapping[str, Any]], sent: Sequence[Mapping[str, Any]]
) -> OutboundDiff:
    """Compare the messages a bot sent when recorded with those it sends now.

    See the module docstring for the rule. Neither list is changed. Raises
    ``TypeError`` for an item that is not a mapping (naming its list and position).
    """
    old = _plain_list(recorded, "recorded")
    new = _plain_list(sent, "sent")
    old_canon = [_canon(m) for m in old]

    pool: dict[Hashable, deque[int]] = {}
    for index, canon in enumerate(old_canon):
        pool.setdefault(canon, deque()).append(index)
    left_new: list[int] = []
    for index, message in enumerate(new):
        waiting = pool.get(_canon(message))
        if waiting:
            waiting.popleft()
        else:
            left_new.append(index)
    left_old = sorted(i for waiting in pool.values() for i in waiting)
    same = len(new) - len(left_new)

    old_groups = _groups(old, left_old)
    new_groups = _groups(new, left_new)
    old_labels = _labels(old)
    new_labels = _labels(new)
    changed: list[ChangedMessage] = []
    missing: list[UnpairedMessage] = []
    paired_new: set[int] = set()
    for group, indexes in old_groups.items():
        partners = new_groups.get(group, [])
        for position, i in enumerate(indexes):
            if position < len(partners):
                j = partners[position]
                paired_new.add(j)
                changes: list[FieldChange] = []
                _diff("", old[i], new[j], changes)
                changed.append(ChangedMessage(old_labels[i], i, j, old[i], new[j], tuple(changes)))
            else:
                missing.append(UnpairedMessage(old_labels[i], i, old[i]))
    unexpected = [
        UnpairedMessage(new_labels[j], j, new[j]) for j in left_new if j not in paired_new
    ]
    changed.sort(key=lambda pair: pair.recorded_index)
    missing.sort(key=lambda m: m.index)
    counts = {
        "recorded": len(old),
        "sent": len(new),
        "same": same,
        "changed": len(changed),
        "missing": len(missing),
        "unexpected": len(unexpected),
    }
    return OutboundDiff(tuple(changed), tuple(missing), tuple(unexpected), counts)


# -- normal form -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data: dicts with string keys, lists, scalars."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _plain_list(messages: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    plain: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise TypeError(
                f"{name}[{index}] is {type(message).__name__}, not a message (a mapping)"
            )
        plain.append(_plain(message))
    return plain


_NOT_JSON: Final = object()


def _embedded(text: str) -> Any:
    """The object or array a string holds as JSON, else ``_NOT_JSON``."""
    head = text.lstrip()[:1]
    if head not in ("{", "["):
        return _NOT_JSON
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_JSON
    return value if isinstance(value, dict | list) else _NOT_JSON


def _canon(value: Any) -> Hashable:
    """A hashable form equal for values that are the same JSON (see the module rule)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("num", value)
    if isinstance(value, float):
        return ("num", int(value) if value.is_integer() else value)
    if isinstance(value, str):
        inner = _embedded(value)
        return ("str", value) if inner is _NOT_JSON else ("json", _canon(inner))
    if isinstance(value, Mapping):
        return ("obj", frozenset((str(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("arr", tuple(_canon(v) for v in value))
    return ("other", repr(value))


# -- pairing -----------------------------------------------------------------------------------


def _event_type(message: Mapping[str, Any]) -> str:
    kind = message.get("event_type")
    return kind if isinstance(kind, str) else "(no event_type)"


def _tool_call_id(message: Mapping[str, Any]) -> str | None:
    props = message.get("properties")
    if isinstance(props, Mapping):
        tcid = props.get("tool_call_id")
        if isinstance(tcid, str):
            return tcid
    return None


def _groups(messages: Sequence[Mapping[str, Any]], indexes: Iterable[int]) -> dict[Any, list[int]]:
    """The given messages by pairing key, each group in list order."""
    groups: dict[Any, list[int]] = {}
    for i in indexes:
        message = messages[i]
        groups.setdefault((_event_type(message), _tool_call_id(message)), []).append(i)
    return groups


def _labels(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each message's name: its type and tool_call_id, else its type and ordinal."""
    seen: dict[str, int] = {}
    labels: list[str] = []
    for message in messages:
        kind = _event_type(message)
        seen[kind] = seen.get(kind, 0) + 1
        tcid = _tool_call_id(message)
        labels.append(
            f"{kind} tool_call_id={tcid}" if tcid is not None else f"{kind} #{seen[kind]}"
        )
    return labels


# -- field differences ----------------------------------------------------------------------


def _key_path(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def _diff(path: str, old: Any, new: Any, out: list[FieldChange]) -> None:
    """Append to ``out`` the leaves at which ``old`` and ``new`` differ."""
    if old is not ABSENT and new is not ABSENT and _canon(old) == _canon(new):
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = list(old) + [key for key in new if key not in old]
        for key in keys:
            _diff(_key_path(path, str(key)), old.get(key, ABSENT), new.get(key, ABSENT), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            _diff(
                f"{path}[{index}]",
                old[index] if index < len(old) else ABSENT,
                new[index] if index < len(new) else ABSENT,
                out,
            )
        return
    if isinstance(old, str) and isinstance(new, str):
        old_json, new_json = _embedded(old), _embedded(new)
        if old_json is not _NOT_JSON and new_json is not _NOT_JSON:
            _diff(f"{path}<json>", old_json, new_json, out)
            return
    out.append(FieldChange(path or "(message)", old, new))


# -- display ---------------------------------------------------------------------------------


def _json(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    return json.dumps(value, ensure_ascii=False, default=repr)


def _show_pair(old: Any, new: Any) -> tuple[str, str]:
    """Both values as JSON; two long strings cut to a window at their first difference."""
    if not (isinstance(old, str) and isinstance(new, str)):
        return _cut(_json(old)), _cut(_json(new))
    if len(old) <= _WIDTH and len(new) <= _WIDTH:
        return _json(old), _json(new)
    common = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        common += 1
    start = max(0, common - _WIDTH // 3)
    return _window(old, start), _window(new, start)


def _window(text: str, start: int) -> str:
    part = text[start : start + _WIDTH]
    shown = json.dumps(part, ensure_ascii=False)[1:-1]
    before = "…" if start > 0 else ""
    after = "…" if start + _WIDTH < len(text) else ""
    return f'"{before}{shown}{after}"'


def _cut(text: str, width: int = _WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _show_message(message: Mapping[str, Any]) -> str:
    return _cut(json.dumps(message, ensure_ascii=False, default=repr), _MESSAGE_WIDTH)
