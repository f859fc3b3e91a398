"""The Scrapy add-on that switches distributed mode on when GMW_REDIS_URL is set — from the
environment, settings.py or `-s` alike (add-ons see the final settings)."""

from __future__ import annotations

from scrapy.settings import BaseSettings

from gmwcrawler import defaults

from .leases import MIDDLEWARE, MIDDLEWARE_ORDER


class DistributedMode:
    def update_settings(self, settings: BaseSettings) -> None:
        if not defaults.redis_url(settings):
            return
        settings.set("SCHEDULER", "gmwcrawler.distributed.scheduler.LeasedScheduler", "addon")
        settings.set_in_component_priority_dict(
            "EXTENSIONS", "gmwcrawler.distributed.extension.DistributedExtension", 100)
        # outermost: it counts each leased response's output as the engine receives it (issue #15)
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", MIDDLEWARE, MIDDLEWARE_ORDER)
        # after the incremental check (50), before robots.txt (100): every request that reaches
        # the site, robots.txt included, takes a token of the host's cluster-wide bucket
        settings.set_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", "gmwcrawler.distributed.ratelimit.GlobalRateLimitMiddleware", 60)
