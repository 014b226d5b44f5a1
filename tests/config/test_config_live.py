"""The live-conversation keys: the daily transport, conversation url/create, tavus, trust."""

from __future__ import annotations

from config_helpers import LoadError, LoadText

from cvibot.config import DailyTransportConfig


def test_daily_transport_defaults_and_secret_token(load_text: LoadText) -> None:
    loaded = load_text(
        """
        transport: {type: daily, meeting_token: "${TOKEN}", join_timeout: 2.5}
        conversation: {url: "https://tavus.daily.co/c0ffee", id: c0ffee}
        """,
        {"TOKEN": "tok-123"},
    )
    t = loaded.config.transport
    assert isinstance(t, DailyTransportConfig)
    assert (t.user_name, t.join_timeout, t.leave_timeout, t.send_timeout) == (
        "cvibot",
        2.5,
        5.0,
        5.0,
    )
    assert t.reconnect.enabled and t.reconnect.max_attempts == 5
    assert t.meeting_token is not None and t.meeting_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(loaded.config)
    assert str(loaded.config.conversation.url) == "https://tavus.daily.co/c0ffee"


def test_tavus_api_key_is_secret_and_base_url_defaults(load_text: LoadText) -> None:
    loaded = load_text(
        "transport: {type: daily}\ntavus: {api_key: '${TAVUS_API_KEY}'}\n",
        {"TAVUS_API_KEY": "sk-secret"},
    )
    tavus = loaded.config.tavus
    assert tavus.api_key is not None and tavus.api_key.get_secret_value() == "sk-secret"
    assert "sk-secret" not in repr(loaded.config) and "sk-secret" not in str(loaded.config)
    assert str(tavus.base_url) == "https://tavusapi.com/v2"


def test_create_conversation_fields(load_text: LoadText) -> None:
    loaded = load_text(
        """
        transport: {type: daily}
        conversation:
          create:
            persona_id: p123
            replica_id: r456
            name: Support
            greeting: Hi there
            callback_url: https://example.com/hook
            properties: {max_call_duration: 600}
        """
    )
    create = loaded.config.conversation.create
    assert create is not None
    assert (create.persona_id, create.replica_id, create.greeting) == ("p123", "r456", "Hi there")
    assert create.properties == {"max_call_duration": 600}
    assert create.end_on_exit is True and create.test_mode is False


def test_url_and_create_exclude_each_other(load_error: LoadError) -> None:
    err = load_error(
        """
        transport: {type: daily}
        conversation:
          url: https://tavus.daily.co/x
          create: {persona_id: p1}
        """
    )
    assert (err.line, err.key) == (5, "conversation.create")
    assert "either 'url' or 'create'" in err.message


def test_created_conversation_takes_no_id(load_error: LoadError) -> None:
    err = load_error(
        "transport: {type: daily}\nconversation:\n  id: c1\n  create: {persona_id: p1}\n"
    )
    assert (err.line, err.key) == (3, "conversation.id")


def test_bad_daily_keys_are_located(load_error: LoadError) -> None:
    err = load_error("transport:\n  type: daily\n  join_timeout: 0\n")
    assert (err.line, err.key) == (3, "transport.join_timeout")
    err = load_error("transport: {type: daily, reconnect: {max_attempts: 0}}\n")
    assert err.key == "transport.reconnect.max_attempts"
    err = load_error("transport: {type: daily}\nconversation: {url: not-a-url}\n")
    assert (err.line, err.key) == (2, "conversation.url")


def test_trust_defaults_and_choices(load_text: LoadText, load_error: LoadError) -> None:
    trust = load_text("transport: {type: daily}\n").config.trust
    assert (trust.senders, trust.answer_to) == ("replica", "broadcast")
    assert trust.replica.user_id_contains == ["tavus-replica"]
    err = load_error("transport: {type: daily}\ntrust: {senders: everyone}\n")
    assert (err.line, err.key) == (2, "trust.senders")
    assert "replica" in err.message and "any" in err.message


def test_example_config_documents_every_key() -> None:
    """Each key of every config model is written (or shown commented) in the example."""
    import re
    import types
    import typing
    from pathlib import Path

    from pydantic import BaseModel

    from cvibot.config import BotConfig

    text = (Path(__file__).parents[2] / "config.example.yaml").read_text(encoding="utf-8")
    written = set(re.findall(r"^[#\s]*([a-z_]+):", text, flags=re.MULTILINE))

    def models(annotation: object) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
            return [m for arg in typing.get_args(annotation) for m in models(arg)]
        return []

    missing: set[str] = set()
    todo: list[type[BaseModel]] = [BotConfig]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            # PluginEntry's keys are shown through its shorthand forms.
            if name not in written and model.__name__ != "PluginEntry":
                missing.add(f"{model.__name__}.{name}")
            todo.extend(models(info.annotation))
    assert not missing
