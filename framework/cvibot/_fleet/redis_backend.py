"""``RedisBackend``: the fleet backend on Redis Streams, one per host process.

Jobs wait in one stream read by one consumer group. A host reads (``XREADGROUP``) only
while it has a free slot, at most ``claim_batch`` at a time, and every ``reclaim_every``
looks for jobs whose host died (``XAUTOCLAIM`` past ``lease``, cursor kept). A job is
held through its lease key (``SET PX`` with a fencing counter, script ``ACQUIRE``),
renewed every ``renew_every`` in one pipeline per tick; a host that could not renew
within 0.9 × lease marks its holds lost and leaves. Stops reach the holder at its next
renewal (the ``stop`` flag) or at once through pub/sub.

Worker ids are per incarnation (``host:pid:random``): a restarted process never inherits
a dead one's pending entries, which go through the lease path like anyone's.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import structlog

try:
    import redis.asyncio as aioredis
    from redis.commands.core import AsyncScript
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # an optional dependency: cvibot's serve extra
    raise ImportError("the redis fleet backend needs redis: pip install 'cvibot[serve]'") from exc

from cvibot._fleet.options import FleetOptions
from cvibot._fleet.ownership import RedisOwnership
from cvibot._fleet.records import (
    MalformedJob,
    check_conversation_id,
    decode_job,
    encode_job,
    to_record,
)
from cvibot._fleet.scripts import (
    ACQUIRE,
    CLAIM_CALL,
    COMPLETE,
    ENQUEUE,
    JOINED,
    RELEASE,
    RENEW,
    STOP,
    FleetKeys,
)
from cvibot._fleet.upkeep import control_loop, renew_loop, watchdog_loop
from cvibot.serve._backend import (
    AlreadyEnded,
    BackendError,
    ConversationRecord,
    ConversationState,
    Job,
    Ownership,
    Slots,
    host_id,
)

__all__ = ["RedisBackend"]

_log: structlog.typing.FilteringBoundLogger = structlog.get_logger("cvibot.fleet").bind()

#: A finished conversation's record is kept this long (s): late webhooks and API retries
#: find it and do not enqueue it again.
RECORD_TTL = 86_400
#: Consumers of dead incarnations with nothing pending are deleted after this idle (ms).
_CONSUMER_IDLE_MS = 3_600_000
_JANITOR_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class _Scripts:
    enqueue: AsyncScript
    acquire: AsyncScript
    renew: AsyncScript
    joined: AsyncScript
    claim_call: AsyncScript
    complete: AsyncScript
    release: AsyncScript
    stop: AsyncScript


@contextlib.contextmanager
def _as_backend_error(doing: str) -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise BackendError(f"redis: cannot {doing}: {exc}") from exc


class RedisBackend:
    """Implements :class:`~cvibot.serve._backend.Backend` on Redis ≥ 7.0 (redis-py asyncio,
    one ``BlockingConnectionPool`` of ``max_connections``).

    - ``worker_id``: this host's consumer name and lease owner; default
      :func:`~cvibot.serve._backend.host_id`.
    - ``clock``: Unix time in seconds, stored in the records (``enqueued_at`` ...).
    """

    name = "redis"

    def __init__(
        self,
        options: FleetOptions,
        *,
        worker_id: str | None = None,
        clock: Callable[[], float] = time.time,
        max_connections: int = 32,
    ) -> None:
        self.options = options
        self.worker_id = worker_id or host_id()
        self.keys = FleetKeys(options.key_prefix)
        self.record_ttl = RECORD_TTL
        #: An entry is reclaimed once idle this long (ms): the lease and the idle time are
        #: reset by the same script, so a small margin keeps a reclaim from landing in the
        #: millisecond where the lease still lives (it would wait one more tick).
        self.min_idle_ms = options.lease_ms + 20
        self._clock = clock
        self._max_connections = max_connections
        self._client: aioredis.Redis | None = None
        self._scripts: _Scripts | None = None
        self._held: dict[str, RedisOwnership] = {}
        self._draining = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._cursor = "0-0"
        self._last_contact = time.monotonic()
        #: Seconds without an answer from Redis after which :meth:`unreachable` says so:
        #: one renewal missed (``2 × renew_every``, at most ``lease``).
        self.unready_after = 2 * options.renew_every
        self.closed = False

    # -- plumbing ------------------------------------------------------------------------

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise BackendError("the redis backend is not started")
        return self._client

    @property
    def scripts(self) -> _Scripts:
        if self._scripts is None:
            raise BackendError("the redis backend is not started")
        return self._scripts

    def now(self) -> str:
        """Unix time as stored in the records."""
        return f"{self._clock():.6f}"

    def held(self) -> list[RedisOwnership]:
        """The jobs this host holds now."""
        return list(self._held.values())

    def holding(self, conversation_id: str) -> RedisOwnership | None:
        """This host's hold on the conversation, if it has one."""
        return self._held.get(conversation_id)

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def contact(self, sent: float) -> None:
        """Redis answered a request sent at ``sent`` (monotonic seconds)."""
        self._last_contact = max(self._last_contact, sent)

    def unreachable(self) -> str | None:
        """Why Redis counts as unreachable: no renewal round trip (sent every
        ``renew_every``, held jobs or not) answered for ``unready_after`` seconds;
        ``None`` while it answers, and before :meth:`start` and after :meth:`close`."""
        if self._client is None:
            return None
        silent = time.monotonic() - self._last_contact
        if silent <= self.unready_after:
            return None
        return f"redis has not answered for {silent:.1f} s"

    def forget(self, ownership: RedisOwnership) -> None:
        if self._held.get(ownership.conversation_id) is ownership:
            del self._held[ownership.conversation_id]

    async def start(self) -> None:
        """Connect, check the server, create the consumer group, start the renewal, the
        watchdog and the stop listener. :class:`BackendError` when Redis cannot be used."""
        lease_s = self.options.lease
        pool = aioredis.BlockingConnectionPool.from_url(
            self.options.url,
            decode_responses=True,
            max_connections=self._max_connections,
            timeout=10,
            socket_timeout=max(5.0, lease_s),
            socket_connect_timeout=5.0,
        )
        client = aioredis.Redis(connection_pool=pool)
        try:
            with _as_backend_error("connect"):
                info = await client.info("server")
                version = str(info.get("redis_version", "0"))
                if _version(version) < (7, 0):
                    raise BackendError(f"redis {version} is too old: the fleet needs 7.0 or newer")
                await self._create_group(client)
        except BaseException:
            await client.aclose()
            await pool.aclose()
            raise
        self._client = client
        self._last_contact = time.monotonic()
        reg = client.register_script
        self._scripts = _Scripts(
            enqueue=reg(ENQUEUE),
            acquire=reg(ACQUIRE),
            renew=reg(RENEW),
            joined=reg(JOINED),
            claim_call=reg(CLAIM_CALL),
            complete=reg(COMPLETE),
            release=reg(RELEASE),
            stop=reg(STOP),
        )
        for loop in (renew_loop, watchdog_loop, control_loop):
            self._tasks.append(
                asyncio.create_task(loop(self), name=f"cvibot-fleet-{loop.__name__}")
            )
        _log.info(
            "fleet backend started",
            worker_id=self.worker_id,
            redis=version,
            stream=self.keys.stream,
            group=self.options.group,
        )

    async def _create_group(self, client: aioredis.Redis) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists already
            await client.xgroup_create(self.keys.stream, self.options.group, id="0", mkstream=True)

    async def close(self) -> None:
        """Stop the background tasks and disconnect. Held jobs are left to their leases."""
        self.closed = True
        self._draining.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # redis-py's PubSub.get_message can swallow a cancellation; the loop then sees
            # ``closed`` within its one-second poll.
            await asyncio.wait(self._tasks, timeout=3.0)
        self._tasks.clear()
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
            await client.connection_pool.aclose()

    # -- fleet-wide state ----------------------------------------------------------------

    async def enqueue(self, job: Job) -> ConversationRecord:
        """Script ``ENQUEUE``: idempotent by ``conversation_id``; :class:`AlreadyEnded`
        for a conversation that ended less than 24 h ago."""
        cid = check_conversation_id(job.conversation_id)
        # One time for the record and the job, rounded as the record stores it.
        at = round(job.enqueued_at or self._clock(), 6)
        job = dataclasses.replace(job, enqueued_at=at)
        with _as_backend_error("enqueue"):
            created, _status = await self.scripts.enqueue(
                keys=[self.keys.stream, self.keys.conv(cid), self.keys.index],
                args=[
                    cid,
                    encode_job(job),
                    job.meeting_token or "",
                    f"{at:.6f}",
                    job.source,
                    self.record_ttl,
                ],
            )
        record = await self.get(cid)
        if record is None:  # expired between the two calls: report what the script saw
            return ConversationRecord(cid, "queued" if created else "ended", source=job.source)
        if not created and record.terminal:
            raise AlreadyEnded(record)
        return record

    async def stop(self, conversation_id: str, reason: str) -> ConversationRecord | None:
        """Script ``STOP``: a queued job becomes ``stopped`` (never joined); a held one
        is flagged and its holder told through pub/sub; it leaves within ``renew_every``."""
        try:
            cid = check_conversation_id(conversation_id)
        except ValueError:
            return None
        with _as_backend_error("stop"):
            found, _status = await self.scripts.stop(
                keys=[self.keys.conv(cid), self.keys.index],
                args=[reason, self.now(), cid, self.record_ttl, self.keys.control],
            )
        if not found:
            return None
        local = self._held.get(cid)
        if local is not None:
            local.stop_requested.set()
        return await self.get(cid)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        try:
            cid = check_conversation_id(conversation_id)
        except ValueError:
            return None
        with _as_backend_error("read a conversation"):
            fields = await self.client.hgetall(self.keys.conv(cid))
        return to_record(cid, cast(dict[str, str], fields))

    async def list(
        self, state: ConversationState | None = None, limit: int = 100
    ) -> list[ConversationRecord]:
        """Records from the index, most recently updated first; expired ones are dropped
        from the index on the way."""
        found: list[ConversationRecord] = []
        start, page = 0, max(limit, 100)
        with _as_backend_error("list conversations"):
            while len(found) < limit:
                cids = cast(
                    builtins.list[str],
                    await self.client.zrevrange(self.keys.index, start, start + page - 1),
                )
                if not cids:
                    break
                async with self.client.pipeline(transaction=False) as pipe:
                    for cid in cids:
                        pipe.hgetall(self.keys.conv(cid))
                    hashes: list[dict[str, str]] = await pipe.execute()
                gone = [cid for cid, fields in zip(cids, hashes, strict=True) if not fields]
                if gone:
                    await self.client.zrem(self.keys.index, *gone)
                for cid, fields in zip(cids, hashes, strict=True):
                    record = to_record(cid, fields)
                    if record is not None and (state is None or record.state == state):
                        found.append(record)
                start += page - len(gone)
        return found[:limit]

    # -- claiming ------------------------------------------------------------------------

    def drain(self) -> None:
        """Stop reading; :meth:`jobs` ends after giving back what a read in flight brings."""
        self._draining.set()

    async def jobs(self, slots: Slots) -> AsyncIterator[tuple[Job, Ownership]]:
        """The claim loop: reads only while ``slots.free() > 0``,
        at most ``claim_batch`` per read; reclaims every ``reclaim_every``. Each entry is
        acquired in one pipeline per read, and given back instead of yielded when a slot was
        taken meanwhile, the host drains or the iteration is closed."""
        opts = self.options
        last_reclaim = last_janitor = -1e9
        backoff = 0.1
        while not self._draining.is_set():
            free = slots.free()
            if free <= 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(1.0, opts.reclaim_every)):
                        await slots.wait_free()
                continue
            batch = min(free, opts.claim_batch)
            entries: list[tuple[str, dict[str, str] | None]] = []
            try:
                now = time.monotonic()
                if now - last_reclaim >= opts.reclaim_every:
                    last_reclaim = now
                    entries += await self._reclaim(batch)
                    if len(entries) == batch:
                        # A dead host's jobs may be waiting: go on at the next turn
                        # instead of after reclaim_every.
                        last_reclaim = -1e9
                if now - last_janitor >= _JANITOR_EVERY:
                    last_janitor = now
                    await self._delete_dead_consumers()
                if len(entries) < batch:
                    wait = opts.reclaim_every - (time.monotonic() - last_reclaim)
                    block_ms = int(min(1.0, max(0.01, wait)) * 1000)
                    entries += await self._read(batch - len(entries), block_ms)
                backoff = 0.1
            except (RedisError, OSError) as exc:
                if "NOGROUP" in str(exc):  # Redis lost its data (restarted without persistence)
                    with contextlib.suppress(RedisError, OSError):
                        await self._create_group(self.client)
                _log.warning("fleet read failed; retrying", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            room = 0 if self._draining.is_set() else slots.free()
            for entry, _fields in entries[room:]:
                await self._give_back(entry, idle_ms=self.min_idle_ms)
            got = await self._acquire_batch(entries[:room])
            try:
                while got:
                    if self._draining.is_set() or slots.free() <= 0:
                        break
                    yield got.pop(0)
            finally:  # not yielded (drain, a slot taken meanwhile, the loop closed)
                for _job, ownership in got:
                    await ownership.release()
        _log.info("fleet claim loop ended", worker_id=self.worker_id)

    async def _read(
        self, count: int, block_ms: int
    ) -> builtins.list[tuple[str, dict[str, str] | None]]:
        reply: Any = await self.client.xreadgroup(
            self.options.group,
            self.worker_id,
            {self.keys.stream: ">"},
            count=count,
            block=block_ms,
        )
        if not reply:
            return []
        # RESP2: [[stream, [(id, fields), …]]]; RESP3: {stream: [[(id, fields), …]]}
        if isinstance(reply, dict):
            return [e for streams in reply.values() for batch in streams for e in batch]
        return [e for _stream, batch in reply for e in batch]

    async def _reclaim(self, count: int) -> builtins.list[tuple[str, dict[str, str] | None]]:
        """``XAUTOCLAIM`` of entries idle past ``lease``, from the kept cursor until
        ``count`` are claimed or the scan wraps to 0-0. One call looks at no more than
        10 × COUNT pending entries, so a single call per tick would leave a large PEL's
        tail unseen for several ticks and break the take-over bound. Called without
        JUSTID: redis-py then drops the cursor."""
        claimed: list[tuple[str, dict[str, str] | None]] = []
        for _ in range(1000):  # a bound: 1000 × 10 × COUNT entries looked at
            reply = await self.client.xautoclaim(
                self.keys.stream,
                self.options.group,
                self.worker_id,
                min_idle_time=self.min_idle_ms,
                start_id=self._cursor,
                count=count - len(claimed),
            )
            self._cursor = str(reply[0])
            claimed += reply[1]
            if len(claimed) >= count or self._cursor == "0-0":
                break
        if claimed:
            _log.info("reclaimed jobs of a silent host", count=len(claimed))
        return claimed

    async def _delete_dead_consumers(self) -> None:
        """Consumers of past incarnations with nothing pending (never one with pending
        entries: those would become unclaimable)."""
        consumers = await self.client.xinfo_consumers(self.keys.stream, self.options.group)
        for consumer in consumers:
            name = consumer.get("name")
            if (
                name != self.worker_id
                and int(consumer.get("pending", 1)) == 0
                and int(consumer.get("idle", 0)) > _CONSUMER_IDLE_MS
            ):
                await self.client.xgroup_delconsumer(
                    self.keys.stream, self.options.group, str(name)
                )

    async def _give_back(self, entry: str, idle_ms: int) -> None:
        """An entry read but not acquired: set its idle time so that it is reclaimed as
        soon as ``idle_ms`` says (``XCLAIM … IDLE JUSTID``, on an entry this host owns)."""
        try:
            await self.client.xclaim(
                self.keys.stream,
                self.options.group,
                self.worker_id,
                min_idle_time=0,
                message_ids=[entry],
                idle=max(0, idle_ms),
                justid=True,
            )
        except RedisError as exc:
            _log.warning("cannot give a job back; it waits for its idle time", error=str(exc))

    async def _acquire_batch(
        self, entries: builtins.list[tuple[str, dict[str, str] | None]]
    ) -> builtins.list[tuple[Job, RedisOwnership]]:
        """``ACQUIRE`` of each entry, in one pipeline; the jobs now held."""
        opts = self.options
        valid: list[tuple[str, str, str]] = []  # entry, cid, job JSON
        for entry, fields in entries:
            cid, job_text = (fields or {}).get("cid", ""), (fields or {}).get("job", "")
            try:
                valid.append((entry, check_conversation_id(cid), job_text))
            except ValueError:
                _log.warning("dropping a stream entry that is not a job", entry=entry)
                with contextlib.suppress(RedisError):
                    await self.client.xack(self.keys.stream, opts.group, entry)
                    await self.client.xdel(self.keys.stream, entry)
        if not valid:
            return []
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for entry, cid, job_text in valid:
                    await self.scripts.acquire(
                        keys=[
                            self.keys.stream,
                            self.keys.conv(cid),
                            self.keys.lease(cid),
                            self.keys.dead,
                            self.keys.index,
                        ],
                        args=[
                            opts.group,
                            self.worker_id,
                            entry,
                            opts.lease_ms,
                            opts.max_attempts,
                            self.now(),
                            cid,
                            job_text,
                            self.record_ttl,
                        ],
                        client=pipe,
                    )
                replies: list[Any] = await pipe.execute(raise_on_error=False)
        except (RedisError, OSError) as exc:
            _log.warning("cannot acquire jobs; they wait for their idle time", error=str(exc))
            return []
        held = []
        for (entry, cid, job_text), reply in zip(valid, replies, strict=True):
            if isinstance(reply, Exception):
                _log.warning(
                    "cannot acquire a job; it waits for its idle time",
                    conversation_id=cid,
                    error=str(reply),
                )
                continue
            got = await self._settle(entry, cid, job_text, reply)
            if got is not None:
                held.append(got)
        return held

    async def _settle(
        self, entry: str, cid: str, job_text: str, reply: Any
    ) -> tuple[Job, RedisOwnership] | None:
        """Act on one ``ACQUIRE`` reply (see the script for its shapes)."""
        outcome = int(reply[0])
        if outcome == 0:
            # Claimable again exactly when the live lease can have expired.
            await self._give_back(entry, idle_ms=self.min_idle_ms - int(reply[1]))
            return None
        if outcome == -1:
            _log.info("dropped a job that is over", conversation_id=cid, status=reply[1] or None)
            return None
        if outcome == -2:
            _log.error(
                "job parked in the dead-letter stream", conversation_id=cid, takes=int(reply[1])
            )
            return None
        fence, attempts, token = int(reply[1]), int(reply[2]), str(reply[3])
        try:
            job = decode_job(job_text, meeting_token=token, attempts=attempts)
        except MalformedJob as exc:
            placeholder = Job(conversation_id=cid, conversation_url="", attempts=attempts)
            bad = RedisOwnership(self, placeholder, entry, fence)
            _log.error("malformed job", conversation_id=cid, error=str(exc))
            await bad.complete("failed", f"malformed job: {exc}")
            return None
        ownership = RedisOwnership(self, job, entry, fence)
        self._held[cid] = ownership
        return job, ownership


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)
