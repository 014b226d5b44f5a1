"""``cvibot tools``: print the bot's tool definitions (``show``, the default command, so
``cvibot tools CONFIG`` works as before) or make the tools Tavus knows match them
(``sync``, protocol reference §7, §8).

Exit status: 0 ok (also "nothing to change" and a dry run), 1 Tavus refused a request
or could not be reached, 2 a usage or config error, or tools that break Tavus's limits.
Heavy modules are imported inside the commands so ``cvibot --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from cvibot._cli.common_options import plugin_option

if TYPE_CHECKING:
    from cvibot._runtime import Bot
    from cvibot._sync import Target
    from cvibot.tavus import RetryPolicy, TavusClient
    from cvibot.tools import ToolSpec
    from cvibot.tools._export import ApiDelivery

__all__ = ["DefaultGroup", "tools"]

EXIT_RUNTIME = 1
EXIT_CONFIG = 2

RETRY: RetryPolicy | None = None
"""The retry policy of the sync's Tavus client; None for the client's default."""


class DefaultGroup(click.Group):
    """A group that runs ``default_command`` when its first argument is not one of its
    commands: ``cvibot tools CONFIG`` is ``cvibot tools show CONFIG``."""

    def __init__(self, *args: Any, default_command: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] CONFIG")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="       ")


def _echo(lines: Iterable[str], *, err: bool = False) -> None:
    for line in lines:
        click.echo(line, err=err)


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(code)


_config_arg = click.argument(
    "config", type=click.Path(exists=False, dir_okay=False, path_type=Path)
)


@click.group(cls=DefaultGroup, default_command="show")
def tools() -> None:
    """Print the tool definitions, or sync them to Tavus.

    cvibot tools CONFIG is cvibot tools show CONFIG (see cvibot tools show -h for its
    options).
    """


@tools.command()
@_config_arg
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["all", "legacy", "registry"]),
    default="all",
    show_default=True,
    help="legacy: the persona's layers (llm.tools, perception); registry: "
    "/v2/tools bodies; all: both.",
)
@plugin_option
def show(config: Path, fmt: str, plugin_args: tuple[str, ...]) -> None:
    """Print the tool definitions in Tavus's formats (JSON).

    A delivery: api tool's HMAC secret is printed as ********.
    """
    from cvibot._cli.main import load_bot
    from cvibot._errors import ConfigError
    from cvibot.tools import tool_definitions
    from cvibot.tools._export import SECRET_PLACEHOLDER, ApiDelivery

    bot = load_bot(config, plugin_args=plugin_args)
    specs = sorted(bot.tools.values(), key=lambda s: s.name)
    try:
        api = api_delivery(bot, specs)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    shown = None if api is None else ApiDelivery(api.public_url, SECRET_PLACEHOLDER, api.timeout)
    defs = tool_definitions(specs, api=shown)
    if fmt == "legacy":
        payload: Any = defs["persona"]
    elif fmt == "registry":
        payload = defs["tools"]
    else:
        payload = defs
    click.echo(json.dumps(payload, indent=2, ensure_ascii=False))


@tools.command()
@_config_arg
@click.option(
    "--dry-run", is_flag=True, help="Print the plan and stop: only reads are sent to Tavus."
)
@click.option(
    "--target",
    type=click.Choice(["registry", "persona"]),
    help="registry: the account's /v2/tools attached to the persona; persona: the "
    "persona's inline layers.llm.tools (and perception tools). Default: tavus.sync.target.",
)
@click.option(
    "--persona-id",
    metavar="ID",
    help="The persona (PAL) to sync. Default: tavus.sync.persona_id, else "
    "conversation.create.persona_id.",
)
@click.option("--yes", "-y", is_flag=True, help="Apply without asking (asked only on a terminal).")
@plugin_option
def sync(
    config: Path,
    dry_run: bool,
    target: str | None,
    persona_id: str | None,
    yes: bool,
    plugin_args: tuple[str, ...],
) -> None:
    """Make the tools Tavus knows match the bot's tools in code.

    Tavus's limits are checked first: tools that break one are refused and nothing is
    sent. Then the plan is printed as a diff and applied. With the registry target,
    each tool is created in the account or updated (only the fields that differ),
    attached to the persona, and attached tools the code no longer has are detached
    (never deleted; system tools are never touched). With the persona target, only the
    differing tool lists of the persona are patched. Run again, it has nothing to change.

    The tools are those cvibot run loads: the plugins the config names (and -p NAME
    adds); an installed plugin nobody names reaches Tavus only under plugins_autoload.

    Exit status: 0 applied, nothing to change, or a dry run; 1 Tavus refused a request
    or could not be reached (what was applied before is listed); 2 a config error, or
    tools that break Tavus's limits.
    """
    from cvibot._cli.live import tavus_client
    from cvibot._cli.main import load_bot
    from cvibot._errors import ConfigError
    from cvibot._sync import LimitsExceeded, check_limits, render_problems

    # The same selection as run, check and show: Tavus is told of exactly the tools the
    # bot answers.
    bot = load_bot(config, plugin_args=plugin_args)
    specs = sorted(bot.tools.values(), key=lambda s: s.name)
    try:
        check_limits(specs)
    except LimitsExceeded as exc:
        header, *rest = render_problems(exc.problems)
        click.echo(f"error: {header}", err=True)
        _echo(rest, err=True)
        raise SystemExit(EXIT_CONFIG) from None
    try:
        chosen = target or bot.config.tavus.sync.target
        where: Target = "persona" if chosen == "persona" else "registry"
        pid = _persona_id(bot, persona_id)
        delivery = api_delivery(bot, specs) if where == "registry" else None
        api = tavus_client(bot, "syncing tools", retry=RETRY)
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    ask = not yes and not dry_run and _interactive()
    import asyncio  # here, so that `cvibot --help` stays fast

    raise SystemExit(
        asyncio.run(_sync(api, specs, where, pid, dry_run=dry_run, ask=ask, delivery_api=delivery))
    )


def api_delivery(bot: Bot, specs: Sequence[ToolSpec]) -> ApiDelivery | None:
    """Where Tavus sends the calls of the ``delivery: api`` tools among ``specs``: the
    ``serve:`` section's ``public_url`` and ``delivery_api`` (``secret``, ``timeout``).

    ``None`` when no tool has ``delivery: api``. Raises a located
    :class:`~cvibot._errors.ConfigError` when one has and the config lacks either, or
    holds a value Tavus would refuse (a public URL that is not ``https://``).
    """
    from cvibot.tools._export import ApiDelivery

    names = [spec.name for spec in specs if spec.delivery == "api"]
    if not names:
        return None
    # The `serve:` section belongs to cvibot serve; this reads only its delivery keys,
    # as a model or (before the section has its own model) a mapping.
    serve = getattr(bot.config, "serve", None)
    public_url = _member(serve, "public_url")
    options = _member(serve, "delivery_api")
    secret = _member(options, "secret")
    if hasattr(secret, "get_secret_value"):
        secret = secret.get_secret_value()
    timeout = _member(options, "timeout")
    which = f"tool(s) {', '.join(names)} have delivery: api"
    if not public_url:
        raise bot.loaded.error(
            f"{which}: set serve.public_url, the https:// address where Tavus reaches cvibot serve",
            "serve",
            "public_url",
        )
    if not secret:
        raise bot.loaded.error(
            f"{which}: set serve.delivery_api.secret, the HMAC secret Tavus signs their "
            "requests with",
            "serve",
            "delivery_api",
            "secret",
        )
    try:
        return ApiDelivery(
            str(public_url), str(secret), 10.0 if timeout is None else float(timeout)
        )
    except (TypeError, ValueError) as exc:
        raise bot.loaded.error(f"{which}: {exc}", "serve", "public_url") from None


def _member(section: Any, name: str) -> Any:
    if section is None:
        return None
    if isinstance(section, dict):
        return section.get(name)
    return getattr(section, name, None)


def _interactive() -> bool:
    """Whether a human can answer a question (both stdin and stdout are terminals)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _persona_id(bot: Bot, given: str | None) -> str:
    if given:
        return given
    settings = bot.config.tavus.sync
    if settings.persona_id:
        return settings.persona_id
    create = bot.config.conversation.create
    if create is not None:
        return create.persona_id
    raise bot.loaded.error(
        "tools sync needs the persona (PAL) to sync: set tavus.sync.persona_id "
        "(or conversation.create.persona_id), or pass --persona-id",
        "tavus",
        "sync",
        "persona_id",
    )


async def _sync(
    api: TavusClient,
    specs: Sequence[ToolSpec],
    target: Target,
    persona_id: str,
    *,
    dry_run: bool,
    ask: bool,
    delivery_api: ApiDelivery | None = None,
) -> int:
    """Read, plan, print, apply; the exit status."""
    from cvibot._sync import (
        ApplyFailed,
        LimitsExceeded,
        apply_plan,
        read_plan,
        render_applied,
        render_partial,
        render_plan,
        render_problems,
    )
    from cvibot.tavus import TavusAPIError

    async with api:
        try:
            plan = await read_plan(
                api, specs, target=target, persona_id=persona_id, delivery_api=delivery_api
            )
        except TavusAPIError as exc:
            click.echo(f"error: {exc}", err=True)
            return EXIT_RUNTIME
        except LimitsExceeded as exc:  # delivery: api tools on the persona target
            header, *rest = render_problems(exc.problems)
            click.echo(f"error: {header}", err=True)
            _echo(rest, err=True)
            return EXIT_CONFIG
        _echo(render_plan(plan))
        if plan.empty:
            return 0
        if dry_run:
            click.echo("dry run: nothing was sent to Tavus")
            return 0
        if ask and not click.confirm("Apply these changes?", default=False):
            click.echo("error: not applied: nothing was changed", err=True)
            return EXIT_RUNTIME
        try:
            applied = await apply_plan(api, plan)
        except ApplyFailed as exc:
            _echo(render_partial(exc.applied), err=True)
            click.echo(f"error: {exc}", err=True)
            return EXIT_RUNTIME
        _echo(render_applied(plan, applied))
    return 0
