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
        # outermost: it counts each leased response's output as the engine receives it
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", MIDDLEWARE, MIDDLEWARE_ORDER)
        # the cluster-wide rate (GMW_GLOBAL_RATE) is taken at send time by gmwcrawler.politeness.gate.SendGateHandler
