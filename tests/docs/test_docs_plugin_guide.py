"""docs/plugins.md stays in step with the hookspecs, and every hook's example does what it says.

The guide has one ``### `cvibot_xxx(arg, ...)` `` section per hook, each with exactly one
```` ```python ```` block: a complete plugin module. Each example is written to a file,
loaded by path as a config's plugin would be, and driven in a fake conversation (or, for
the shutdown hook, through ``Bot.run`` on a memory transport); the test asserts what the
section's prose says the example does. The guide's other Python blocks (its first
plugin, the ``dynamic_tool`` example, the testing example) are run too, and every block
must compile.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pluggy
import pytest

from cvibot import ToolError, tool
from cvibot._listening import SessionListener
from cvibot._runtime import Bot, PluginStartupError
from cvibot.config import parse_config
from cvibot.plugins import _hookspecs as hookspecs
from cvibot.testing import FakeConversation
from cvibot.transports._memory import MemoryTransport

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"

_FENCE = re.compile(r"^```([\w-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^(#{1,6}) (.+?)[ \t]*$", re.MULTILINE)
_HOOK_HEADING = re.compile(r"`(cvibot_\w+)\(([^)]*)\)`")
_LABELS = ("**Arguments**", "**When it runs**", "**Returns**", "**If it raises**")

# The first lines of the examples outside the hook sections, each run by a test below.
FIRST_PLUGIN = '"""shop_tools.py:'
TESTING_EXAMPLE = '"""tests/test_shop_tools.py:'
DYNAMIC_TOOL_EXAMPLE = '"""Tools declared in settings:'


@dataclass(frozen=True)
class HookSection:
    """One ``### `cvibot_xxx(...)` `` section of the guide."""

    name: str
    args: tuple[str, ...]
    body: str

    @property
    def examples(self) -> list[str]:
        return [code for lang, code in _FENCE.findall(self.body) if lang == "python"]


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def without_fences(text: str) -> str:
    """``text`` with fenced blocks blanked (same length), so '#' lines in code are no headings."""
    return _FENCE.sub(lambda m: " " * len(m.group(0)), text)


def hook_sections() -> dict[str, HookSection]:
    """The guide's level-3 sections whose heading is a hook's signature, by hook name.

    A section runs to the next heading of level 1 to 3. Fails on a hook documented twice.
    """
    text = guide_text()
    headings = list(_HEADING.finditer(without_fences(text)))
    sections: dict[str, HookSection] = {}
    for index, heading in enumerate(headings):
        level, title = len(heading.group(1)), heading.group(2)
        match = _HOOK_HEADING.fullmatch(title)
        if level != 3 or match is None:
            continue
        end = next((h.start() for h in headings[index + 1 :] if len(h.group(1)) <= 3), len(text))
        name = match.group(1)
        assert name not in sections, f"{name} is documented twice"
        args = tuple(arg.strip() for arg in match.group(2).split(",") if arg.strip())
        sections[name] = HookSection(name, args, text[heading.end() : end])
    return sections


def hookspec_argnames() -> dict[str, tuple[str, ...]]:
    """Every cvibot hook and its arguments, as pluggy reads them from the hookspecs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    specs: dict[str, tuple[str, ...]] = {}
    for name, caller in vars(pm.hook).items():
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None:
            specs[name] = tuple(caller.spec.argnames)
    return specs


def python_blocks() -> list[str]:
    return [code for lang, code in _FENCE.findall(guide_text()) if lang == "python"]


# -- the structure of the guide --------------------------------------------------------------


def test_the_hookspecs_are_found() -> None:
    specs = hookspec_argnames()
    assert "cvibot_register_tools" in specs
    assert specs["cvibot_register_tools"] == ("register", "settings", "base_dir")


def test_one_section_per_hook_with_the_hooks_arguments() -> None:
    documented = {name: section.args for name, section in hook_sections().items()}
    assert documented == hookspec_argnames()


@pytest.mark.parametrize("hook", sorted(hookspec_argnames()))
def test_each_hook_section_has_its_parts_and_one_example(hook: str) -> None:
    section = hook_sections()[hook]
    missing = [label for label in _LABELS if label not in section.body]
    assert not missing, f"{hook}: missing {missing}"
    assert len(section.examples) == 1, f"{hook}: {len(section.examples)} python examples"
    # The example implements the hook it illustrates.
    assert re.search(rf"^@hookimpl.*\n(async )?def {hook}\(", section.examples[0], re.MULTILINE)


def test_every_python_block_is_run_by_a_test() -> None:
    hook_examples = {section.examples[0] for section in hook_sections().values()}
    others = (FIRST_PLUGIN, TESTING_EXAMPLE, DYNAMIC_TOOL_EXAMPLE)
    for code in python_blocks():
        assert code in hook_examples or code.startswith(others), code.splitlines()[0]
    for first_line in others:
        assert block_starting(first_line)


def test_every_python_block_compiles() -> None:
    blocks = python_blocks()
    assert len(blocks) > len(hookspec_argnames())  # the hook examples and the others
    for index, code in enumerate(blocks, 1):
        compile(code, f"{GUIDE.name}, python block {index}", "exec")


# -- running the examples --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Forget the example modules and the sys.path entries that loading them added."""
    path = list(sys.path)
    before = set(sys.modules)
    yield
    sys.path[:] = path
    temp = str(tmp_path_factory.getbasetemp())
    for name in set(sys.modules) - before:
        if (getattr(sys.modules[name], "__file__", None) or "").startswith(temp):
            del sys.modules[name]
    importlib.invalidate_caches()


def write_example(hook: str, folder: Path) -> str:
    """Write the hook's example as ``guide_<hook>.py`` in ``folder``; return its file name."""
    path = folder / f"guide_{hook}.py"
    path.write_text(hook_sections()[hook].examples[0], encoding="utf-8")
    return path.name


def example_module(bot: Bot, ref: str) -> Any:
    """The module the bot loaded for the plugin entry ``ref``."""
    [module] = [p.plugin for p in bot.host.plugins if p.name == ref]
    return module


@tool
def ping() -> str:
    """Answer pong."""
    return "pong"


@tool
def refuse() -> str:
    """Always refuse."""
    raise ToolError("Not today.")


def user_utterance(seq: int, speech: str, role: str = "user") -> dict[str, Any]:
    return {
        "message_type": "conversation",
        "event_type": "conversation.utterance",
        "conversation_id": "fake-conversation",
        "seq": seq,
        "properties": {"role": role, "speech": speech},
    }


Scenario = Callable[[str, Path], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(hook: str) -> Callable[[Scenario], Scenario]:
    def add(function: Scenario) -> Scenario:
        SCENARIOS[hook] = function
        return function

    return add


@scenario("cvibot_register_tools")
async def registers_a_tool_per_file_entry(ref: str, folder: Path) -> None:
    # The file is found relative to base_dir (the config's folder), not the current folder.
    (folder / "answers.json").write_text(
        json.dumps({"opening_hours": "We are open from 9 to 5."}), encoding="utf-8"
    )
    async with FakeConversation(plugins=[{"module": ref}], base_dir=folder) as conv:
        assert set(conv.bot.tools) == {"opening_hours"}
        assert conv.bot.tools["opening_hours"].plugin == ref
        reply = await conv.tool_call("opening_hours", {})
    assert (reply.status, reply.text) == ("success", "We are open from 9 to 5.")

    (folder / "more.json").write_text(
        json.dumps({"parking": "Behind the shop.", "returns": "Within 30 days."}),
        encoding="utf-8",
    )
    plugin = {"module": ref, "settings": {"file": "more.json"}}
    async with FakeConversation(plugins=[plugin], base_dir=folder) as conv:
        assert set(conv.bot.tools) == {"parking", "returns"}
        reply = await conv.tool_call("returns", {})
    assert reply.text == "Within 30 days."


@scenario("cvibot_startup")
async def checks_the_hours_at_start_up(ref: str, folder: Path) -> None:
    plugin = {"module": ref, "settings": {"hours": {"Monday": "9 to 5"}}}
    async with FakeConversation(plugins=[plugin], base_dir=folder) as conv:
        monday = await conv.tool_call("opening_hours", {"day": "monday"})
        sunday = await conv.tool_call("opening_hours", {"day": "Sunday"})
    assert monday.text == "9 to 5"
    assert sunday.text == "We are closed that day."

    without_hours = FakeConversation(plugins=[{"module": ref}], base_dir=folder)
    with pytest.raises(PluginStartupError) as failed:
        await without_hours.start()
    assert failed.value.plugin == ref
    assert isinstance(failed.value.cause, ValueError)
    assert "settings.hours" in str(failed.value)


@scenario("cvibot_shutdown")
async def closes_the_client_at_shutdown(ref: str, folder: Path) -> None:
    config = (
        "transport: {type: replay, path: unused.jsonl}\n"
        "plugins:\n"
        f"  - module: {ref}\n"
        "    settings: {base_url: 'https://shop.example.com'}\n"
    )
    bot = Bot.from_config(parse_config(config, path=folder / "bot.yaml"), autoload=False)
    module = example_module(bot, ref)
    while_running: list[tuple[Any, bool]] = []

    class Probe(SessionListener):
        def on_event(self, event: Any, *, late: bool) -> None:
            client = module.CLIENTS.get("api")
            while_running.append((client, client is not None and client.is_closed))

    transport = MemoryTransport()
    transport.push(user_utterance(1, "hello"))
    transport.end()
    await bot.run(transport, listeners=[Probe()])

    [(client, closed)] = while_running
    assert isinstance(client, httpx.AsyncClient)
    assert client.base_url.host == "shop.example.com"
    assert not closed  # open while the bot runs
    assert client.is_closed  # closed by cvibot_shutdown
    assert module.CLIENTS == {}


@scenario("cvibot_session_started")
async def greets_as_the_conversation_starts(ref: str, folder: Path) -> None:
    plugin = {"module": ref, "settings": {"greeting": "Hi Dana, how can I help?"}}
    async with FakeConversation(plugins=[plugin], base_dir=folder) as conv:
        greeting = await conv.wait_for("conversation.echo")
    assert greeting["properties"]["text"] == "Hi Dana, how can I help?"
    assert greeting["conversation_id"] == "fake-conversation"

    async with FakeConversation(plugins=[{"module": ref}], base_dir=folder) as conv:
        greeting = await conv.wait_for("conversation.echo")
    assert greeting["properties"]["text"] == "Hello! How can I help?"


@scenario("cvibot_session_ended")
async def summarises_the_conversation_at_its_end(ref: str, folder: Path) -> None:
    conv = FakeConversation(
        plugins=[{"module": ref}], tools=[ping], base_dir=folder, conversation_id="c-42"
    )
    module = example_module(conv.bot, ref)
    async with conv:
        await conv.tool_call("ping", {})
        await conv.tool_call("no_such_tool", {})
        assert module.SUMMARIES == []  # the conversation has not ended yet
    assert module.SUMMARIES == [
        {"conversation_id": "c-42", "tool_calls": {"success": 1, "error": 1}}
    ]


@scenario("cvibot_event")
async def keeps_what_the_user_said(ref: str, folder: Path) -> None:
    conv = FakeConversation(plugins=[{"module": ref}], tools=[ping], base_dir=folder)
    module = example_module(conv.bot, ref)
    async with conv:
        await conv.say("Hello there")
        await conv.tool_call("ping", {})
        conv.send(user_utterance(100, "Hi! What can I do for you?", role="replica"))
        await conv.say("Thanks, bye")
    assert dict(module.TRANSCRIPTS) == {"fake-conversation": ["Hello there", "Thanks, bye"]}


@scenario("cvibot_tool_outcome")
async def records_the_calls_that_failed(ref: str, folder: Path) -> None:
    conv = FakeConversation(plugins=[{"module": ref}], tools=[ping, refuse], base_dir=folder)
    module = example_module(conv.bot, ref)
    async with conv:
        assert (await conv.tool_call("ping", {})).status == "success"
        assert (await conv.tool_call("refuse", {})).text == "Not today."
        assert (await conv.tool_call("no_such_tool", {})).status == "error"
    assert module.FAILED == [
        ("refuse", "error", "tool_error"),
        ("no_such_tool", "error", "unknown_tool"),
    ]


@scenario("cvibot_respond_to_utterance")
async def answers_questions_about_the_hours(ref: str, folder: Path) -> None:
    plugin = {"module": ref, "settings": {"hours": "Monday to Friday, 9 to 5."}}
    async with FakeConversation(plugins=[plugin], pipeline_mode="echo", base_dir=folder) as conv:
        answer = await conv.say("When are you open?")
        passed = await conv.say("Do you sell gift cards?")
    assert answer is not None
    assert (answer.event_type, answer.text) == ("conversation.echo", "Monday to Friday, 9 to 5.")
    assert passed is None

    async with FakeConversation(
        plugins=[{"module": ref}], pipeline_mode="echo", base_dir=folder
    ) as conv:
        answer = await conv.say("Are you OPEN on Sundays?")
    assert answer is not None and answer.text == "We are open from 9 to 5."

    # Under pipeline_mode: full the hook is never called.
    async with FakeConversation(plugins=[plugin], pipeline_mode="full", base_dir=folder) as conv:
        assert await conv.say("When are you open?") is None
        assert conv.sent == []


@scenario("cvibot_webhook")
async def keeps_the_transcripts(ref: str, folder: Path) -> None:
    from cvibot.serve._webhooks import TavusCallback, plugin_notifier

    conv = FakeConversation(plugins=[{"module": ref}], base_dir=folder)
    module = example_module(conv.bot, ref)
    notify = plugin_notifier(conv.bot)
    transcript = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    await notify(
        TavusCallback(
            event_type="application.transcription_ready",
            conversation_id="c1",
            properties={"transcript": transcript},
        )
    )
    await notify(TavusCallback(event_type="system.shutdown", conversation_id="c2"))
    assert list(module.TRANSCRIPTS) == ["c1"]
    assert module.TRANSCRIPTS["c1"] == transcript


def test_there_is_a_scenario_for_every_hook() -> None:
    assert set(SCENARIOS) == set(hookspec_argnames())


@pytest.mark.parametrize("hook", sorted(SCENARIOS))
async def test_the_example_does_what_the_guide_says(hook: str, tmp_path: Path) -> None:
    ref = write_example(hook, tmp_path)
    await SCENARIOS[hook](ref, tmp_path)


# -- the testing section's example -----------------------------------------------------------


def block_starting(first_line: str) -> str:
    [code] = [code for code in python_blocks() if code.startswith(first_line)]
    return code


async def test_the_testing_example_passes_on_the_first_plugin(
    tmp_path: Path, cvibot_conversation: Any
) -> None:
    """The guide's test module, run on the guide's first plugin with the real fixture."""
    (tmp_path / "shop_tools.py").write_text(block_starting(FIRST_PLUGIN), encoding="utf-8")
    tests = tmp_path / "guide_test_shop_tools.py"
    tests.write_text(block_starting(TESTING_EXAMPLE), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("guide_test_shop_tools", tests)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    ran = []
    for name, function in sorted(vars(module).items()):
        if name.startswith("test_") and inspect.iscoroutinefunction(function):
            wants = inspect.signature(function).parameters
            await function(**({"cvibot_conversation": cvibot_conversation} if wants else {}))
            ran.append(name)
    assert len(ran) == 3


async def test_the_dynamic_tool_example_brings_a_tool_per_lookup(tmp_path: Path) -> None:
    (tmp_path / "guide_lookups.py").write_text(
        block_starting(DYNAMIC_TOOL_EXAMPLE), encoding="utf-8"
    )
    lookups = {
        "stock_level": {"description": "How many are in stock", "table": {"sku-1": "12 in stock"}}
    }
    plugin = {"module": "guide_lookups.py", "settings": {"lookups": lookups}}
    async with FakeConversation(plugins=[plugin], base_dir=tmp_path) as conv:
        assert set(conv.bot.tools) == {"stock_level"}
        found = await conv.tool_call("stock_level", {"key": "sku-1"})
        unknown = await conv.tool_call("stock_level", {"key": "sku-2"})
        missing = await conv.tool_call("stock_level", {})
    assert (found.status, found.text) == ("success", "12 in stock")
    assert unknown.text == "I could not find that."
    assert missing.status == "error"
    assert missing.text is not None and "key" in missing.text
    assert missing.outcome is not None and missing.outcome.error == "invalid_arguments"
