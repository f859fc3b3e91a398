"""A duplicate filter that lets a request through again when it is reached by a shorter path.

Article A reached first through 相关阅读 (hop 1) and only later from a listing (hop 0)
would otherwise be dropped the second time, and A's own related reading never followed:
what a crawl finds would depend on which page happened to be parsed first (measured:
56 of 2,000 articles missed by 3 workers). Requests carry their hop count in meta
(`gmw_hops`); the filter keeps the smallest hop count per fingerprint and passes a
request that beats it (counted as `gmw/dupefilter/shorter_path`). A request without a hop
count counts as hop 0 and passes only a fingerprint never seen.

`admits()` is the rule, once. The distributed scheduler applies it in Redis
with `GMW_DUPEFILTER=set` (the SYNC script of distributed/scripts.py; tests/test_dedupe.py
runs both against `admits()`). With `GMW_DUPEFILTER=bloom` it does NOT: a Bloom filter
holds no hop counts, so a page first reached through related reading is not fetched again
from a listing, and its own related reading may stay unfollowed at the depth limit. That is
the price of Bloom mode's memory (docs/operations.md, "Fingerprints at scale").
"""

from __future__ import annotations

from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.dupefilters import RFPDupeFilter

from gmwcrawler.meta import HOPS_META


def admits(known: int | None, hops: int | None) -> bool:
    """Whether a request at `hops` (None: no hop count) is fetched, given the smallest hop count
    seen for its fingerprint (None: never seen)."""
    return known is None or (hops is not None and hops < known)


class HopAwareDupeFilter(RFPDupeFilter):
    stats: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HopAwareDupeFilter:
        dupefilter = super().from_crawler(crawler)
        dupefilter.stats = crawler.stats
        return dupefilter

    def request_seen(self, request: Request) -> bool:
        fp = self.fingerprinter.fingerprint(request)
        hops = request.meta.get(HOPS_META)
        known = self.hops.get(fp)
        # Scrapy's own set records every fingerprint (and JOBDIR's file); one it knew before this
        # process (a JOBDIR of an earlier run) has no hop count kept: taken as hop 0
        if super().request_seen(request) and known is None:
            known = 0
        if not admits(known, hops):
            return True
        if known is not None and self.stats is not None:
            self.stats.inc_value("gmw/dupefilter/shorter_path")
        self.hops[fp] = 0 if hops is None else hops
        return False

    @property
    def hops(self) -> dict[bytes, int]:
        if "_hops" not in self.__dict__:
            self._hops: dict[bytes, int] = {}
        return self._hops
