"""The Redis client of a worker: bounded timeouts, retries with backoff, and a guard that
pauses the worker through a short outage and ends it cleanly after a long one."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from gmwcrawler import defaults
from gmwcrawler.redact import mask_url
from gmwcrawler.seen.base import StoreUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class RedisUnavailable(StoreUnavailable):
    pass


def client(url: str, settings: BaseSettings) -> redis.Redis:
    """`redis://`, `rediss://` (TLS), user and password in the URL; calls run on the reactor
    thread, so every timeout is short and a broken connection is retried quickly."""
    timeout = defaults.get(settings, "GMW_REDIS_SOCKET_TIMEOUT")
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=min(timeout, 3.0),
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=list(TRANSIENT),
        client_name="gmwcrawler",
    )


class HotScript:
    """A Lua script for the once-per-page calls (queue sync, decide), sent with EVALSHA over a
    connection of its own: redis-py's per-call machinery (pool checkout, retry wrapper, metrics)
    costs 110 µs of CPU a call here, this 45 (bench/README.md). Called like redis-py's Script;
    a dropped connection is retried once at once, then left to the Guard."""

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


class Guard:
    """Runs Redis calls; through an outage it blocks (the worker pauses, with a warning) and
    retries with backoff for up to GMW_REDIS_OUTAGE_TIMEOUT seconds, then raises
    RedisUnavailable so the worker can end with a clear message."""

    def __init__(self, url: str, settings: BaseSettings, stats: Any = None) -> None:
        self.url = url
        self.masked = mask_url(url)
        self.outage_timeout = defaults.get(settings, "GMW_REDIS_OUTAGE_TIMEOUT")
        self.stats = stats
        self.down_since: float | None = None
        self.failed: str | None = None  # once given up, every later call fails at once

    def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.failed:
            raise RedisUnavailable(self.failed)
        delay = 0.1
        while True:
            try:
                result = fn(*args, **kwargs)
            except TRANSIENT as exc:
                now = time.monotonic()
                if self.down_since is None:
                    self.down_since = now
                    logger.warning("Redis at %s unreachable (%s); pausing and retrying for up to %.0f s",
                                   self.masked, exc, self.outage_timeout)
                    if self.stats is not None:
                        self.stats.inc_value("gmw/redis/outages")
                if now - self.down_since >= self.outage_timeout:
                    self.failed = f"Redis at {self.masked} unreachable for {now - self.down_since:.0f} s: {exc}"
                    raise RedisUnavailable(self.failed) from None
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
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
        _PER_CRAWLER[crawler] = (client(url, crawler.settings), Guard(url, crawler.settings, crawler.stats))
    return _PER_CRAWLER[crawler]
