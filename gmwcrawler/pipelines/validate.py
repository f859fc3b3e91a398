"""Validate: required fields present and well-formed, absurd values refused."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler

from gmwcrawler import defaults
from gmwcrawler.extract.text import parse_publish_time

from .drops import Dropper

logger = logging.getLogger(__name__)
# gmw.cn went online in 1998; nothing it publishes is older.
EARLIEST = datetime(1998, 1, 1, tzinfo=UTC)


class ValidatePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.drop = Dropper(crawler, logger)
        self.stats = crawler.stats
        self.max_chars = defaults.get(crawler.settings, "GMW_MAX_CONTENT_CHARS")
        self.future_slack = timedelta(seconds=defaults.get(crawler.settings, "GMW_FUTURE_SLACK"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self.drop("missing_url", f"url is {url!r}", None)
        for field in ("title", "content"):
            value = adapter.get(field)
            if not isinstance(value, str) or not value.strip():
                raise self.drop(f"missing_{field}", f"{field} is empty", url)
        if len(adapter["content"]) > self.max_chars:
            raise self.drop("content_too_long", f"content has {len(adapter['content']):,} characters "
                            f"(GMW_MAX_CONTENT_CHARS={self.max_chars:,})", url)
        moment = parse_publish_time(adapter.get("publish_time"))
        if moment is None:
            raise self.drop("bad_publish_time", f"publish_time {adapter.get('publish_time')!r} is not a date and time", url)
        if moment < EARLIEST:
            raise self.drop("publish_time_out_of_range", f"publish_time {adapter['publish_time']} is before 1998", url)
        if moment > datetime.now(UTC) + self.future_slack:
            raise self.drop("publish_time_out_of_range", f"publish_time {adapter['publish_time']} is in the future", url)
        self.stats.inc_value("gmw/pipeline/validated")
        return item
