"""A worker that checks, from the inside, when its leases are acknowledged (issue #15).

Run by tests/test_leases.py as `scrapy runspider tests/lease_probe.py` in distributed mode,
against a small site of the test's own whose pages take every path a response can take:
plain pages with children, a callback that raises after an item, a 404 (errback called from
the spider middlewares), a redirect, a refused connection (errback called by the scraper,
with an item and a child), a page the offsite filter drops.

Two probes count violations in the stats:
- `probe/unheld_in_pipeline`: an item is in the (slow) pipeline while its lease is no longer held;
- `probe/ack_before_children`: a lease is acknowledged in a Redis step before every request its
  callback or errback produced was sent to the queue (acknowledgements are sent at once here, so
  an early one shows).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

from scrapy import Request, Spider
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from gmwcrawler.distributed.leases import LEASE_META
from gmwcrawler.distributed.scheduler import LeasedScheduler


class LeaseProbeSpider(Spider):
    name = "lease_probe"
    allowed_callbacks = ("parse_list", "parse_page", "page_failed")
    # what its queue entries may carry (gmwcrawler.distributed.serializer refuses the rest)
    queue_cb_kwargs: ClassVar[dict[str, dict[str, Any]]] = {"parse_page": {"parent": str}}
    custom_settings: ClassVar[dict[str, Any]] = {
        "ITEM_PIPELINES": {"tests.lease_probe.SlowPipeline": 100},
        "SCHEDULER": "tests.lease_probe.CheckingScheduler",
        "RETRY_TIMES": 1,
        "ROBOTSTXT_OBEY": False,
    }

    def __init__(self, base: str, dead: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = base
        self.dead = dead
        self.allowed_domains = ["127.0.0.1"]
        self.children: Counter[str] = Counter()  # parent lease -> requests its callback/errback produced

    async def start(self):
        yield Request(f"{self.base}/list", callback=self.parse_list, errback=self.page_failed)

    def _child(self, parent: str, url: str) -> Request:
        self.children[parent] += 1
        return Request(url, callback=self.parse_page, errback=self.page_failed, cb_kwargs={"parent": parent})

    def parse_list(self, response):
        lease = response.meta.get(LEASE_META)
        for href in response.css("a::attr(href)").getall():
            yield self._child(lease, response.urljoin(href))
        yield self._child(lease, f"{self.dead}/dead")
        yield Request("http://offsite.invalid/x", callback=self.parse_page)  # dropped by the offsite filter

    def parse_page(self, response, parent: str | None = None):
        lease = response.meta.get(LEASE_META)
        yield {"url": response.url, "lease": lease}
        if response.url.endswith("/boom"):
            raise ValueError("the callback fails after its first item")
        if "/p/" in response.url and not response.url.endswith("/c"):
            yield self._child(lease, response.url + "/c")

    def page_failed(self, failure):
        lease = failure.request.meta.get(LEASE_META)
        yield {"url": failure.request.url, "lease": lease, "failed": type(failure.value).__name__}
        if failure.request.url.endswith("/dead"):
            yield self._child(lease, f"{self.base}/p/after-dead")


class SlowPipeline:
    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item):
        from twisted.internet import reactor  # the one Scrapy installed (TWISTED_REACTOR), not a default one

        await maybe_deferred_to_future(deferLater(reactor, 0.2))  # (either reactor) long enough for the worker to lease and acknowledge others meanwhile
        if item["lease"] and item["lease"] not in self.crawler.engine.scheduler.held:
            self.crawler.stats.inc_value("probe/unheld_in_pipeline")
        self.crawler.stats.inc_value("probe/items")
        return item


class CheckingScheduler(LeasedScheduler):
    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        self.sent: Counter[str] = Counter()  # parent lease -> its requests sent to Redis

    def _ack(self, entry: str) -> None:
        # sent at the next turn of the loop, not with the next lease: an acknowledgement made before
        # the scraper has handed over every child would reach Redis before them
        from twisted.internet import reactor

        super()._ack(entry)
        reactor.callLater(0, self.flush)

    def _sync(self, lease: int):
        for out in self.outbox:
            parent = json.loads(out.payload).get("cb_kwargs", {}).get("parent")
            if parent:
                self.sent[parent] += 1
        for entry in self.acks:
            self.stats.inc_value("probe/acks")
            if self.sent[entry] != self.spider.children[entry]:
                self.stats.inc_value("probe/ack_before_children")
        return super()._sync(lease)
