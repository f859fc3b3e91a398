"""Downloader middlewares of gmwcrawler."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest

from gmwcrawler.incremental.crawl_store import revisits
from gmwcrawler.incremental.revisit import Action
from gmwcrawler.incremental.store.base import now_or_when_back
from gmwcrawler.meta import ARTICLE_META, REFRESH_CANDIDATE_META, REFRESH_META, REQUEUED_META

logger = logging.getLogger(__name__)


class AlreadyStored(IgnoreRequest):
    """Not an error: the article is in the seen-store and no refresh is due (or it failed for
    good earlier and its backoff has not passed)."""


class IncrementalMiddleware:
    """Scheduled crawls download what is new, not the whole channel.

    An article request (meta `gmw_article`) is sent or not as gmwcrawler.incremental.revisit decides:
    a first fetch, a due refresh step, a failed page whose backoff passed; `-a refresh=1`
    sends them all.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.revisits = revisits(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> IncrementalMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> Any:
        return now_or_when_back(lambda: self._decide(request))

    def _decide(self, request: Request) -> Any:
        if not request.meta.get(ARTICLE_META) or REFRESH_META in request.meta or request.meta.get(REQUEUED_META):
            return None
        options = getattr(self.crawler.spider, "options", None)
        if options is not None and getattr(options, "refresh", False):
            return None
        action = self.revisits.article(request.url)
        if request.meta.get(REFRESH_CANDIDATE_META) and action in (Action.REVISIT, Action.SKIP_STORED,
                                                                    Action.SKIP_FAILED):
            # past the dupe filter for a revisit that is no longer due: another node's listing was first
            self.stats.inc_value("gmw/incremental/refresh_candidate_skipped")
            raise AlreadyStored(f"{action.value}: {request.url}")
        if action in (Action.FETCH, Action.REVISIT):
            return None
        self.stats.inc_value(f"gmw/incremental/{action.value}")
        if action is Action.REFRESH:
            request.meta[REFRESH_META] = True
            return None
        if action is Action.RETRY_FAILED:
            return None
        raise AlreadyStored(f"{action.value}: {request.url}")
