"""The distributed scheduler: a shared, leased, JSON request queue in Redis (issue #4).

- enqueue: fingerprint check and push are one Lua step, so a request is never marked
  seen without being queued; a retried or redirected request acknowledges the lease
  of the request it continues in that same step.
- next_request: the entry is *leased*, not removed; it is acknowledged when Scrapy has
  finished with its response or failure — callback or errback run, their items through
  every pipeline, their requests queued. A lease not acknowledged (or renewed by a live
  worker) within GMW_LEASE_TIMEOUT goes back to the front of the queue.
- close: the worker's unfinished leases go straight back to the queue; nothing shared is
  deleted (unlike scrapy-redis with SCHEDULER_PERSIST = False).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.utils.defer import _schedule_coro

from gmwcrawler.dupefilter import HOPS_META

from .connection import RedisUnavailable, for_crawler
from .fingerprints import BloomParams
from .keys import Keys
from .run import join_run
from .scripts import ENQUEUE, LEASE, RENEW, REQUEUE
from .serializer import RejectedEntry, RequestSerializer

logger = logging.getLogger(__name__)
LEASE_META = "gmw_lease"


class LeasedScheduler:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.redis, self.guard = for_crawler(crawler)
        self.namespace = settings.get("GMW_REDIS_NAMESPACE", "")
        self.lease_ms = int(settings.getfloat("GMW_LEASE_TIMEOUT", 300) * 1000)
        self.mode = settings.get("GMW_DUPEFILTER", "set")
        self.bloom = (BloomParams.for_capacity(settings.getint("GMW_BLOOM_CAPACITY", 10_000_000),
                                               settings.getfloat("GMW_BLOOM_ERROR_RATE", 0.0001))
                      if self.mode == "bloom" else None)
        self._enqueue = self.redis.register_script(ENQUEUE)
        self._lease = self.redis.register_script(LEASE)
        self._renew = self.redis.register_script(RENEW)
        self._requeue = self.redis.register_script(REQUEUE)
        self.held: set[str] = set()  # leases this worker holds
        self.local: list[Request] = []  # requests JSON cannot hold: processed here, counted
        self._pending_checked = 0.0
        self._pending = False
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "LeasedScheduler":
        return cls(crawler)

    # -- Scrapy's scheduler interface ----------------------------------------------------------
    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.keys = Keys(self.namespace, spider.name)
        callbacks = getattr(spider, "allowed_callbacks", ())
        self.serializer = RequestSerializer(spider, callbacks)
        self.run_state, self.run_id = join_run(self.redis, self.guard, self.keys)
        queued = self.guard(self.redis.zcard, self.keys.queue)
        leased = self.guard(self.redis.zcard, self.keys.leases)
        logger.info("Shared queue %s: %d request(s) queued, %d leased by workers", self.keys.queue, queued, leased)

    def close(self, reason: str) -> None:
        if self.held:
            try:
                returned = self.guard(self._requeue, keys=[self.keys.leases, self.keys.queue, self.keys.payloads],
                                      args=[len(self.held), *sorted(self.held)])
                logger.info("Returned %d unfinished lease(s) to the shared queue", returned)
            except RedisUnavailable as exc:
                logger.error("%s; %d lease(s) return to the queue after GMW_LEASE_TIMEOUT", exc, len(self.held))
            self.held.clear()

    def has_pending_requests(self) -> bool:
        if self.local:
            return True
        now = time.monotonic()
        if now - self._pending_checked > 0.5:  # the engine asks often; Redis is asked twice a second
            self._pending_checked = now
            self._pending = self._call(self.redis.zcard, self.keys.queue, default=0) > 0
        return self._pending

    def enqueue_request(self, request: Request) -> bool:
        if self.run_state == "finished":
            return False
        continues = request.meta.pop(LEASE_META, None)  # a retry or redirect of a leased request
        try:
            payload = self.serializer.dumps(request)
        except TypeError as exc:
            self.stats.inc_value("gmw/queue/kept_local")
            logger.warning("Request kept in this worker, not shared (%s): %s", exc, request.url)
            self.local.append(request)
            if continues:
                self._ack(continues)
            return True
        hops = request.meta.get(HOPS_META)
        if request.dont_filter:
            mode, fingerprint, extra = "none", "", []
        else:
            fingerprint = self.crawler.request_fingerprinter.fingerprint(request).hex()
            mode = self.mode
            extra = self.bloom.offsets(fingerprint) if self.bloom else []
        entry = self._call(self._enqueue, keys=[self.keys.queue, self.keys.payloads, self.keys.sequence,
                                                self.keys.idle_since, self.keys.fingerprints, self.keys.leases],
                           args=[mode, fingerprint, request.priority, payload, continues or "",
                                 "" if hops is None else hops, *extra], default=None)
        if continues:
            self.held.discard(continues)
        if entry is None:
            return False
        if not entry:
            self.stats.inc_value("dupefilter/filtered")
            return False
        self.stats.inc_value("scheduler/enqueued/redis")
        self.stats.inc_value("scheduler/enqueued")
        self._pending = True
        return True

    def next_request(self) -> Request | None:
        if self.run_state == "finished":
            return None
        if self.local:
            return self.local.pop()
        while True:
            found = self._call(self._lease, keys=[self.keys.queue, self.keys.leases, self.keys.payloads],
                               args=[self.lease_ms, 1], default=[])
            if not found:
                self._pending = False
                return None
            entry, payload = found[0].decode(), found[1]
            try:
                request = self.serializer.loads(payload)
            except RejectedEntry as exc:
                self._reject(entry, payload, str(exc))
                continue
            request.meta[LEASE_META] = entry
            self.held.add(entry)
            self.stats.inc_value("scheduler/dequeued/redis")
            self.stats.inc_value("scheduler/dequeued")
            return request

    def __len__(self) -> int:
        return self._call(self.redis.zcard, self.keys.queue, default=0) + len(self.local)

    # -- leases -------------------------------------------------------------------------------
    def finished(self, request: Request) -> None:
        """Scrapy is done with this request: its outcome is final."""
        entry = request.meta.get(LEASE_META)
        if entry and not self.guard.failed:
            # once Redis is given up, nothing is acknowledged: what this worker could not finish
            # properly (an item it could not store) is done again by another worker
            self._ack(entry)

    def _ack(self, entry: str) -> None:
        self.held.discard(entry)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.keys.leases, entry)
        pipe.hdel(self.keys.payloads, entry)
        self._call(pipe.execute, default=None)
        self.stats.inc_value("gmw/queue/acknowledged")

    def renew(self) -> None:
        if self.held:
            self._call(self._renew, keys=[self.keys.leases], args=[self.lease_ms, *sorted(self.held)], default=0)

    def requeue_expired(self, limit: int = 1000) -> int:
        n = self._call(self._requeue, keys=[self.keys.leases, self.keys.queue, self.keys.payloads], args=[limit],
                       default=0)
        if n:
            self.stats.inc_value("gmw/queue/leases_expired", n)
            logger.warning("%d expired lease(s) (a worker died or stalled) returned to the queue", n)
        return n

    def _reject(self, entry: str, payload: bytes, why: str) -> None:
        self.stats.inc_value("gmw/queue/rejected")
        logger.error("Rejected queue entry %s (%s); moved to %s", entry, why, self.keys.rejected)
        pipe = self.redis.pipeline(transaction=True)
        pipe.rpush(self.keys.rejected, payload)
        pipe.zrem(self.keys.leases, entry)
        pipe.hdel(self.keys.payloads, entry)
        self._call(pipe.execute, default=None)

    def _call(self, fn: Any, *args: Any, default: Any, **kwargs: Any) -> Any:
        try:
            return self.guard(fn, *args, **kwargs)
        except RedisUnavailable as exc:
            if not self.closing:
                self.closing = True
                logger.error("%s — ending this worker; its leases return to the queue after GMW_LEASE_TIMEOUT", exc)
                _schedule_coro(self.crawler.engine.close_spider_async(reason="redis_unavailable"))
            return default
