"""Conditional requests across runs: a listing page or a refreshed article is asked
with the ETag / Last-Modified its last 200 gave (kept in the seen-store by the spider), and a
304 answer costs the site no body.

A 304 is not an error: it reaches the callback (`handle_httpstatus_list`), which reads a
listing's entries from the seen-store and ends a refresh; RetryMiddleware does not retry it and
RedirectMiddleware does not follow it. Works with HttpCache off (the default) and on.
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from gmwcrawler import defaults
from gmwcrawler.incremental.crawl_store import seen_store
from gmwcrawler.incremental.store.base import now_or_when_back
from gmwcrawler.meta import CONDITIONAL_META, REFRESH_META

_ASKED = (b"If-None-Match", b"If-Modified-Since")


class ConditionalRequestsMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats
        self.store = seen_store(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestsMiddleware:
        if not defaults.get(crawler.settings, "GMW_CONDITIONAL_REQUESTS"):
            raise NotConfigured  # no message: Scrapy would log a warning on every run
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        return now_or_when_back(lambda: self._condition(request))

    def _condition(self, request: Request) -> Any:
        if not (request.meta.get(CONDITIONAL_META) or request.meta.get(REFRESH_META)):
            return None
        if any(name in request.headers for name in _ASKED):
            return None  # a retry of a conditional request
        known = self.store.validators(request.url)
        if known is None or not (known.etag or known.last_modified):
            return None
        if known.etag:
            request.headers[b"If-None-Match"] = known.etag
        if known.last_modified:
            request.headers[b"If-Modified-Since"] = known.last_modified
        request.meta["handle_httpstatus_list"] = [*request.meta.get("handle_httpstatus_list", ()), 304]
        self.stats.inc_value("gmw/http/conditional")
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status == 304 and any(name in request.headers for name in _ASKED):
            self.stats.inc_value("gmw/http/not_modified")
        return response
