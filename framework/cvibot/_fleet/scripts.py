"""The fleet's Lua scripts and key names: every change of a job's state is one script.

Each script runs atomically in Redis, so a check ("is the lease still mine?") and the
change it guards cannot be split by another host. All keys share the hash tag of the
stream (``{<stream>}``) and therefore one Redis Cluster slot (docs/configuration.md,
"Fleet on Redis Streams"):

======================== ======== ======================================================
key                      type     contents
======================== ======== ======================================================
``{S}``                  stream   one entry per queued or held job: ``cid``, ``job`` (JSON)
``{S}:conv:<cid>``       hash     ``status owner fence entry attempts tries stop source
                                  enqueued_at claimed_at joined_at ended_at reason
                                  tool_calls token updated_at``
``{S}:lease:<cid>``      string   ``<worker_id>:<fence>``, ``PX lease``: the only proof of
                                  ownership
``{S}:call:<cid>:<key>`` string   the lease token that answered the tool call (10 min)
``{S}:dead``             stream   jobs parked after ``max_attempts`` (``MAXLEN ~ 10000``)
``{S}:index``            zset     cid → last update (Unix s), for listing without ``SCAN``
``{S}:worker:<id>``      hash     a live host: capacity, held, draining (``PX 3 × renew``)
``{S}:ctl``              channel  ``stop <cid>`` nudges (pub/sub; the stop flag is the truth)
``{S}:api:<sha256>``     string   a ``delivery.api`` call: ``claim <worker_id>``, then its
                                  answer (JSON); not scripted (:mod:`.api_answers`)
======================== ======== ======================================================

``attempts`` counts every take of the job (more than 1: it was taken over); ``tries``
counts the takes since the last successful join and decides the dead letter.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACQUIRE",
    "CLAIM_CALL",
    "COMPLETE",
    "ENQUEUE",
    "JOINED",
    "RELEASE",
    "RENEW",
    "STOP",
    "FleetKeys",
]

# Shared Lua prelude: the terminal states, and the end of a record (token gone, kept 24 h
# against late webhooks and API retries, which must not re-enqueue it).
_PRELUDE = """
local TERMINAL = {ended=true, stopped=true, failed=true}
local function finish(conv, index, cid, status, reason, now, ttl)
  redis.call('HSET', conv, 'status', status, 'reason', reason, 'ended_at', now,
             'owner', '', 'updated_at', now)
  redis.call('HDEL', conv, 'token', 'stop')
  redis.call('EXPIRE', conv, ttl)
  redis.call('ZADD', index, now, cid)
end
"""

#: KEYS: stream, conv, index. ARGV: cid, job JSON, meeting token ('' for none), now,
#: source, record TTL (s, to trim the index). Returns ``{1, 'queued'}`` when queued,
#: ``{0, status}`` when the conversation is known already (idempotent).
ENQUEUE = """
local st = redis.call('HGET', KEYS[2], 'status')
if st then return {0, st} end
local id = redis.call('XADD', KEYS[1], '*', 'cid', ARGV[1], 'job', ARGV[2])
redis.call('HSET', KEYS[2], 'status', 'queued', 'entry', id, 'attempts', 0, 'tries', 0,
           'fence', 0, 'tool_calls', 0, 'source', ARGV[5], 'enqueued_at', ARGV[4],
           'updated_at', ARGV[4])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'token', ARGV[3]) end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[4]) - 7 * tonumber(ARGV[6])))
return {1, 'queued'}
"""

#: KEYS: stream, conv, lease, dead, index. ARGV: group, worker id, entry id, lease ms,
#: max_attempts, now, cid, job JSON, record TTL (s). Returns
#: ``{1, fence, attempts, meeting token or ''}``: held (lease set, fence bumped);
#: ``{0, lease PTTL ms}``: another host holds it; ``{-1, status}``: dropped (ended,
#: stopped, unknown or a stale entry; acked and deleted); ``{-2, tries}``: dead-lettered.
ACQUIRE = (
    _PRELUDE
    + """
local conv, entry = KEYS[2], ARGV[3]
local st = redis.call('HGET', conv, 'status')
local drop = (not st) or TERMINAL[st] or redis.call('HGET', conv, 'entry') ~= entry
if not drop and redis.call('HGET', conv, 'stop') == '1' then
  local why = redis.call('HGET', conv, 'stop_reason') or 'stopped'
  finish(conv, KEYS[5], ARGV[7], 'stopped', why, ARGV[6], ARGV[9])
  redis.call('DEL', KEYS[3])
  st, drop = 'stopped', true
end
if drop then
  redis.call('XACK', KEYS[1], ARGV[1], entry)
  redis.call('XDEL', KEYS[1], entry)
  return {-1, st or ''}
end
local pttl = redis.call('PTTL', KEYS[3])
if pttl > 0 then return {0, pttl} end
local tries = redis.call('HINCRBY', conv, 'tries', 1)
if tries > tonumber(ARGV[5]) then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, '*', 'cid', ARGV[7], 'entry', entry,
             'tries', tries - 1, 'job', ARGV[8], 'at', ARGV[6])
  redis.call('XACK', KEYS[1], ARGV[1], entry)
  redis.call('XDEL', KEYS[1], entry)
  finish(conv, KEYS[5], ARGV[7], 'failed',
         'max_attempts: taken ' .. (tries - 1) .. ' times without joining', ARGV[6], ARGV[9])
  return {-2, tries - 1}
end
local attempts = redis.call('HINCRBY', conv, 'attempts', 1)
local fence = redis.call('HINCRBY', conv, 'fence', 1)
redis.call('SET', KEYS[3], ARGV[2] .. ':' .. fence, 'PX', ARGV[4])
redis.call('HSET', conv, 'status', 'joining', 'owner', ARGV[2], 'claimed_at', ARGV[6],
           'updated_at', ARGV[6])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[7])
return {1, fence, attempts, redis.call('HGET', conv, 'token') or ''}
"""
)

#: KEYS: stream, lease, conv. ARGV: lease token, lease ms, group, worker id, entry id.
#: Returns 0 (lost: the lease is not ours), 1 (renewed), 2 (renewed, stop requested).
#: The ``XCLAIM … JUSTID`` resets the entry's idle time without counting a delivery; it
#: runs only under the check, as a plain XCLAIM by a non-owner takes the entry.
RENEW = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('XCLAIM', KEYS[1], ARGV[3], ARGV[4], 0, ARGV[5], 'JUSTID')
if redis.call('HGET', KEYS[3], 'stop') == '1' then return 2 end
return 1
"""

#: KEYS: lease, conv, index. ARGV: lease token, now, cid. Returns 1 (state ``active``)
#: or 0 (not ours).
JOINED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'status', 'active', 'joined_at', ARGV[2], 'tries', 0,
           'updated_at', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
return 1
"""

#: KEYS: lease, call, conv. ARGV: lease token, claim TTL ms. Returns 1 (answer it),
#: 0 (answered already), -1 (this host does not hold the conversation).
CLAIM_CALL = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('HINCRBY', KEYS[3], 'tool_calls', 1)
  return 1
end
return 0
"""

#: KEYS: stream, lease, conv, index. ARGV: lease token, fence, group, entry id, status,
#: reason, now, cid, record TTL (s). Returns 1 (stored, or stored already) or 0 (another
#: host took the job over). Allowed while the lease is ours or expired with nobody
#: after us (same fence): a completion retried through a Redis outage still lands. A
#: ``stopped`` end keeps the reason the stop was asked with (API, webhook).
COMPLETE = (
    _PRELUDE
    + """
local conv = KEYS[3]
if redis.call('HGET', conv, 'fence') ~= ARGV[2] then return 0 end
local st = redis.call('HGET', conv, 'status')
if st and TERMINAL[st] then return 1 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('XACK', KEYS[1], ARGV[3], ARGV[4])
redis.call('XDEL', KEYS[1], ARGV[4])
local why = ARGV[6]
if ARGV[5] == 'stopped' then why = redis.call('HGET', conv, 'stop_reason') or why end
finish(conv, KEYS[4], ARGV[8], ARGV[5], why, ARGV[7], ARGV[9])
return 1
"""
)

#: KEYS: stream, lease, conv, index. ARGV: lease token, group, worker id, entry id,
#: idle ms, now, cid. Gives a held job back: lease deleted, state ``queued``, and the
#: entry's idle time set to ``idle`` so that the next ``XAUTOCLAIM`` anywhere takes it.
#: Returns 1, or 0 when the lease is not ours (nothing changed).
RELEASE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], 'status', 'queued', 'owner', '', 'updated_at', ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[7])
redis.call('XCLAIM', KEYS[1], ARGV[2], ARGV[3], 0, ARGV[4], 'IDLE', ARGV[5], 'JUSTID')
return 1
"""

#: KEYS: conv, index. ARGV: reason, now, cid, record TTL (s), control channel. Returns
#: ``{0, ''}`` (unknown) or ``{1, status}`` (the status after the call). A queued job
#: becomes ``stopped`` at once (its entry stays until a host reads and drops it, so
#: that the group's lag stays known); a held one gets the ``stop`` flag, which its host
#: sees at the next renewal, and a ``stop <cid>`` message on the control channel.
STOP = (
    _PRELUDE
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, ''} end
if TERMINAL[st] then return {1, st} end
if st == 'queued' then
  finish(KEYS[1], KEYS[2], ARGV[3], 'stopped', ARGV[1], ARGV[2], ARGV[4])
  return {1, 'stopped'}
end
redis.call('HSET', KEYS[1], 'stop', '1', 'stop_reason', ARGV[1], 'updated_at', ARGV[2])
redis.call('PUBLISH', ARGV[5], 'stop ' .. ARGV[3])
return {1, st}
"""
)


@dataclass(frozen=True, slots=True)
class FleetKeys:
    """The key names of one fleet (``prefix`` is the hash tag ``{<stream>}``)."""

    prefix: str

    @property
    def stream(self) -> str:
        return self.prefix

    @property
    def dead(self) -> str:
        return f"{self.prefix}:dead"

    @property
    def index(self) -> str:
        return f"{self.prefix}:index"

    @property
    def control(self) -> str:
        return f"{self.prefix}:ctl"

    def conv(self, cid: str) -> str:
        return f"{self.prefix}:conv:{cid}"

    def lease(self, cid: str) -> str:
        return f"{self.prefix}:lease:{cid}"

    def call(self, cid: str, key: str) -> str:
        return f"{self.prefix}:call:{cid}:{key}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"
