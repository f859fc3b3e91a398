"""Dropping an item: a DropItem with a reason, a stat per reason, one log line per reason."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem


class ItemDropped(DropItem):
    def __init__(self, reason: str, detail: str, url: str | None, **facts: Any) -> None:
        super().__init__(f"{reason}: {detail} <{url}>")
        self.reason = reason
        self.url = url
        self.facts = facts


class Dropper:
    """Counts `gmw/dropped/<reason>`; logs the first drop of each reason at WARNING (with its
    URL), the rest at DEBUG, so a thousand duplicates do not bury the log."""

    def __init__(self, crawler: Crawler, logger: logging.Logger) -> None:
        self.stats = crawler.stats
        self.logger = logger
        self.seen_reasons: set[str] = set()

    def __call__(self, reason: str, detail: str, url: str | None, level: int = logging.WARNING, **facts: Any) -> ItemDropped:
        self.stats.inc_value(f"gmw/dropped/{reason}")
        first = reason not in self.seen_reasons
        self.seen_reasons.add(reason)
        self.logger.log(level if first else logging.DEBUG, "Dropped (%s): %s <%s>%s", reason, detail, url,
                        " — further drops for this reason are logged at DEBUG" if first else "")
        return ItemDropped(reason, detail, url, **facts)
