"""The shared request queue: scrapy-redis's per-spider queue interface, made reliable.

scrapy-redis's queues pop destructively (a worker that dies loses what it held) and
pickle their entries. LeasedQueue keeps scrapy-redis's `Base` (server, spider, key,
serializer; push / pop / __len__ / clear) and changes what those mean: entries are JSON
(gmwcrawler.distributed.serializer), `pop` leases an entry instead of removing it, and
`ack` / `renew` / `requeue` finish the reliable-queue pattern Redis documents.
"""

from __future__ import annotations

from scrapy import Request, Spider
from scrapy_redis.queue import Base

from .fingerprints import BloomParams
from .keys import Keys
from .scripts import ENQUEUE, LEASE, RENEW, REQUEUE
from .serializer import RequestSerializer


class LeasedQueue(Base):
    def __init__(self, server, spider: Spider, keys: Keys, serializer: RequestSerializer, lease_ms: int,
                 dupefilter: str = "set", bloom: BloomParams | None = None) -> None:
        super().__init__(server, spider, keys.queue, serializer)
        self.keys = keys
        self.lease_ms = lease_ms
        self.dupefilter = dupefilter
        self.bloom = bloom
        self._push = server.register_script(ENQUEUE)
        self._lease = server.register_script(LEASE)
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

    def push(self, request: Request, payload: str | None = None, fingerprint: str | None = None,
             hops: int | None = None, continues: str | None = None) -> int:
        """Queue the request unless its fingerprint was seen (one atomic step); acknowledge the
        lease it continues (a retry or redirect) in that same step. Returns the entry id, or 0."""
        if fingerprint is None:
            mode, extra = "none", []
        else:
            mode = self.dupefilter
            extra = self.bloom.offsets(fingerprint) if self.bloom else []
        return self._push(
            keys=[self.key, self.keys.payloads, self.keys.sequence, self.keys.idle_since, self.keys.fingerprints,
                  self.keys.leases],
            args=[mode, fingerprint or "", request.priority, payload or self._encode_request(request),
                  continues or "", "" if hops is None else hops, *extra],
        )

    def pop(self, timeout: int = 0, acks: list[str] | tuple[str, ...] = ()) -> tuple[str, bytes] | None:
        """Acknowledge `acks`, then lease the first entry: (entry id, payload), or None when the
        queue is empty."""
        found = self._lease(keys=[self.key, self.keys.leases, self.keys.payloads], args=[self.lease_ms, 1, *acks])
        return (found[0].decode(), found[1]) if found else None

    def ack(self, entries: list[str] | tuple[str, ...]) -> None:
        if entries:
            self._lease(keys=[self.key, self.keys.leases, self.keys.payloads], args=[self.lease_ms, 0, *entries])

    def reject(self, entry: str, payload: bytes) -> None:
        """Set aside an entry that is not an allowed request, for a person to look at."""
        pipe = self.server.pipeline(transaction=True)
        pipe.rpush(self.keys.rejected, payload)
        pipe.zrem(self.keys.leases, entry)
        pipe.hdel(self.keys.payloads, entry)
        pipe.execute()

    def renew(self, entries: set[str]) -> int:
        return self._renew(keys=[self.keys.leases], args=[self.lease_ms, *sorted(entries)]) if entries else 0

    def requeue(self, entries: set[str] | None = None, limit: int = 1000) -> int:
        """Put leases back at the front of the queue: the given ones, or every expired one."""
        return self._requeue(keys=[self.keys.leases, self.key, self.keys.payloads],
                             args=[limit, *sorted(entries or ())])

    def clear(self) -> None:
        self.server.delete(self.key, self.keys.payloads, self.keys.leases)
