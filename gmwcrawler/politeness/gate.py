"""What the site asks, obeyed by every worker, at the moment a request is really sent.

- **One budget per operator.** All of gmw.cn is one organisation's servers: politics., news., e., m. …
  share one download slot (single mode: one concurrency and delay budget, Scrapy's `download_slot`)
  and one rate bucket in Redis (distributed mode). GMW_SITE_GROUPS lists the domains so grouped; any
  other host is a group of its own.
- **The site's signals.** A 429 or 503 with `Retry-After` (seconds or an HTTP date) pauses its group for
  that long, capped at GMW_RETRY_AFTER_MAX; a 503 without it backs off exponentially from
  GMW_BACKOFF_BASE (reset by the next good answer). In distributed mode the pause is a Redis key with
  that time to live, so every worker waits (Scrapy has no Retry-After support: scrapy#3849).
- **At send time.** The wait happens in the download handler (SendGateHandler, a documented extension
  point), after the request has waited for its download slot: a token taken earlier, in a downloader
  middleware, let requests bunch up behind the slot (about workers × GMW_MAX_LEASES above the rate).
  The request's DOWNLOAD_TIMEOUT starts after the wait.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.misc import build_from_crawler

from gmwcrawler import defaults
from gmwcrawler.distributed.connection import RedisPaused, RedisUnavailable, for_crawler
from gmwcrawler.distributed.keys import Keys
from gmwcrawler.distributed.scripts import RATE

logger = logging.getLogger(__name__)


def site_of(host: str, groups: list[str]) -> str:
    """The budget a host belongs to: the first group it is or is under, else the host itself."""
    host = host.lower().rstrip(".")
    return next((g for g in groups if host == g or host.endswith("." + g)), host)


def retry_after_seconds(value: bytes | str | None, now: float) -> float | None:
    """`Retry-After: 30` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` as seconds from now; None if absent or
    unreadable (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


class Pauses:
    """Until when each site group is paused: in this process, and in Redis for every worker."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.cap = defaults.get(settings, "GMW_RETRY_AFTER_MAX")
        self.base = defaults.get(settings, "GMW_BACKOFF_BASE")
        self.local: dict[str, float] = {}  # site -> monotonic time it may be asked again
        self.failures: dict[str, int] = {}  # site -> 503s without Retry-After in a row
        self.redis = self.guard = self.keys = None
        if defaults.redis_url(settings):
            self.redis, self.guard = for_crawler(crawler)
            self.keys = Keys.of(settings, crawler.spidercls.name)

    def signal(self, site: str, response: Response) -> float | None:
        """The pause a response asks for (429/503), or None; a good answer ends the backoff."""
        if response.status not in (429, 503):
            if response.status < 500:
                self.failures.pop(site, None)
            return None
        asked = retry_after_seconds(response.headers.get(b"Retry-After"), time.time())
        if asked is None:
            if response.status == 429:
                asked = self.base
            else:
                n = self.failures[site] = self.failures.get(site, 0) + 1
                asked = self.base * 2 ** (n - 1)
        return min(asked, self.cap)

    async def pause(self, site: str, seconds: float) -> None:
        if seconds <= 0:
            return
        until = time.monotonic() + seconds
        if until <= self.local.get(site, 0):
            return
        self.local[site] = until
        self.stats.inc_value("gmw/site/pauses")
        self.stats.max_value("gmw/site/pause_max_s", round(seconds, 1))
        if self.redis is not None:
            try:  # a longer pause already set by another worker stays (NX would keep a shorter one)
                current = await self.guard.call(self.redis.pttl, self.keys.pause(site))
                if current is None or current < seconds * 1000:
                    await self.guard.call(self.redis.set, self.keys.pause(site), "1", px=max(1, int(seconds * 1000)))
            except (RedisUnavailable, RedisPaused):
                pass  # this worker still pauses

    def local_remaining(self, site: str) -> float:
        return max(0.0, self.local.get(site, 0) - time.monotonic())

    async def remaining(self, site: str) -> float:
        """Seconds before the site may be asked again: this process's pause, or the cluster's (Redis key TTL)."""
        wait = max(0.0, self.local.get(site, 0) - time.monotonic())
        if self.redis is not None:
            try:
                ttl = await self.guard.call(self.redis.pttl, self.keys.pause(site))
                wait = max(wait, (ttl or 0) / 1000)
            except (RedisUnavailable, RedisPaused):
                pass
        return wait


_GATES: dict[Crawler, Gate] = {}


class Gate:
    """What a request waits for just before it is sent: its site's pause, then the cluster's rate token."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.groups = [g.lower() for g in defaults.get(settings, "GMW_SITE_GROUPS")]
        self.pauses = Pauses(crawler)
        self.rate = defaults.get(settings, "GMW_GLOBAL_RATE") if defaults.redis_url(settings) else 0
        self.burst = max(1.0, defaults.get(settings, "GMW_GLOBAL_BURST"))
        if self.rate > 0:
            self.redis, self.guard = for_crawler(crawler)
            self.keys = Keys.of(settings, crawler.spidercls.name)
            self.reserve = self.redis.register_script(RATE)

    @classmethod
    def of(cls, crawler: Crawler) -> Gate:
        if crawler not in _GATES:
            _GATES[crawler] = cls(crawler)
        return _GATES[crawler]

    def site(self, url: str) -> str:
        return site_of(urlsplit(url).hostname or "", self.groups)

    async def before_send(self, request: Request) -> None:
        site = self.site(request.url)
        while (wait := self.pauses.local_remaining(site)) > 0:
            self.stats.inc_value("gmw/site/paused_requests")
            await asyncio.sleep(wait)
        if self.rate <= 0:  # no bucket: the cluster's pause alone
            while (wait := await self.pauses.remaining(site)) > 0:
                self.stats.inc_value("gmw/site/paused_requests")
                await asyncio.sleep(wait)
            return
        while True:  # one call: the cluster's pause, else a token
            try:
                paused, wait = await self.guard.call(self.reserve, keys=[self.keys.rate(site), self.keys.pause(site)],
                                                     args=[self.rate, self.burst])
            except (RedisUnavailable, RedisPaused):
                return  # the scheduler ends the worker; do not hold this request hostage
            wait = float(wait)
            if int(paused):
                self.stats.inc_value("gmw/site/paused_requests")
                await asyncio.sleep(wait)
                continue
            if wait > 0:
                self.stats.inc_value("gmw/ratelimit/delayed")
                await asyncio.sleep(wait)
            return

    async def after_answer(self, request: Request, response: Response) -> None:
        """Turn a 429/503 into a pause of the request's site group."""
        site = self.site(request.url)
        seconds = self.pauses.signal(site, response)
        if seconds:
            retry_after = response.headers.get(b"Retry-After")
            logger.warning("%s answered %d%s: pausing %s for %.0f s (every worker)", request.url, response.status,
                           f" (Retry-After: {retry_after.decode('latin-1')})" if retry_after else "", site, seconds)
            await self.pauses.pause(site, seconds)


class SiteSignalsMiddleware:
    """A downloader middleware: puts every request of a site group in one download slot (the pause itself is
    set by SendGateHandler, the moment the answer arrives)."""

    def __init__(self, crawler: Crawler) -> None:
        self.gate = Gate.of(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteSignalsMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        request.meta["download_slot"] = self.gate.site(request.url)


class SendGateHandler(BaseDownloadHandler):
    """Scrapy's HTTP/1.1 handler, entered only once the Gate lets the request go."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.inner: Any = build_from_crawler(HTTP11DownloadHandler, crawler)
        self.gate = Gate.of(crawler)

    async def download_request(self, request: Request) -> Response:
        await self.gate.before_send(request)
        response = await self.inner.download_request(request)
        # Here, not in a middleware: every moment between the 429 and the Redis key is a moment in which the
        # other workers keep asking (test_a_retry_after_pauses_the_site_for_every_worker).
        await self.gate.after_answer(request, response)
        return response

    async def close(self) -> None:
        _GATES.pop(self.crawler, None)
        await self.inner.close()
