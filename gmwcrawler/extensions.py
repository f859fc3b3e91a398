"""Extensions of gmwcrawler."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)


class StatsFile:
    """Write the crawl's final stats as JSON to GMW_STATS_FILE (monitoring, tests).

    Written on spider_closed, after Scrapy's own stats are final; values that JSON
    cannot hold (datetimes) are written as ISO 8601 strings.
    """

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StatsFile:
        path = crawler.settings.get("GMW_STATS_FILE")
        if not path:
            raise NotConfigured  # no message: Scrapy would log a warning on every run
        ext = cls(crawler, Path(path))
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_closed(self, spider: Spider, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        stats.setdefault("finish_reason", reason)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(stats, default=str, ensure_ascii=False, indent=1, sort_keys=True), "utf-8")
        logger.info("Stats written to %s", self.path)
