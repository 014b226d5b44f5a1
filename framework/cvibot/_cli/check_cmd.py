"""``cvibot check``: a bot's plugins and tools, and what would load but silently fail.

:func:`report` prints what ``cvibot check CONFIG`` shows for a loaded bot;
:func:`find_warnings` finds what loads without error yet does not do what its author
meant:

- a plugin function named like a hook (``cvibot_*``) without ``@hookimpl``: never called;
- a tool without a description: the LLM sees only its name;
- ``pipeline_mode: echo`` with no ``cvibot_respond_to_utterance``: nobody answers the user;
- a tool whose reply is spoken (``echo``, ``respond``) and whose return annotation is
  structured (a dict, list, model, dataclass) without a ``say=`` formatter: it is spoken
  in the readable default form, rarely the sentence one wants;
- what Tavus would refuse (:func:`cvibot.tools.limit_problems`).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cvibot._cli.common_options import table_lines

if TYPE_CHECKING:
    from cvibot._runtime import Bot
    from cvibot.plugins._loading import LoadedPlugin
    from cvibot.tools import ToolSpec
    from cvibot.tools._options import ReplyMode

__all__ = ["CheckWarning", "find_warnings", "report"]

#: The exit status of ``check --strict`` when there are warnings (a config error's).
EXIT_STRICT = 2


@dataclasses.dataclass(frozen=True)
class CheckWarning:
    """One warning: ``message``, and where in the config it applies (``file``, ``line``
    and ``key`` as in :class:`~cvibot._errors.ConfigError`, each ``None`` if unknown)."""

    message: str
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        return f"{where}{self.key + ': ' if self.key else ''}{self.message}"


def report(bot: Bot, config: Path, *, strict: bool = False) -> int:
    """Print the bot's plugins and tools on stdout and the warnings on stderr.

    Returns the exit status: 0, or :data:`EXIT_STRICT` with ``strict`` and a warning.
    """
    specs = sorted(bot.tools.values(), key=lambda s: s.name)
    policy = bot.policy
    click.echo(
        f"{config}: ok · pipeline_mode {bot.pipeline_mode} · "
        f"{_count(len(bot.host.plugins), 'plugin')} · {_count(len(specs), 'tool')}"
    )
    for plugin in bot.host.plugins:
        origin = plugin.distribution or plugin.module or plugin.kind
        version = f" {plugin.version}" if plugin.version else ""
        click.echo(f"  plugin {plugin.name} ({plugin.kind}: {origin}{version})")
    rows = [("tool", "origin", "reply", "timeout", "cancel", "plugin")]
    for s in specs:
        cancel = s.cancel_on_interrupt
        rows.append(
            (
                s.name,
                s.origin.value,
                _reply(bot, s).value,
                f"{s.timeout if s.timeout is not None else policy.default_timeout:g} s",
                "yes" if (policy.cancel_on_interrupt if cancel is None else cancel) else "no",
                s.plugin or "",
            )
        )
    for line in table_lines(rows, indent="  "):
        click.echo(line)
    warnings = find_warnings(bot)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    if strict and warnings:
        click.echo(
            f"error: {_count(len(warnings), 'warning')}, which --strict makes errors", err=True
        )
        return EXIT_STRICT
    return 0


def find_warnings(bot: Bot) -> list[CheckWarning]:
    """Every warning about ``bot``, in the order of the module docstring."""
    return [
        *_unmarked_hooks(bot),
        *_undescribed_tools(bot),
        *_unanswered_utterances(bot),
        *_spoken_structures(bot),
        *(CheckWarning(problem) for problem in _limit_problems(bot)),
    ]


def _unmarked_hooks(bot: Bot) -> Iterator[CheckWarning]:
    from cvibot.plugins._calling import hook_names
    from cvibot.tools import get_tool_spec

    hooks = hook_names()
    for plugin in bot.host.plugins:
        if plugin.kind == "builtin":
            continue
        obj = plugin.plugin
        for attr in sorted(dir(obj)):
            if not attr.startswith("cvibot_"):
                continue
            try:
                value = inspect.getattr_static(obj, attr)
            except AttributeError:
                continue
            value = getattr(obj, attr, None) if isinstance(value, staticmethod) else value
            if not callable(value) or get_tool_spec(value) is not None:
                continue
            if bot.host.pm.parse_hookimpl_opts(obj, attr) is not None:
                continue  # marked: registered (or refused at load) already
            if attr in hooks:
                why = "has the name of a hook but no @hookimpl, so it is never called"
                fix = "mark it with @hookimpl (from cvibot import hookimpl)"
            else:
                why = "looks like a hook, but cvibot has no hook of that name"
                close = difflib.get_close_matches(attr, hooks, n=1)
                fix = f"did you mean {close[0]}?" if close else f"hooks: {', '.join(hooks)}"
            yield _at_plugin(bot, plugin, f"plugin {plugin.name!r}: {attr}() {why}; {fix}")


def _undescribed_tools(bot: Bot) -> Iterator[CheckWarning]:
    for spec in sorted(bot.tools.values(), key=lambda s: s.name):
        if not spec.description.strip():
            yield _at_tool(
                bot,
                spec,
                f"tool {spec.name!r} (plugin {spec.plugin}) has no description, so the LLM "
                "knows it by its name alone: give the function a docstring, or description=",
            )


def _unanswered_utterances(bot: Bot) -> Iterator[CheckWarning]:
    if bot.pipeline_mode != "echo":
        return
    if bot.host.pm.hook.cvibot_respond_to_utterance.get_hookimpls():
        return
    located = bot.loaded.error("", "pipeline_mode")
    yield CheckWarning(
        "echo turns Tavus's LLM off, and no plugin implements "
        "cvibot_respond_to_utterance, so what the user says goes unanswered: add a "
        "responder plugin (cvibot-faq is one) or use pipeline_mode: full",
        file=located.file,
        line=located.line,
        key=located.key,
    )


def _spoken_structures(bot: Bot) -> Iterator[CheckWarning]:
    from cvibot._dispatch.answer import SPOKEN_MODES

    for spec in sorted(bot.tools.values(), key=lambda s: s.name):
        reply = _reply(bot, spec)
        if reply not in SPOKEN_MODES or spec.say is not None:
            continue
        returns = structured_return(spec)
        if returns is None:
            continue
        yield _at_tool(
            bot,
            spec,
            f"tool {spec.name!r} (plugin {spec.plugin}) returns {returns}, which its reply "
            f"{reply.value!r} speaks as 'key: value' words: give it a sentence with "
            "@tool(say=lambda result: ...)",
            reply_key=True,
        )


def structured_return(spec: ToolSpec) -> str | None:
    """The return annotation of ``spec``'s function, as written, when it is structured
    (a mapping, sequence other than text, set, pydantic model, dataclass or TypedDict,
    alone or in a union); ``None`` when it is not, or cannot be read."""
    from cvibot.tools._dynamic import dynamic_handler
    from cvibot.tools._schema import unwrap_partial

    function = dynamic_handler(spec) or unwrap_partial(spec.function)
    try:
        hint = typing.get_type_hints(function, include_extras=True).get("return")
    except Exception:  # unresolvable names, a callable object without annotations
        return None
    if hint is None or not _structured(hint):
        return None
    return _type_text(hint)


def _structured(hint: Any) -> bool:
    from pydantic import BaseModel

    from cvibot._protocol.interactions import Interaction

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return _structured(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_structured(arg) for arg in args)
    if origin in (collections.abc.Awaitable, collections.abc.Coroutine) and args:
        return _structured(args[-1])
    target = origin if isinstance(origin, type) else hint
    if not isinstance(target, type):
        return False
    if issubclass(target, str | bytes | bytearray) or issubclass(target, Interaction):
        return False
    if typing.is_typeddict(target) or dataclasses.is_dataclass(target):
        return True
    structured = (BaseModel, collections.abc.Mapping, collections.abc.Collection)
    return issubclass(target, structured)


def _type_text(hint: Any) -> str:
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__qualname__
    return str(hint).replace("typing.", "")


def _reply(bot: Bot, spec: ToolSpec) -> ReplyMode:
    policy = bot.policy
    return spec.reply or (policy.perception_reply if spec.is_perception else policy.default_reply)


def _limit_problems(bot: Bot) -> list[str]:
    from cvibot.tools import limit_problems

    return limit_problems(sorted(bot.tools.values(), key=lambda s: s.name))


def _at_plugin(bot: Bot, plugin: LoadedPlugin, message: str) -> CheckWarning:
    """A warning at the config entry of ``plugin``, if the config names it."""
    refs = [entry.ref for entry in bot.config.plugins]
    if plugin.name not in refs:
        return CheckWarning(message, file=str(bot.loaded.path))
    located = bot.loaded.error("", "plugins", refs.index(plugin.name))
    return CheckWarning(message, file=located.file, line=located.line, key=located.key)


def _at_tool(bot: Bot, spec: ToolSpec, message: str, *, reply_key: bool = False) -> CheckWarning:
    """A warning at ``tools.NAME.reply`` when the config sets what it is about, else at
    the config entry of the tool's plugin."""
    override = bot.config.tools.get(spec.name)
    if reply_key and override is not None and override.reply is not None:
        located = bot.loaded.error("", "tools", spec.name, "reply")
        return CheckWarning(message, file=located.file, line=located.line, key=located.key)
    plugin = next((p for p in bot.host.plugins if p.name == spec.plugin), None)
    if plugin is None:
        return CheckWarning(message, file=str(bot.loaded.path))
    return _at_plugin(bot, plugin, message)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
