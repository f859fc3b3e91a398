"""Downloader middlewares of gmwcrawler."""

from __future__ import annotations

import logging
import time
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from gmwcrawler.identity import identity_key
from gmwcrawler.pipelines.validate import parse_publish_time
from gmwcrawler.seen import seen_store

logger = logging.getLogger(__name__)


class AlreadyStored(IgnoreRequest):
    """Not an error: the article is in the seen-store and old enough not to be re-fetched."""


class IncrementalMiddleware:
    """Scheduled crawls re-download listings, not the whole channel (issue #3).

    An article request (meta `gmw_article`) whose article is already stored is not sent,
    unless the spider runs with `-a refresh=1` or the article is younger than
    GMW_REFRESH_WINDOW seconds (articles get corrected in their first hours).
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.window = crawler.settings.getint("GMW_REFRESH_WINDOW", 6 * 3600)
        self.store = seen_store(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        if not request.meta.get("gmw_article"):
            return None
        options = getattr(self.crawler.spider, "options", None)
        if options is not None and getattr(options, "refresh", False):
            return None
        info = self.store.stored(identity_key(request.url))
        if info is None or info.this_run:
            # stored by this very run: the request is a revisit by a shorter path (gmwcrawler.dupefilter)
            return None
        published = parse_publish_time(info.publish_time)
        if info.duplicate_of is None and published is not None and time.time() - published.timestamp() < self.window:
            self.stats.inc_value("gmw/incremental/refetched_young")
            return None
        self.stats.inc_value("gmw/incremental/skipped_stored")
        raise AlreadyStored(f"already stored: {info.url}")
