"""The shared request queue: scrapy-redis's per-spider queue interface, made reliable.

scrapy-redis's queues pop destructively (a worker that dies loses what it held) and
pickle their entries. LeasedQueue keeps scrapy-redis's `Base` (server, spider, key,
serializer; push / pop / __len__ / clear) and changes what those mean: entries are JSON
(gmwcrawler.distributed.serializer), `pop` leases an entry instead of removing it, and
`sync` (acknowledge, queue and lease in one step) / `renew` / `requeue` finish the
reliable-queue pattern Redis documents.

Why Lua leases and not Redis Streams' consumer groups (XREADGROUP / XACK / XAUTOCLAIM), which give
per-entry delivery counts and ids from the server's clock: a stream is one FIFO, and this queue is
ordered — listing pages before articles, a multi-page article's next page before new articles, listed
articles before related reading — and it queues a request only if its fingerprint (with its hop count,
gmwcrawler/incremental/dupefilter.py) is new, acknowledging the parent in the same atomic step. Priorities over
streams mean one stream per priority read in turn, and the fingerprint check a second round trip or a
script anyway. So the leases stay, and take what streams do well: every expired lease is counted and an
entry that expired GMW_MAX_ATTEMPTS times goes to the dead-letter list (XAUTOCLAIM's delivery count), a
lease is fenced by a token made from the server's time, which a Redis that lost writes does not hand out
again (stream ids), and SYNC keeps its reply under the call's name, so that a call tried again after a
lost reply is answered, not applied twice (scripts.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider
from scrapy_redis.queue import Base

from gmwcrawler.meta import REQUEUED_META

from .connection import HotScript
from .fingerprints import BloomParams
from .keys import Keys
from .scripts import RENEW, REQUEUE, SYNC
from .serializer import RequestSerializer


@dataclass(frozen=True)
class Outgoing:
    """A request on its way to the shared queue: serialized, with what the dupefilter needs."""

    payload: str
    priority: int
    fingerprint: str | None  # None: dont_filter
    hops: int | None


def _sync_keys(keys: Keys, call: str | None = None) -> list[str]:
    """The SYNC script's keys; `call` names the call (the same name again: the same call, answered once)."""
    return [keys.queue, keys.payloads, keys.sequence, keys.idle_since, keys.fingerprints, keys.leases, keys.attempts,
            keys.tokens, keys.sync_reply(call or uuid.uuid4().hex), keys.clock]


def _sync_args(lease_ms: int, lease: int, acks: list[str] | tuple[str, ...], outgoing: list[Outgoing] | tuple[Outgoing, ...],
               dupefilter: str = "set", bloom: BloomParams | None = None, held: int = 0, worker: str = "") -> list:
    """The SYNC script's arguments (gmwcrawler.distributed.scripts)."""
    args: list = [lease_ms, lease, held, worker, len(acks), *acks]
    for out in outgoing:
        if out.fingerprint is None:
            args += ["none", "", out.priority, out.payload, "", 0]
        else:
            offsets = bloom.offsets(out.fingerprint) if bloom else []
            args += [dupefilter, out.fingerprint, out.priority, out.payload,
                     "" if out.hops is None else out.hops, len(offsets), *offsets]
    return args


def _asked_again(payload: str) -> str:
    """The request marked as asked again by hand: the backoff of a page that failed for good
    (gmwcrawler.incremental.revisit) does not hold it back."""
    try:
        data = json.loads(payload)
        data.setdefault("meta", {})[REQUEUED_META] = True
        return json.dumps(data, ensure_ascii=False)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return payload  # the worker that leases it rejects it as it would have


def requeue_failed(server, keys: Keys, limit: int = 1000) -> int:
    """`scrapy gmw failed --requeue`: the dead-letter list's requests back into the shared queue,
    past their fingerprints (each was fetched once already), one SYNC step each."""
    sync = HotScript(server, SYNC)
    moved = 0
    while moved < limit and (raw := server.lpop(keys.failed)) is not None:
        try:
            payload = json.loads(raw)["request"]
        except (ValueError, KeyError, TypeError, RecursionError):
            payload = None
        if not isinstance(payload, str):  # not what dead_letter wrote: set aside, as the queue's own rejects
            server.rpush(keys.rejected, raw)
            continue
        payload = _asked_again(payload)
        # the worker that leases it checks it like every entry (gmwcrawler.distributed.serializer)
        sync(keys=_sync_keys(keys), args=_sync_args(0, 0, (), [Outgoing(payload, 0, None, None)]))
        moved += 1
    return moved


class LeasedQueue(Base):
    def __init__(self, server, spider: Spider, keys: Keys, serializer: RequestSerializer, lease_ms: int,
                 dupefilter: str = "set", bloom: BloomParams | None = None, max_attempts: int = 0) -> None:
        super().__init__(server, spider, keys.queue, serializer)
        self.keys = keys
        self.lease_ms = lease_ms
        self.max_attempts = max_attempts
        self.worker = uuid.uuid4().hex[:12]  # in each lease token this worker is handed
        self.dupefilter = dupefilter
        self.bloom = bloom
        self._sync = HotScript(server, SYNC)
        self._renew = server.register_script(RENEW)
        self._requeue = server.register_script(REQUEUE)

    def _encode_request(self, request: Request) -> str:
        return self.serializer.dumps(request)

    def _decode_request(self, encoded_request: bytes | str) -> Request:
        return self.serializer.loads(encoded_request)

    def __len__(self) -> int:
        return self.server.zcard(self.key)

    def leased(self) -> int:
        return self.server.zcard(self.keys.leases)

    def sync(self, outgoing: list[Outgoing] | tuple[Outgoing, ...] = (), acks: list[str] | tuple[str, ...] = (),
             lease: int = 0, held: int = 0, call: str | None = None) -> tuple[list[int], list[tuple[str, bytes]]]:
        """One atomic step: acknowledge `acks`, queue `outgoing` unless their fingerprints were seen,
        lease up to `lease` entries (a worker that `held` others gets no suspect). Returns (entry id or 0 per
        outgoing request, leased entries as `id@token`). The same `call` name again, with the same arguments,
        is answered from Redis's record of the first, if it was applied."""
        args = _sync_args(self.lease_ms, lease, acks, outgoing, self.dupefilter, self.bloom, held, self.worker)
        queued, leased = self._sync(keys=_sync_keys(self.keys, call), args=args)
        return [int(n) for n in queued], [(leased[i].decode(), leased[i + 1]) for i in range(0, len(leased), 2)]

    def push(self, request: Request) -> int:
        """scrapy-redis's interface: queue one request now (no fingerprint check)."""
        return self.sync([Outgoing(self._encode_request(request), request.priority, None, None)])[0][0]

    def pop(self, timeout: int = 0) -> tuple[str, bytes] | None:
        """scrapy-redis's interface: lease the first entry: (entry id, payload), or None."""
        leased = self.sync(lease=1)[1]
        return leased[0] if leased else None

    def dead_letter(self, entry: dict[str, Any], request: Request) -> None:
        """Keep a request whose page could not be read, to be looked at and queued
        again with `scrapy gmw failed --requeue`."""
        self.server.rpush(self.keys.failed, json.dumps({**entry, "request": self._encode_request(request)},
                                                       ensure_ascii=False))

    def reject(self, entry: str, payload: bytes) -> None:
        """Set aside an entry that is not an allowed request, for a person to look at."""
        entry_id = entry.partition("@")[0]  # just leased by this worker
        pipe = self.server.pipeline(transaction=True)
        pipe.rpush(self.keys.rejected, payload)
        pipe.zrem(self.keys.leases, entry_id)
        pipe.hdel(self.keys.payloads, entry_id)
        pipe.hdel(self.keys.tokens, entry_id)
        pipe.execute()

    def renew(self, entries: set[str]) -> int:
        if not entries:
            return 0
        return self._renew(keys=[self.keys.leases, self.keys.tokens, self.keys.clock], args=[self.lease_ms, *sorted(entries)])

    def requeue(self, entries: set[str] | None = None, limit: int = 1000) -> tuple[int, int]:
        """Put leases back at the front of the queue: the given ones (released), or every expired one (an
        attempt, counted). Returns (entries queued again, entries sent to the dead-letter list)."""
        queued, dead = self._requeue(keys=[self.keys.leases, self.key, self.keys.payloads, self.keys.attempts,
                                           self.keys.failed, self.keys.tokens, self.keys.clock],
                                     args=[limit, self.max_attempts, *sorted(entries or ())])
        return int(queued), int(dead)

    def clear(self) -> None:
        self.server.delete(self.key, self.keys.payloads, self.keys.leases, self.keys.attempts, self.keys.tokens)
