"""Many deadlines behind one loop timer: each fires once, in order, never early, never
once cancelled; cancelled ones do not pile up."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvibot._deadlines import Deadlines


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plan=st.lists(
        st.tuples(st.integers(min_value=0, max_value=15), st.booleans()), min_size=1, max_size=30
    )
)
def test_each_live_deadline_fires_once_in_order_and_never_early(
    plan: list[tuple[int, bool]],
) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        deadlines = Deadlines()
        fired: list[tuple[int, float, float]] = []
        start = loop.time()
        tokens = []
        for index, (delay_ms, _) in enumerate(plan):
            when = start + delay_ms / 1000

            def record(arg: tuple[int, float]) -> None:
                fired.append((arg[0], arg[1], loop.time()))

            tokens.append(deadlines.add(when, record, (index, when)))
        for token, (_, cancel) in zip(tokens, plan, strict=True):
            if cancel:
                deadlines.cancel(token)
                deadlines.cancel(token)  # twice is harmless
        await asyncio.sleep(0.05)
        live = [index for index, (_, cancel) in enumerate(plan) if not cancel]
        expected = sorted(live, key=lambda index: (plan[index][0], index))
        assert [index for index, _, _ in fired] == expected
        # Never before its time (the loop's clock resolution aside).
        assert all(at >= when - 1e-3 for _, when, at in fired)
        assert len(deadlines) == 0
        deadlines.close()

    asyncio.run(scenario())


async def test_a_fired_or_cancelled_token_cannot_fire_again() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    fired: list[str] = []
    token = deadlines.add(loop.time(), fired.append, "once")
    await asyncio.sleep(0.01)
    deadlines.cancel(token)  # after it fired: a no-op
    await asyncio.sleep(0.01)
    assert fired == ["once"]


async def test_cancelled_deadlines_are_compacted() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    far = loop.time() + 3600
    tokens = [deadlines.add(far + i, print, i) for i in range(5000)]
    for token in tokens[:4990]:
        deadlines.cancel(token)
    # At most as many cancelled entries as live ones, plus a small slack.
    assert len(deadlines) <= 2 * 10 + 64 + 1
    deadlines.close()
    assert len(deadlines) == 0


async def test_a_raising_callback_is_reported_and_the_others_still_run() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    deadlines = Deadlines()
    fired: list[int] = []

    def boom(_: object) -> None:
        raise RuntimeError("boom")

    now = loop.time()
    deadlines.add(now, boom, None)
    deadlines.add(now, fired.append, 1)
    await asyncio.sleep(0.01)
    assert fired == [1]
    assert isinstance(reported[0]["exception"], RuntimeError)


async def test_a_callback_may_add_an_earlier_deadline_than_the_next_one() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    fired: list[str] = []
    now = loop.time()

    def chain(_: object) -> None:
        fired.append("first")
        deadlines.add(loop.time() + 0.2, fired.append, "late")  # armed first, for later

    deadlines.add(now, chain, None)
    deadlines.add(now + 0.02, fired.append, "second")
    await asyncio.sleep(0.06)
    assert fired == ["first", "second"]
    deadlines.close()


def test_a_deadline_added_on_a_new_loop_fires_there() -> None:
    deadlines = Deadlines()
    fired: list[str] = []

    async def first() -> None:
        loop = asyncio.get_running_loop()
        deadlines.add(loop.time() + 0.01, fired.append, "first")  # its loop ends before

    async def second() -> None:
        loop = asyncio.get_running_loop()
        deadlines.add(loop.time() + 0.03, fired.append, "second")  # later than the first
        await asyncio.sleep(0.08)

    asyncio.run(first())  # its timer dies with its loop
    asyncio.run(second())
    assert fired == ["first", "second"]
    deadlines.close()
