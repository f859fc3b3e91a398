"""Listing pages: node_<node>.htm, node_<node>_N.htm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from scrapy.http import TextResponse

from .text import clean_text, readable
from .urls import absolute_url


@dataclass(frozen=True)
class ListingEntry:
    url: str
    title: str
    day: date | None


@dataclass
class ListingPage:
    entries: list[ListingEntry] = field(default_factory=list)
    next_url: str | None = None
    bad_links: int = 0  # hrefs that are no URL, skipped (issue #17)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(clean_text(value)[:10])
    except ValueError:
        return None


def extract_listing(response: TextResponse) -> ListingPage:
    """Entries of `ul.channel-newsGroup` and the 下一页 link.

    Evidence: real crawl output of node_9840 (May 2026) shows
    `<li><a href=2026-05/14/content_38763645.htm target=_blank>` (relative, unquoted);
    other gmw channels wrap the link in `span.channel-newsTitle`. Both are accepted.
    """
    response = readable(response)
    page = ListingPage()
    for li in response.css("ul.channel-newsGroup > li"):
        href = li.xpath("./a/@href | ./span[contains(@class, 'channel-newsTitle')]/a/@href").get()
        if not href or href.strip().lower().startswith(("javascript:", "#")):
            continue
        url = absolute_url(response, href)
        if url is None:
            page.bad_links += 1
            continue
        title = clean_text(" ".join(li.xpath("./a//text() | ./span[contains(@class, 'channel-newsTitle')]/a//text()").getall()))
        page.entries.append(ListingEntry(url, title, _day(li.css(".channel-newsTime::text").get(""))))
    nxt = response.xpath("//*[@id='displaypagenum']//a[normalize-space(.)='下一页']/@href").get()
    if nxt:
        page.next_url = absolute_url(response, nxt)
        page.bad_links += page.next_url is None
    return page
