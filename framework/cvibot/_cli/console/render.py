"""How ``cvibot console`` shows what the bot sends, as the replica would get it.

One function per message kind, each returning the lines to print (plain text), so
that a later restyling changes this module alone. :func:`render_sent` picks the function
by ``event_type``; a kind it does not know is shown as its JSON. Long values are shown
whole: the console is for reading what the bot really sent. :func:`line_style` gives
each line its style and hanging indent, in the transcript's colours
(:class:`cvibot._cli.style.Styler` writes them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cvibot._cli.console.commands import Call
    from cvibot._dispatch import ToolOutcome
    from cvibot.tools import ToolSpec

__all__ = [
    "line_style",
    "render_append_context",
    "render_call",
    "render_echo",
    "render_error",
    "render_header",
    "render_help",
    "render_interrupt",
    "render_interrupted",
    "render_no_answer",
    "render_other",
    "render_outcome",
    "render_overwrite_context",
    "render_problem",
    "render_respond",
    "render_sensitivity",
    "render_sent",
    "render_silence",
    "render_tool_result",
    "render_tools",
    "render_utterance",
]

_OUT = "←"  # what the bot sends, towards the replica
_IN = "→"  # what the console sends the bot, as the replica would
_NOTE = "·"  # what happened, as the console saw it
_INDENT = "    "

Renderer = Callable[[Mapping[str, Any]], list[str]]


def line_style(line: str) -> tuple[str | None, int]:
    """The style (a rich style, ``None`` for none) and hanging indent of one rendered
    line, by its marker: what the bot sends green (a result's lines plain, under it),
    what the console sends cyan, notes dim, errors red."""
    if line.startswith(_OUT):
        return "green", 2
    if line.startswith(_IN):
        return "cyan", 2
    if line.startswith(_NOTE):
        return "dim", 2
    if line.startswith("error:"):
        return "red", 2
    if line.startswith(_INDENT):
        return None, len(_INDENT)
    return None, 2


def _props(message: Mapping[str, Any]) -> Mapping[str, Any]:
    props = message.get("properties")
    return props if isinstance(props, Mapping) else {}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=repr)


def _output(value: Any) -> list[str]:
    """A tool result's ``output``: JSON text pretty-printed, other text as it is."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return [_INDENT + line for line in value.splitlines() or [""]]
        if isinstance(parsed, dict | list):
            text = json.dumps(parsed, ensure_ascii=False, indent=2)
            return [_INDENT + line for line in text.splitlines()]
        return [_INDENT + value]
    return [_INDENT + _json(value)]


def render_tool_result(message: Mapping[str, Any]) -> list[str]:
    """``conversation.tool_result``: status and call id, then the output."""
    props = _props(message)
    head = (
        f"{_OUT} tool_result {props.get('status', '?')} "
        f"(tool_call_id {_json(props.get('tool_call_id'))})"
    )
    return [head, *_output(props.get("output", ""))]


def render_echo(message: Mapping[str, Any]) -> list[str]:
    """``conversation.echo``: the replica says this text as is (or plays this audio)."""
    props = _props(message)
    if props.get("modality") == "audio":
        audio = props.get("audio")
        size = len(audio) if isinstance(audio, str) else 0
        rate = props.get("sample_rate")
        return [f"{_OUT} echo (audio: {size} base64 characters, sample_rate {rate})"]
    return [f"{_OUT} echo: {props.get('text', '')}"]


def render_respond(message: Mapping[str, Any]) -> list[str]:
    """``conversation.respond``: the LLM answers this text as if the user said it."""
    return [f"{_OUT} respond (to the LLM, as the user): {_props(message).get('text', '')}"]


def render_append_context(message: Mapping[str, Any]) -> list[str]:
    """``conversation.append_llm_context``: silently added to the LLM's context."""
    return [f"{_OUT} append_llm_context: {_props(message).get('context', '')}"]


def render_overwrite_context(message: Mapping[str, Any]) -> list[str]:
    """``conversation.overwrite_llm_context``: the LLM's context replaced."""
    props = _props(message)
    status = props.get("job_status")
    suffix = f" (job_status {status})" if status is not None else ""
    return [f"{_OUT} overwrite_llm_context{suffix}: {props.get('context', '')}"]


def render_interrupt(message: Mapping[str, Any]) -> list[str]:
    """``conversation.interrupt``: the replica stops speaking."""
    return [f"{_OUT} interrupt (the replica stops speaking)"]


def render_sensitivity(message: Mapping[str, Any]) -> list[str]:
    """``conversation.sensitivity``: turn-taking sensitivity changed."""
    props = _props(message)
    fields = ", ".join(f"{k} {_json(v)}" for k, v in props.items()) or "no change"
    return [f"{_OUT} sensitivity: {fields}"]


def render_other(message: Mapping[str, Any]) -> list[str]:
    """Any other message: its event type and JSON."""
    kind = message.get("event_type", "?")
    return [f"{_OUT} {kind}: {_json(dict(message))}"]


_RENDERERS: dict[str, Renderer] = {
    "conversation.tool_result": render_tool_result,
    "conversation.echo": render_echo,
    "conversation.respond": render_respond,
    "conversation.append_llm_context": render_append_context,
    "conversation.overwrite_llm_context": render_overwrite_context,
    "conversation.interrupt": render_interrupt,
    "conversation.sensitivity": render_sensitivity,
}


def render_sent(message: Mapping[str, Any]) -> list[str]:
    """The lines showing one message the bot sent."""
    kind = message.get("event_type")
    renderer = _RENDERERS.get(kind, render_other) if isinstance(kind, str) else render_other
    return renderer(message)


# -- what the console sends, and what became of it --------------------------------------------


def render_utterance(text: str) -> list[str]:
    """A user utterance sent to the bot."""
    return [f"{_IN} utterance (user): {text}"]


def render_call(call: Call, tool_call_id: str | None) -> list[str]:
    """A tool call sent to the bot: its kind, name, arguments and id."""
    if call.perception:
        kind = "perception_tool_call"
    else:
        kind = "tool_call" if call.shape == "official" else "tool_call (legacy shape)"
    ident = f" (tool_call_id {tool_call_id})" if tool_call_id is not None else ""
    return [f"{_IN} {kind} {call.name} {_json(call.arguments)}{ident}"]


def render_interrupted() -> list[str]:
    """The interruption sent to the bot."""
    return [f"{_IN} replica.stopped_speaking (interrupted: the user barged in)"]


def render_outcome(outcome: ToolOutcome) -> list[str]:
    """How a call ended; says so when the reply mode sent nothing."""
    error = f" ({outcome.error.value})" if outcome.error is not None else ""
    line = (
        f"{_NOTE} {outcome.tool}: {outcome.kind.value}{error} in "
        f"{outcome.latency * 1000:.0f} ms, reply {outcome.reply.value}"
    )
    if outcome.answer is None:
        line += ": nothing sent"
        if outcome.text:
            line += f" (result: {outcome.text})"
    return [line]


def render_silence(pipeline_mode: str) -> list[str]:
    """An utterance the bot sent nothing for, and why that is expected."""
    if pipeline_mode == "echo":
        why = "no plugin's utterance responder answered it"
    else:
        why = "under pipeline_mode full, Tavus's LLM answers the user, not the bot"
    return [f"{_NOTE} nothing sent: {why}"]


def render_problem(problem: str) -> list[str]:
    """A message the bot did not act on, and why."""
    return [f"{_NOTE} not acted on: {problem}"]


def render_no_answer(seconds: float) -> list[str]:
    """The wait for a line's answers ran out (they are shown if they come later)."""
    return [f"{_NOTE} no answer within {seconds:g} s; it is shown if it comes later"]


def render_error(message: str) -> list[str]:
    """A line the console could not use, or a failure of the console itself."""
    return [f"error: {message}"]


# -- the console's own screens ----------------------------------------------------------------


def render_header(config: str, where: str, pipeline_mode: str, tools: Iterable[str]) -> list[str]:
    """The first lines: which bot, which conversation, and how to use the console."""
    names = sorted(tools)
    count = f"{len(names)} tool" + ("" if len(names) == 1 else "s")
    return [
        f"cvibot console · {config} · {where} · pipeline_mode {pipeline_mode} · "
        f"{count}: {', '.join(names) or 'none'}",
        "Type a line to speak as the user, /help for the commands, Ctrl-D to quit.",
    ]


def render_help(commands: Iterable[tuple[str, str]], args_help: str) -> list[str]:
    """The command table and how arguments are written."""
    rows = list(commands)
    width = max((len(syntax) for syntax, _ in rows), default=0)
    return [*(f"  {syntax.ljust(width)}  {meaning}" for syntax, meaning in rows), args_help]


def render_tools(specs: Iterable[ToolSpec]) -> list[str]:
    """Each tool with its parameters (``?`` marks an optional one) and description."""
    lines: list[str] = []
    for spec in sorted(specs, key=lambda s: s.name):
        schema = spec.parameters if isinstance(spec.parameters, Mapping) else {}
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = set(schema.get("required") or ())
        params = ", ".join(
            f"{name}{'' if name in required else '?'}: {_type(value)}"
            for name, value in props.items()
        )
        origin = "" if spec.origin.value == "llm" else f" [{spec.origin.value}]"
        lines.append(f"  {spec.name}({params}){origin}")
        if spec.description:
            lines.append(f"      {' '.join(spec.description.split())}")
    return lines or ["  (the bot has no tools)"]


def _type(schema: Any) -> str:
    """A parameter's JSON Schema type, short: ``string``, ``integer|null``, ``"a"|"b"``."""
    if not isinstance(schema, Mapping):
        return "any"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "|".join(_json(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    if isinstance(kind, str):
        if kind == "array":
            return f"array of {_type(schema.get('items'))}"
        return kind
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            return "|".join(_type(o) for o in options)
    return "any"
