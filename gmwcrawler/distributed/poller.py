"""Watch mode in a cluster: one worker polls the listings, any number fetch what the polls find.

Every watching worker asks `Poller.turn()` every `check` seconds. The first to ask takes the poller
lease (a Redis key with a short time to live, renewed by each ask of its holder) and polls once the
cluster's last poll is a poll interval old; the others only take requests from the shared queue. The
lease and the decision to poll are one Lua step (scripts.POLL), so a holder whose lease lapsed — killed,
stalled, cut off from Redis — cannot poll beside the next one. A holder that stops hands the lease over
at once (`release`), so a rolling restart misses no poll; a killed one loses it within `lease` seconds,
and the next asker polls when the dead one would have (the last poll's time is kept in Redis).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import redis
from scrapy.crawler import Crawler

from .connection import Guard, RedisPaused, RedisUnavailable, for_crawler
from .keys import Keys
from .run import worker_id
from .scripts import POLL, RELEASE_POLLER

logger = logging.getLogger(__name__)
POLL_NOW, HOLDING, OTHER = 1, 2, 0


def timing(interval: float) -> tuple[float, float]:
    """(check, lease) in seconds for a poll interval: a fifth of it, at most 5 s, between two asks; a lease of
    three asks, so one late ask keeps it and a dead holder is replaced well within one poll interval."""
    check = min(interval / 5, 5.0)
    return check, 3 * check


@dataclass
class LastPoll:
    at: float | None  # Unix time, as the polling worker saw it
    by: str | None  # that worker


class Poller:
    def __init__(self, client: redis.Redis, guard: Guard, keys: Keys, worker: str, interval: float) -> None:
        self.guard = guard
        self.keys = keys
        self.worker = worker
        self.interval = interval
        self.check, self.lease = timing(interval)
        self.client = client
        self._poll = client.register_script(POLL)
        self._release = client.register_script(RELEASE_POLLER)
        self.holds = False  # whether this worker held the lease at its last ask
        self.holder: str | None = None

    def turn(self) -> bool:
        """Whether this worker polls now. Through a Redis pause or outage: no (another worker, or this one
        once Redis is back, polls)."""
        try:
            verdict, holder = self.guard(self._poll, keys=[self.keys.poller, self.keys.watch, self.keys.clock],
                                         args=[self.worker, int(self.lease * 1000), int(self.interval * 1000),
                                               f"{time.time():.3f}"])
        except (RedisPaused, RedisUnavailable):
            self.holds = False
            return False
        holder = holder.decode() if isinstance(holder, bytes) else holder
        if verdict != OTHER and not self.holds:
            logger.info("This worker (%s) polls the listings now (every %g s)", self.worker, self.interval)
        elif verdict == OTHER and self.holds:
            logger.warning("Worker %s polls the listings now, not this one (lease lapsed)", holder)
        self.holds, self.holder = verdict != OTHER, holder
        return verdict == POLL_NOW

    def release(self) -> None:
        if not self.holds:
            return
        self.holds = False
        try:
            self.guard(self._release, keys=[self.keys.poller], args=[self.worker])
        except (RedisPaused, RedisUnavailable) as exc:
            logger.warning("Poller lease not handed over (%s); another worker takes it within %g s", exc, self.lease)
        else:
            logger.info("Poller lease handed over")


def last_poll(client: redis.Redis, guard: Guard, keys: Keys) -> LastPoll:
    """The cluster's last poll of the listings (metrics, `scrapy gmw status`)."""
    at, by = guard(client.hmget, keys.watch, "at", "by")
    try:
        when = float(at) if at is not None else None
    except ValueError:  # anyone may write to Redis: a damaged record reads as absent
        when = None
    return LastPoll(when, by.decode("utf-8", "replace") if by else None)


_PER_CRAWLER: WeakKeyDictionary[Crawler, Poller] = WeakKeyDictionary()


def poller_for(crawler: Crawler, interval: float) -> Poller:
    """The crawler's poller, made on first use (the spider's watch loop)."""
    if crawler not in _PER_CRAWLER:
        client, guard = for_crawler(crawler)
        _PER_CRAWLER[crawler] = Poller(client, guard, Keys.of(crawler.settings, crawler.spidercls.name),
                                       worker_id(crawler), interval)
    return _PER_CRAWLER[crawler]


def running_poller(crawler: Crawler) -> Poller | None:
    """The crawler's poller if it watches (the worker's close hands its lease over; the run report)."""
    return _PER_CRAWLER.get(crawler)
