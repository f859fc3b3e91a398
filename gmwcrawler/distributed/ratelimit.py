"""Polite as one crawler: a token bucket per host in Redis, shared by all workers (issue #4).

GMW_GLOBAL_RATE requests per second reach one host, whether 1 or 10 workers crawl;
AutoThrottle still applies within each worker. 0 switches the limit off.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from gmwcrawler import defaults

from .connection import RedisUnavailable, for_crawler
from .keys import Keys
from .scripts import RATE


class GlobalRateLimitMiddleware:
    def __init__(self, crawler: Crawler, rate: float) -> None:
        settings = crawler.settings
        self.stats = crawler.stats
        self.rate = rate
        self.burst = max(1.0, defaults.get(settings, "GMW_GLOBAL_BURST"))
        self.redis, self.guard = for_crawler(crawler)
        self.keys = Keys.of(settings, crawler.spidercls.name)
        self._reserve = self.redis.register_script(RATE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> GlobalRateLimitMiddleware:
        url = defaults.redis_url(crawler.settings)
        rate = defaults.get(crawler.settings, "GMW_GLOBAL_RATE")
        if not url or rate <= 0:
            raise NotConfigured
        return cls(crawler, rate)

    async def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        try:
            # through a Redis outage the request waits for its turn (politeness holds), downloads in flight do not
            wait = float(await self.guard.call(self._reserve, keys=[self.keys.rate(host)], args=[self.rate, self.burst]))
        except RedisUnavailable:
            return  # the scheduler ends the worker; do not hold this request hostage
        if wait > 0:
            self.stats.inc_value("gmw/ratelimit/delayed")
            await asyncio.sleep(wait)
        return
