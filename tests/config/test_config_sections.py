"""The config's defaults/dispatch, trust and daily-transport sections are the runtime's
own frozen types (or made from them): one declaration, one set of checks."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from config_helpers import LoadError, LoadText
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cvibot._dispatch import DispatchPolicy, WaitingBound
from cvibot._dispatch.policy import section_keys
from cvibot._participants import ReplicaRule, TrustPolicy
from cvibot.config import BotConfig, DailyTransportConfig, Defaults, DispatchConfig
from cvibot.transports._daily import DailyOptions, DailyTransport, ReconnectPolicy


def test_the_sections_hold_every_policy_field_but_the_shared_bound() -> None:
    defaults, dispatch = section_keys("defaults"), section_keys("dispatch")
    assert list(Defaults.model_fields) == list(defaults.values())
    assert list(DispatchConfig.model_fields) == list(dispatch.values())
    assert defaults == {
        "default_reply": "reply",
        "perception_reply": "perception_reply",
        "default_timeout": "timeout",
        "cancel_on_interrupt": "cancel_on_interrupt",
    }
    fields = {f.name for f in dataclasses.fields(DispatchPolicy)}
    assert fields == {*defaults, *dispatch, "waiting"}


def test_from_sections_reads_every_key(load_text: LoadText) -> None:
    config = load_text(
        """
        transport: {type: replay, path: rec.jsonl}
        defaults:
          reply: echo
          perception_reply: append_context
          timeout: 4
          cancel_on_interrupt: true
        dispatch:
          max_concurrent_calls: 5
          max_concurrent_per_tool: 2
          max_waiting_calls: 7
          max_waiting_calls_total: 9
          sync_workers: 3
          max_sync_threads: 6
          observer_queue: 11
          loop_warn_after: null
          message_limit: 2048
          on_oversize: error
          shutdown_grace: 1.5
        """
    ).config
    policy = DispatchPolicy.from_sections(defaults=config.defaults, dispatch=config.dispatch)
    assert policy == DispatchPolicy(
        default_reply="echo",  # type: ignore[arg-type]
        perception_reply="append_context",  # type: ignore[arg-type]
        default_timeout=4.0,
        cancel_on_interrupt=True,
        max_concurrent_calls=5,
        max_concurrent_per_tool=2,
        max_waiting_calls=7,
        max_waiting_calls_total=9,
        sync_workers=3,
        max_sync_threads=6,
        observer_queue=11,
        loop_warn_after=None,
        message_limit=2048,
        on_oversize="error",
        shutdown_grace=1.5,
    )
    assert isinstance(policy.waiting, WaitingBound) and policy.waiting.limit == 9


@pytest.mark.parametrize(
    "values",
    [
        {"max_concurrent_calls": 0},
        {"message_limit": 255},
        {"default_timeout": 0},
        {"default_timeout": 3600.5},
        {"sync_workers": 8, "max_sync_threads": 4},
        {"on_oversize": "drop"},
    ],
)
def test_the_runtime_policy_refuses_what_the_config_refuses(values: dict[str, Any]) -> None:
    # Before, DispatchPolicy was an unchecked copy: these built a policy that the config
    # would have refused.
    with pytest.raises(ValidationError):
        DispatchPolicy(**values)


@given(
    workers=st.integers(-2, 40),
    threads=st.integers(-2, 40),
    calls=st.integers(-2, 40),
    limit=st.integers(0, 5000),
)
def test_config_and_policy_agree(workers: int, threads: int, calls: int, limit: int) -> None:
    section = {
        "sync_workers": workers,
        "max_sync_threads": threads,
        "max_concurrent_calls": calls,
        "message_limit": limit,
    }
    try:
        DispatchConfig.model_validate(section)
        config_ok = True
    except ValidationError:
        config_ok = False
    try:
        DispatchPolicy(**section)
        policy_ok = True
    except ValidationError:
        policy_ok = False
    assert config_ok == policy_ok


def test_the_trust_section_is_the_trust_policy(load_text: LoadText) -> None:
    config = load_text(
        "transport: {type: replay, path: rec.jsonl}\n"
        "trust: {senders: any, answer_to: replica, replica: {user_names: [Anna]}}\n"
    ).config
    assert config.trust == TrustPolicy(
        senders="any", answer_to="replica", replica=ReplicaRule(user_names=["Anna"])
    )
    assert BotConfig.model_fields["trust"].annotation is TrustPolicy


def test_an_empty_replica_marker_is_refused_at_runtime_too() -> None:
    # "" is in every user_id: an empty marker would make any participant the replica.
    with pytest.raises(ValidationError):
        ReplicaRule(user_id_contains=[""])
    with pytest.raises(ValidationError):
        TrustPolicy(senders="everyone")  # type: ignore[arg-type]


def test_a_max_backoff_below_the_initial_one_is_a_located_config_error(
    load_error: LoadError,
) -> None:
    # Before, the config accepted it and building the transport raised a bare ValueError.
    err = load_error(
        "transport:\n  type: daily\n  reconnect:\n    initial_backoff: 20\n    max_backoff: 10\n"
    )
    assert (err.line, err.key) == (5, "transport.reconnect.max_backoff")
    assert "at least initial_backoff (20)" in err.message


def test_the_daily_section_is_the_daily_options() -> None:
    assert issubclass(DailyTransportConfig, DailyOptions)
    assert set(DailyTransportConfig.model_fields) == {*DailyOptions.model_fields, "type"}
    with pytest.raises(ValidationError):
        ReconnectPolicy(max_attempts=0)


def test_the_transport_is_built_from_the_options() -> None:
    options = DailyTransportConfig.model_validate(
        {
            "type": "daily",
            "user_name": "shop-bot",
            "join_timeout": 2,
            "send_timeout": 3,
            "reconnect": {"max_attempts": 2, "initial_backoff": 0.1, "max_backoff": 0.2},
        }
    )
    url = "https://tavus.daily.co/c0ffee"
    transport = DailyTransport.from_options(
        url, options, meeting_token="created", message_limit=999
    )
    assert (transport.user_name, transport.join_timeout, transport.send_timeout) == (
        "shop-bot",
        2.0,
        3.0,
    )
    assert transport.leave_timeout == 5.0 and transport.message_limit == 999
    assert transport.reconnect == options.reconnect
    assert transport._address.token == "created"
    configured = DailyTransportConfig.model_validate(
        {**options.model_dump(), "meeting_token": "from-config"}
    )
    chosen = DailyTransport.from_options(url, configured, meeting_token="created")
    assert chosen._address.token == "from-config"
