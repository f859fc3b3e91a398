"""The distributed scheduler: a shared, leased, JSON request queue in Redis.

- enqueue: the request is serialized and kept in an outbox; the next call to Redis (one per
  page: `LeasedQueue.sync`) queues the outbox, acknowledges finished leases and leases the
  next entry in one Lua step. The fingerprint check and the push are that same step, so a
  request is never marked seen without being queued; a retried or redirected request and
  the lease of the request it continues go together.
- next_request: the entry is *leased*, not removed; it is acknowledged when Scrapy has
  finished with its response or failure — callback or errback run, their items through
  every pipeline, their requests queued — in the same step as those requests (how that
  moment is known from public signals and middlewares: gmwcrawler.distributed.leases).
  A lease not acknowledged (or renewed by a live worker) within GMW_LEASE_TIMEOUT goes
  back to the front of the queue.
- close: the worker's unfinished leases go straight back to the queue; nothing shared is
  deleted (unlike scrapy-redis with SCHEDULER_PERSIST = False).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from gmwcrawler import defaults
from gmwcrawler.meta import HOPS_META

from .connection import RedisPaused, RedisUnavailable, for_crawler
from .fingerprints import BloomParams
from .keys import Keys
from .leases import LEASE_META, LeaseTracker
from .queue import LeasedQueue, Outgoing
from .run import join_run
from .serializer import RejectedEntry, RequestSerializer

logger = logging.getLogger(__name__)
HANDED_META = "gmw_handed"  # a lease handed to an idle engine by wake(): the scheduler keeps it for next_request


def close_spider(crawler: Crawler, reason: str) -> None:
    """End this worker's crawl from code that cannot wait for it (a Redis call, a signal handler)."""
    deferred_from_coro(crawler.engine.close_spider_async(reason=reason)).addErrback(
        lambda failure: logger.error("Closing the spider (%s) failed: %s", reason, failure.getErrorMessage()))


@dataclass(frozen=True)
class _Call:
    """One SYNC call: its name (Redis keeps its reply under it for a while) and what it sends."""

    name: str
    outbox: list[Outgoing]
    acks: list[str]
    lease: int


class LeasedScheduler:
    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.crawler = crawler
        self.stats = crawler.stats
        self.redis, self.guard = for_crawler(crawler)
        self.lease_ms = int(defaults.get(settings, "GMW_LEASE_TIMEOUT") * 1000)
        self.dupefilter = defaults.get(settings, "GMW_DUPEFILTER")
        self.bloom = (BloomParams.for_capacity(defaults.get(settings, "GMW_BLOOM_CAPACITY"),
                                               defaults.get(settings, "GMW_BLOOM_ERROR_RATE"))
                      if self.dupefilter == "bloom" else None)
        self.held: set[str] = set()  # leases this worker holds
        self.acks: list[str] = []  # finished leases not yet acknowledged: sent with the next sync
        self.outbox: list[Outgoing] = []  # requests not yet queued: sent with the next sync
        self.outbox_limit = max(1, defaults.get(settings, "GMW_QUEUE_BATCH"))
        self.unanswered: _Call | None = None  # a sync whose reply never came: sent again, the same, before any other
        self.poll_interval = max(0.05, defaults.get(settings, "GMW_POLL_INTERVAL"))
        self.max_leases = defaults.max_leases(settings)
        self.local: list[Request] = []  # requests JSON cannot hold: processed here, counted
        self._pending_checked = 0.0
        self._pending = False
        self._handed: Request | None = None
        self.closing = False
        self.leases = LeaseTracker(self._finished, self._give_back)
        self.guard.on_give_up(self._gave_up)
        for signal in (signals.item_scraped, signals.item_dropped):
            crawler.signals.connect(self.leases.item_left, signal=signal)
        crawler.signals.connect(self.leases.item_failed, signal=signals.item_error)
        crawler.signals.connect(self.leases.output_failed, signal=signals.spider_error)
        crawler.signals.connect(self._request_scheduled, signal=signals.request_scheduled)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeasedScheduler:
        return cls(crawler)

    # -- Scrapy's scheduler interface ----------------------------------------------------------
    def open(self, spider: Spider) -> None:
        self.spider = spider
        self.keys = Keys.of(self.crawler.settings, spider.name)
        self.serializer = RequestSerializer(spider, getattr(spider, "allowed_callbacks", ()))
        self.queue = LeasedQueue(self.redis, spider, self.keys, self.serializer, self.lease_ms, self.dupefilter,
                                 self.bloom, defaults.get(self.crawler.settings, "GMW_MAX_ATTEMPTS"))
        # the spider is opening: nothing is downloading yet that a wait here could hold up
        # a watching worker starts a new run where the last one finished (a fleet that runs for good)
        watching = bool(getattr(getattr(spider, "options", None), "watch", 0))
        self.run_state, self.run_id = join_run(self.redis, self.guard.wait_in_place, self.keys, reopen=watching)
        self.stats.set_value("gmw/run/id", self.run_id)
        queued = self.guard.wait_in_place(len, self.queue)
        leased = self.guard.wait_in_place(self.queue.leased)
        logger.info("Shared queue %s: %d request(s) queued, %d leased by workers", self.keys.queue, queued, leased)

    def close(self, reason: str) -> None:
        self.closing = True  # the spider is closing already: a failed call below must not close it again
        self.flush()
        if self.held:
            try:
                returned, _ = self.guard(self.queue.requeue, set(self.held))
                logger.info("Returned %d unfinished lease(s) to the shared queue", returned)
            except (RedisUnavailable, RedisPaused) as exc:
                logger.error("%s; %d lease(s) return to the queue after GMW_LEASE_TIMEOUT", exc, len(self.held))
            self.held.clear()
        self.guard.stop()

    def has_pending_requests(self) -> bool:
        if self.local or self.outbox or self.unanswered:
            return True
        now = time.monotonic()
        if now - self._pending_checked > self.poll_interval:  # the engine asks often; Redis is asked less
            self._pending_checked = now
            # through a Redis outage the run is not over: pending, so the engine keeps the spider open
            self._pending = self._call(len, self.queue, default=1) > 0
        return self._pending

    def enqueue_request(self, request: Request) -> bool:
        """Always True once the request is in the outbox: whether its fingerprint was seen is known
        at the next sync (counted there as dupefilter/filtered; no request_dropped signal)."""
        if self.run_state == "finished":
            return False
        if request.meta.pop(HANDED_META, False):
            self._handed = None
            self.local.append(request)
            return True
        try:
            payload = self.serializer.dumps(request)
        except TypeError as exc:
            self.stats.inc_value("gmw/queue/kept_local")
            logger.warning("Request kept in this worker, not shared (%s): %s", exc, request.url)
            self.local.append(request)
            return True
        fingerprint = None if request.dont_filter else self.crawler.request_fingerprinter.fingerprint(request).hex()
        self.outbox.append(Outgoing(payload, request.priority, fingerprint, request.meta.get(HOPS_META)))
        if len(self.outbox) >= self.outbox_limit:
            self.flush()
        return True

    def next_request(self) -> Request | None:
        if self.run_state == "finished":
            return None
        if self.local:
            return self.local.pop()
        if self.max_leases and len(self.crawler.engine.downloader.active) >= self.max_leases:
            # enough downloads in hand: more leases would only wait in this worker's download
            # queue while another worker has nothing to do (bench/README.md: 3 workers went
            # from 0.70 to 0.92 of 3× one at 4 requests per host); the engine asks again when a download is done
            self.flush()
            return None
        while True:
            leased = self._sync(lease=1)
            if not leased:
                self._pending = False
                return None
            entry, payload = leased[0]
            try:
                request = self.serializer.loads(payload)
            except RejectedEntry as exc:
                self.stats.inc_value("gmw/queue/rejected")
                logger.error("Rejected queue entry %s (%s); moved to %s", entry, exc, self.keys.rejected)
                self._call(self.queue.reject, entry, payload, default=None)
                continue
            request.meta[LEASE_META] = entry
            request.errback = self.leases.errback_for(entry, request.errback)
            self.leases.begin(entry)
            self.held.add(entry)
            self.stats.inc_value("scheduler/dequeued/redis")
            self.stats.inc_value("scheduler/dequeued")
            return request

    def flush(self) -> None:
        """Send what is waiting (requests, acknowledgements) without leasing anything."""
        if self.outbox or self.acks or self.unanswered:
            self._sync(lease=0)

    def _sync(self, lease: int) -> list[tuple[str, bytes]]:
        if self.guard.failed:
            # Redis is given up: nothing is acknowledged; what this worker could not finish
            # properly is done again by another worker
            return []
        if self.unanswered is not None:
            # Redis may have applied it: the same call, named the same, so that Redis answers it from its record
            # (its leases are handed over; nothing is queued twice) or, if it was not applied, applies it now
            call = self.unanswered
        else:
            call = _Call(uuid.uuid4().hex, self.outbox, self.acks, lease)
            self.outbox, self.acks = [], []
        result = self._call(self.queue.sync, call.outbox, call.acks, call.lease, len(self.held), call.name, default=None)
        if result is None:
            if not self.guard.failed:  # a pause: this call goes first after it
                self.unanswered = call
            return []
        self.unanswered = None
        acks = call.acks
        queued, leased = result
        new = sum(1 for entry in queued if entry)
        if new:
            self.stats.inc_value("scheduler/enqueued/redis", new)
            self.stats.inc_value("scheduler/enqueued", new)
            self._pending = True
        if len(queued) - new:
            self.stats.inc_value("dupefilter/filtered", len(queued) - new)
        if acks:
            self.stats.inc_value("gmw/queue/acknowledged", len(acks))
        return leased

    def __len__(self) -> int:
        return self._call(len, self.queue, default=0) + len(self.local) + len(self.outbox) + bool(self.unanswered)

    def wake(self) -> None:
        """An idle engine asks for requests only every 5 s; when others have queued work, lease one
        and hand it to the engine (engine.crawl wakes it), so idle workers join in quickly."""
        if self.closing or self.local or not self.has_pending_requests():
            return
        request = self.next_request()
        if request is None:
            return
        request.meta[HANDED_META] = True
        self._handed = request
        self.crawler.engine.crawl(request)
        if self._handed is request:  # a request_scheduled handler dropped it: that is its outcome
            self._handed = None
            entry = request.meta.pop(LEASE_META)
            self.leases.forget(entry)
            self._finished(entry)

    # -- leases -------------------------------------------------------------------------------
    def _request_scheduled(self, request: Request) -> None:
        """request_scheduled: the engine hands the request to enqueue_request next, in the same call
        (or a handler such as the offsite filter drops it), so no sync can come between an
        acknowledgement made here and the request reaching the outbox."""
        if request.meta.get(HANDED_META):
            return
        self.leases.child_scheduled(request)
        entry = request.meta.pop(LEASE_META, None)
        if entry:
            # a retry or redirect: the lease ends here and its request is queued anew, in one sync step
            # (dropped instead, by the offsite filter say, its outcome is final all the same)
            self.leases.forget(entry)
            self._finished(entry)

    def _finished(self, entry: str) -> None:
        """The lease's outcome is final."""
        if not self.guard.failed:
            # once Redis is given up, nothing is acknowledged: what this worker could not finish
            # properly (an item it could not store) is done again by another worker
            self._ack(entry)

    def _give_back(self, entry: str) -> None:
        """An item of the lease could not be stored: neither acknowledged nor renewed, the lease expires and
        the page is fetched again (by any worker), an attempt counted (GMW_MAX_ATTEMPTS)."""
        self.held.discard(entry)
        self.stats.inc_value("gmw/queue/leases_given_back")
        logger.warning("An item of lease %s could not be stored; the page is fetched again once the lease expires"
                       " (GMW_LEASE_TIMEOUT)", entry)

    def _ack(self, entry: str) -> None:
        """Acknowledged with the next sync: the next lease, or flush() (idle, heartbeat, close)."""
        self.held.discard(entry)
        self.acks.append(entry)

    def renew(self) -> None:
        self._call(self.queue.renew, set(self.held), default=0)

    def requeue_expired(self) -> int:
        n, dead = self._call(self.queue.requeue, default=(0, 0))
        if n:
            self.stats.inc_value("gmw/queue/leases_expired", n)
            logger.warning("%d expired lease(s) (a worker died or stalled) returned to the queue", n)
        if dead:
            self.stats.inc_value("gmw/queue/dead_lettered", dead)
            logger.error("%d request(s) whose lease expired GMW_MAX_ATTEMPTS times set aside in %s (scrapy gmw"
                         " failed shows them, --requeue puts them back)", dead, self.keys.failed)
        return n

    def _call(self, fn: Any, *args: Any, default: Any, **kwargs: Any) -> Any:
        """A Redis call of the engine's loop, which cannot wait: through a pause, `default` (nothing
        leased, nothing sent: the engine asks again, downloads in flight carry on)."""
        try:
            return self.guard(fn, *args, **kwargs)
        except RedisPaused:
            return default
        except RedisUnavailable as exc:
            self._gave_up(exc)
            return default

    def _gave_up(self, exc: RedisUnavailable) -> None:
        if not self.closing:
            self.closing = True
            logger.error("%s — ending this worker; its leases return to the queue after GMW_LEASE_TIMEOUT", exc)
            close_spider(self.crawler, "redis_unavailable")
