"""De-duplicate: by article identity, by identical body, by near-identical body.

The decision is made and recorded atomically in the seen-store (gmwcrawler.incremental.store), so it
holds within a run, across scheduled runs (SQLite) and across workers (Redis).
"""

from __future__ import annotations

import logging
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.utils.serialize import ScrapyJSONEncoder

from gmwcrawler import defaults
from gmwcrawler.incremental.crawl_store import revisits, seen_store
from gmwcrawler.incremental.identity import Signature, content_hash, field_hashes, identity_key, revision_hash
from gmwcrawler.incremental.store import Record, StoreUnavailable, Verdict
from gmwcrawler.incremental.store.base import StorePaused, now_or_when_back

from .drops import Dropper

logger = logging.getLogger(__name__)


class DedupePipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.drop = Dropper(crawler, logger)
        threshold = defaults.get(crawler.settings, "GMW_NEAR_DUP_THRESHOLD")
        self.near_threshold = threshold if threshold > 0 else None  # 0 switches near-duplicate detection off
        self.store = seen_store(crawler)
        self.refreshing = revisits(crawler).refreshing  # articles fetched for a refresh step (gmwcrawler.incremental.revisit)
        self.encoder = ScrapyJSONEncoder(ensure_ascii=False)
        # articles this process kept in this run: a second path to one is a duplicate while its delivery is
        # in flight here; another worker's undelivered mark is a dead delivery, delivered again (seen.base)
        self.kept_here: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        """The item, or a drop; through a seen-store pause (a Redis outage), a coroutine that waits for
        the store to come back and decides then: the reactor is never held up."""
        return now_or_when_back(lambda: self._process(item), lambda: self.stats.inc_value("gmw/dedupe/waited_for_store"))

    def _process(self, item: Any) -> Any:
        adapter = ItemAdapter(item)
        url = adapter["url"]
        fields = field_hashes(adapter)
        record = Record(identity_key(url), url, content_hash(adapter["content"]), Signature.of(adapter["content"]),
                        adapter["publish_time"], fields, revision_hash(fields))
        # where the seen-store also stores items (Redis: the `<spider>:items` list), the item goes in
        # the same atomic step as its "seen" mark
        item_json = self.encoder.encode(dict(adapter)) if self.store.stores_items else None
        try:
            decision = self.store.decide(record, self.near_threshold, item_json, kept_here=record.key in self.kept_here,
                                         refresh=record.key in self.refreshing)
        except StorePaused:
            raise
        except StoreUnavailable as exc:
            # distributed mode: the worker is ending; its lease is not acknowledged, so another
            # worker fetches this page again and stores the item
            raise self.drop("store_unavailable", f"{exc}; the page is fetched again by another worker", url,
                            level=logging.ERROR) from None
        self.refreshing.discard(record.key)
        self.stats.inc_value(f"gmw/dedupe/{decision.verdict.value}")
        if decision.verdict.keeps_item:
            self.kept_here.add(record.key)
            try:
                alt = decision.alt_urls if decision.alt_urls is not None else self.store.alt_urls(record.key)
            except StoreUnavailable:  # given up or paused: the decision is made and the item stored already
                alt = []  # the item is stored already; only its alt URLs are not known here
            if alt:
                adapter["alt_urls"] = alt
            # which version of the article this is, and for an update what changed
            # (the Redis store adds the same two fields to the item it keeps)
            if decision.version is not None:
                adapter["version"] = decision.version
            if decision.changed_fields is not None:
                adapter["changed_fields"] = decision.changed_fields
            return item
        kept = f"{decision.kept_url} ({decision.kept_key})"
        if decision.verdict is Verdict.NEAR_DUPLICATE:
            detail = f"{decision.similarity:.2f} similar to {kept}"
        else:
            detail = {
                Verdict.DUPLICATE_URL: f"the same article as {kept}",
                Verdict.UNCHANGED: f"stored before, content unchanged: {kept}",
                Verdict.DUPLICATE_CONTENT: f"the same body as {kept}",
            }[decision.verdict]
        level = logging.INFO if decision.verdict in (Verdict.UNCHANGED, Verdict.DUPLICATE_URL) else logging.WARNING
        raise self.drop(decision.verdict.value, detail, url, level=level, kept_key=decision.kept_key,
                        kept_url=decision.kept_url)
