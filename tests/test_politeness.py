"""What the site asks (gmwcrawler/politeness/gate.py): Retry-After, 503 backoff, one budget per operator."""

from __future__ import annotations

import asyncio
import email.utils

import pytest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from gmwcrawler.politeness.gate import Pauses, retry_after_seconds, site_of
from gmwcrawler.spiders.politics import PoliticsSpider


@pytest.mark.parametrize(("host", "site"), [
    ("politics.gmw.cn", "gmw.cn"), ("e.gmw.cn", "gmw.cn"), ("GMW.CN.", "gmw.cn"), ("m.gmw.cn", "gmw.cn"),
    ("img.gmw.cn", "gmw.cn"), ("notgmw.cn", "notgmw.cn"), ("www.xinhuanet.com", "www.xinhuanet.com"),
])
def test_every_gmw_cn_host_is_one_site(host, site):
    assert site_of(host, ["gmw.cn"]) == site


@pytest.mark.parametrize(("value", "seconds"), [
    (b"30", 30.0), ("0", 0.0), (b"  120 ", 120.0), (None, None), (b"", None), (b"soon", None), (b"-5", None),
    (email.utils.formatdate(1_000_090, usegmt=True), 90.0),  # an HTTP date, 90 s from now
    (email.utils.formatdate(999_000, usegmt=True), 0.0),  # a date already past: go on
])
def test_retry_after_in_seconds_or_as_a_date(value, seconds):
    assert retry_after_seconds(value, now=1_000_000.0) == seconds


def pauses(**settings) -> Pauses:
    return Pauses(get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory", **settings}))


def answer(status: int, retry_after: str | None = None) -> Response:
    return Response("https://politics.gmw.cn/x.htm", status=status,
                    headers={"Retry-After": retry_after} if retry_after is not None else {})


def test_a_503_without_retry_after_backs_off_exponentially_until_a_good_answer():
    p = pauses(GMW_BACKOFF_BASE="5", GMW_RETRY_AFTER_MAX="600")
    assert [p.signal("gmw.cn", answer(503)) for _ in range(9)] == [5, 10, 20, 40, 80, 160, 320, 600, 600]
    assert p.signal("gmw.cn", answer(200)) is None
    assert p.signal("gmw.cn", answer(503)) == 5  # the backoff starts again


def test_retry_after_is_obeyed_and_capped():
    p = pauses(GMW_RETRY_AFTER_MAX="600")
    assert p.signal("gmw.cn", answer(429, "30")) == 30
    assert p.signal("gmw.cn", answer(503, "86400")) == 600
    assert p.signal("gmw.cn", answer(404)) is None and p.signal("gmw.cn", answer(500)) is None


def test_a_pause_holds_this_worker_and_is_counted():
    p = pauses()
    asyncio.run(p.pause("gmw.cn", 30))
    assert 29 < p.local_remaining("gmw.cn") <= 30 and p.local_remaining("www.xinhuanet.com") == 0
    asyncio.run(p.pause("gmw.cn", 5))  # a shorter one does not cut it short
    assert p.local_remaining("gmw.cn") > 29
    assert p.stats.get_value("gmw/site/pauses") == 1 and p.stats.get_value("gmw/site/pause_max_s") == 30


def test_every_gmw_cn_host_shares_one_download_slot():
    """Single mode too: one concurrency and delay budget for the operator, not one per host name (Scrapy's
    `download_slot`); a host of another operator keeps its own."""
    from scrapy import Request

    from gmwcrawler.politeness.gate import SiteSignalsMiddleware

    mw = SiteSignalsMiddleware(get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory"}))
    slots = set()
    for url in ("https://politics.gmw.cn/a.htm", "https://e.gmw.cn/b.htm", "https://m.gmw.cn/c.htm",
                "https://www.xinhuanet.com/d.htm"):
        request = Request(url)
        mw.process_request(request)
        slots.add(request.meta["download_slot"])
    assert slots == {"gmw.cn", "www.xinhuanet.com"}
