"""FleetAnswers (the fleet's store of delivery.api answers) on fakeredis: the claim, the
answer and the waits, in one process. The fleet-wide behaviour, on a real redis-server,
is in test_fleet_tools_api.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cvibot._fleet.api_answers import (
    AnswerStoreUnavailable,
    FleetAnswers,
    decode_answer,
    encode_answer,
)
from cvibot._fleet.options import FleetOptions
from cvibot._fleet.scripts import FleetKeys
from cvibot.serve._api_calls import ApiAnswer
from cvibot.serve._backend import BackendError

fakeredis = pytest.importorskip("fakeredis")

KEYS = FleetKeys(FleetOptions().key_prefix)
ANSWER = ApiAnswer(200, '{"ok": "é"}', "application/json", "success", "lookup_order")


@pytest.fixture
async def r() -> AsyncIterator[object]:
    client = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    yield client
    await client.aclose()


def store(r: object, worker: str, ttl: float = 60) -> FleetAnswers:
    return FleetAnswers(lambda: r, KEYS, worker_id=worker, ttl=ttl)  # type: ignore[arg-type,return-value]


async def test_one_claim_wins_and_its_answer_is_what_the_others_get(r: object) -> None:
    a, b = store(r, "a"), store(r, "b")
    key = a.key("c1", "tc1")
    assert key == b.key("c1", "tc1") and key.startswith("{cvibot:conversations}:api:")
    assert key != a.key("c1", "tc2") and key != a.key("c2", "tc1")
    assert await a.claim(key, running_for=10)
    assert not await b.claim(key, running_for=10)
    assert await r.get(key) == "claim a"  # type: ignore[attr-defined]
    waited = await b.wait(key, within=0.05)
    assert (waited.answer, waited.why) == (None, "pending")
    assert await a.store(key, ANSWER)
    waited = await b.wait(key, within=1)
    assert (waited.answer, waited.why) == (ANSWER, "answered")
    assert not await b.claim(key, running_for=10)  # answered: never claimed again


async def test_the_claim_outlives_the_longest_run_and_the_answer_lives_ttl(r: object) -> None:
    a = store(r, "a", ttl=5)
    key = a.key("c1", "tc1")
    assert await a.claim(key, running_for=30)
    assert 29_000 < await r.pttl(key) <= 30_000  # type: ignore[attr-defined]
    await a.store(key, ANSWER)
    assert 4_000 < await r.pttl(key) <= 5_000  # type: ignore[attr-defined]


async def test_a_key_that_is_gone_means_the_claimer_died(r: object) -> None:
    waited = await store(r, "b").wait(store(r, "b").key("c1", "tc1"), within=1)
    assert (waited.answer, waited.why) == (None, "gone")


async def test_an_unreadable_answer_is_gone_not_served(r: object) -> None:
    a = store(r, "a")
    key = a.key("c1", "tc1")
    await r.set(key, "{not json")  # type: ignore[attr-defined]
    assert (await a.wait(key, within=1)).why == "gone"


def test_answers_round_trip_and_bad_ones_are_refused() -> None:
    assert decode_answer(encode_answer(ANSWER)) == ANSWER
    for bad in ("[]", '{"status": "200", "media_type": "x", "text": ""}', '{"status": 200}'):
        with pytest.raises(ValueError):
            decode_answer(bad)


async def test_no_redis_is_unavailable_for_the_claim_and_the_wait() -> None:
    def broken() -> object:
        raise BackendError("the redis backend is not started")

    answers = FleetAnswers(broken, KEYS, worker_id="a", ttl=60)  # type: ignore[arg-type]
    with pytest.raises(AnswerStoreUnavailable):
        await answers.claim("k", running_for=1)
    with pytest.raises(AnswerStoreUnavailable):
        await answers.wait("k", within=0.05)
    assert not await answers.store("k", ANSWER, within=0.1)


def test_a_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FleetAnswers(lambda: None, KEYS, worker_id="a", ttl=0)  # type: ignore[arg-type,return-value]
