"""The Redis client of a worker: bounded timeouts, and a guard that pauses the worker through
a short outage without holding up its downloads and ends it cleanly after a long one."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from gmwcrawler import defaults
from gmwcrawler.incremental.store.base import StorePaused, StoreUnavailable
from gmwcrawler.redact import mask_url

logger = logging.getLogger(__name__)
T = TypeVar("T")
# A refused write (maxmemory with noeviction; a replica after a failover) is a pause too, never an item
# error: the item would be lost while the worker carried on (tests/test_distributed.py, Redis at maxmemory).
REFUSED = (redis.exceptions.OutOfMemoryError, redis.exceptions.ReadOnlyError)
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError, *REFUSED)
PROBE_KEY = "gmwcrawler:probe"  # a write probe: Redis is back once it takes writes again, not when it answers PING
FIRST_PROBE, LONGEST_PROBE = 0.1, 2.0  # seconds between probes of an unreachable Redis: doubling, capped


class RedisUnavailable(StoreUnavailable):
    """Redis is given up (GMW_REDIS_OUTAGE_TIMEOUT passed): the worker ends."""


class RedisPaused(StorePaused):
    """Redis is unreachable for now: wait on resumed() and try again (gmwcrawler.incremental.store.base.StorePaused)."""


def client(url: str, settings: BaseSettings) -> redis.Redis:
    """`redis://`, `rediss://` (TLS), user and password in the URL. Calls run on the reactor thread,
    so every timeout is short; a call is tried once more at once on a new connection (Redis closed an
    idle one), and beyond that the Guard decides (one policy: Guard's docstring)."""
    timeout = defaults.get(settings, "GMW_REDIS_SOCKET_TIMEOUT")
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, 3.0),
        health_check_interval=15,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=list(TRANSIENT),
        client_name="gmwcrawler",
    )


class HotScript:
    """A Lua script for the once-per-page calls (queue sync, decide), sent with EVALSHA over a
    connection of its own: redis-py's per-call machinery (pool checkout, retry wrapper, metrics)
    costs 110 µs of CPU a call here, this 45 (bench/README.md). Called like redis-py's Script;
    a dropped connection is tried once more at once, as the client's calls are (then the Guard's)."""

    def __init__(self, client: redis.Redis, source: str) -> None:
        self.client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()
        self.connection: Any = None

    def __call__(self, keys: list | tuple = (), args: list | tuple = ()) -> Any:
        try:
            return self._run(keys, args)
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return self._run(keys, args)  # once more, on a new connection; a second failure is the Guard's

    def _run(self, keys: list | tuple, args: list | tuple) -> Any:
        try:
            return self._evalsha(keys, args)
        except redis.exceptions.NoScriptError:  # a restarted Redis has forgotten its scripts
            self.client.script_load(self.source)
            return self._evalsha(keys, args)

    def _evalsha(self, keys: list | tuple, args: list | tuple) -> Any:
        if self.connection is None:
            self.connection = self.client.connection_pool.make_connection()
        try:
            self.connection.send_command("EVALSHA", self.sha, len(keys), *keys, *args)
            return self.connection.read_response()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            self.connection.disconnect()
            self.connection = None
            raise


def _reactor() -> Any:
    # imported here: at module level it would install Twisted's default reactor before Scrapy installs its own
    from twisted.internet import reactor

    return reactor


class Guard:
    """Runs Redis calls; the one retry policy of a worker.

    A call that fails (refused, timed out, Redis loading) after the client's one immediate retry
    starts a *pause*: it raises RedisPaused, and so does every later call, at once and without
    touching the network, until a probe (PING) succeeds. Probes run in a thread, so a Redis that does
    not answer holds up nothing on the reactor thread: downloads in flight carry on. They come 0.1 s
    after the failure, then at doubling intervals up to 2 s. Meanwhile the scheduler leases nothing,
    and code that needs Redis to go on (the dedupe pipeline, the downloader middlewares) waits
    asynchronously (`call()`, or StorePaused.wait()) and tries again. After GMW_REDIS_OUTAGE_TIMEOUT
    seconds without Redis the guard gives up: RedisUnavailable from then on, and its give-up
    callbacks run (the scheduler ends the worker with one error line). With no reactor running
    (start-up, commands) nothing else could run meanwhile: a call then waits in place.
    """

    def __init__(self, url: str, settings: BaseSettings, stats: Any = None, redis_client: redis.Redis | None = None) -> None:
        self.url = url
        self.masked = mask_url(url)
        self.outage_timeout = defaults.get(settings, "GMW_REDIS_OUTAGE_TIMEOUT")
        self.stats = stats
        self.client = redis_client or client(url, settings)
        self.down_since: float | None = None
        self.failed: str | None = None  # once given up, every later call fails at once
        self._waiters: list[Deferred] = []
        self._give_up_callbacks: list[Callable[[RedisUnavailable], None]] = []
        self._probe: Any = None  # the pending reactor.callLater
        self._delay = FIRST_PROBE
        self._last_error = ""
        self._state = "unreachable"

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.failed:
            raise RedisUnavailable(self.failed)
        if not _reactor().running:
            return self._blocking(fn, *args, **kwargs)
        if self.down_since is not None:
            raise self._paused()
        try:
            return fn(*args, **kwargs)
        except TRANSIENT as exc:
            self._pause(exc)
            raise self._paused() from None

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """As a call, but through a pause: waits (without blocking) until Redis is back, then calls."""
        while True:
            try:
                return self(fn, *args, **kwargs)
            except RedisPaused as paused:
                await paused.wait()

    def resumed(self) -> Deferred:
        """Fires when Redis is back; fails with RedisUnavailable once it is given up."""
        waiter: Deferred = Deferred()
        if self.failed:
            waiter.errback(RedisUnavailable(self.failed))
        elif self.down_since is None:
            waiter.callback(None)
        else:
            self._waiters.append(waiter)
        return waiter

    def on_give_up(self, callback: Callable[[RedisUnavailable], None]) -> None:
        self._give_up_callbacks.append(callback)

    def stop(self) -> None:
        """The crawl is over: no more probes."""
        if self._probe is not None and self._probe.active():
            self._probe.cancel()
        self._probe = None

    # -- the pause -------------------------------------------------------------------------------
    def _paused(self) -> RedisPaused:
        return RedisPaused(f"Redis at {self.masked} {self._state} ({self._last_error}); paused", self.resumed)

    def _pause(self, exc: Exception) -> None:
        self.down_since = time.monotonic()
        self._last_error = str(exc)
        self._state = "refuses writes" if isinstance(exc, REFUSED) else "unreachable"
        self._delay = FIRST_PROBE
        logger.warning("Redis at %s %s (%s); pausing (downloads in progress carry on) and retrying for up"
                       " to %.0f s", self.masked, self._state, exc, self.outage_timeout)
        if self.stats is not None:
            self.stats.inc_value("gmw/redis/outages")
        self._schedule_probe()

    def _schedule_probe(self) -> None:
        self._probe = _reactor().callLater(self._delay, self._send_probe)

    def _send_probe(self) -> None:
        self._probe = None
        deferToThread(self.client.set, PROBE_KEY, 1, px=1000).addCallbacks(self._back, self._still_down)

    def _back(self, _: Any) -> None:
        if self.down_since is None or self.failed:
            return
        logger.warning("Redis at %s is back after %.1f s; carrying on", self.masked, time.monotonic() - self.down_since)
        self.down_since = None
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _still_down(self, failure: Any) -> None:
        if self.down_since is None or self.failed:
            return
        self._last_error = failure.getErrorMessage()
        elapsed = time.monotonic() - self.down_since
        if elapsed >= self.outage_timeout:
            self._give_up(f"Redis at {self.masked} unreachable for {elapsed:.0f} s: {self._last_error}")
            return
        self._delay = min(self._delay * 2, LONGEST_PROBE)
        self._schedule_probe()

    def _give_up(self, reason: str) -> None:
        self.failed = reason
        gone = RedisUnavailable(reason)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(gone)
        for callback in self._give_up_callbacks:
            callback(gone)

    def wait_in_place(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A call that waits through an outage where it is: for start-up, before anything is downloading."""
        if self.failed:
            raise RedisUnavailable(self.failed)
        return self._blocking(fn, *args, **kwargs)

    def _blocking(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        delay = FIRST_PROBE
        while True:
            try:
                result = fn(*args, **kwargs)
            except TRANSIENT as exc:
                now = time.monotonic()
                if self.down_since is None:
                    self.down_since = now
                    logger.warning("Redis at %s unreachable (%s); retrying for up to %.0f s", self.masked, exc,
                                   self.outage_timeout)
                if now - self.down_since >= self.outage_timeout:
                    self.failed = f"Redis at {self.masked} unreachable for {now - self.down_since:.0f} s: {exc}"
                    raise RedisUnavailable(self.failed) from None
                time.sleep(delay)  # no reactor is running: there is nothing this could hold up
                delay = min(delay * 2, LONGEST_PROBE)
                continue
            if self.down_since is not None:
                logger.warning("Redis at %s is back after %.1f s; carrying on", self.masked, time.monotonic() - self.down_since)
                self.down_since = None
            return result


def ping(url: str, settings: BaseSettings) -> None:
    """Fail fast at start-up: one line naming the URL (password masked)."""
    try:
        client(url, settings).ping()
    except redis.AuthenticationError as exc:
        raise RedisUnavailable(f"Redis at {mask_url(url)} refused the credentials: {exc}") from None
    except (redis.RedisError, OSError) as exc:
        raise RedisUnavailable(f"cannot connect to Redis at {mask_url(url)}: {exc}") from None


_PER_CRAWLER: WeakKeyDictionary[Crawler, tuple[redis.Redis, Guard]] = WeakKeyDictionary()


def for_crawler(crawler: Crawler) -> tuple[redis.Redis, Guard]:
    """One client and one guard per crawler, shared by the scheduler, the seen-store and the rate
    limiter: one connection pool, and one verdict on whether Redis is gone."""
    if crawler not in _PER_CRAWLER:
        url = defaults.redis_url(crawler.settings)
        if not url:
            raise ValueError("GMW_REDIS_URL is not set")
        redis_client = client(url, crawler.settings)
        _PER_CRAWLER[crawler] = (redis_client, Guard(url, crawler.settings, crawler.stats, redis_client))
    return _PER_CRAWLER[crawler]
