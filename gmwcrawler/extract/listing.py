"""Listing pages: node_<node>.htm, node_<node>_N.htm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from scrapy.http import TextResponse

from .text import clean_text


@dataclass(frozen=True)
class ListingEntry:
    url: str
    title: str
    day: date | None


@dataclass
class ListingPage:
    entries: list[ListingEntry] = field(default_factory=list)
    next_url: str | None = None


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
    page = ListingPage()
    for li in response.css("ul.channel-newsGroup > li"):
        href = li.xpath("./a/@href | ./span[contains(@class, 'channel-newsTitle')]/a/@href").get()
        if not href or href.strip().lower().startswith(("javascript:", "#")):
            continue
        title = clean_text(" ".join(li.xpath("./a//text() | ./span[contains(@class, 'channel-newsTitle')]/a//text()").getall()))
        page.entries.append(ListingEntry(response.urljoin(href.strip()), title, _day(li.css(".channel-newsTime::text").get(""))))
    nxt = response.xpath("//*[@id='displaypagenum']//a[normalize-space(.)='下一页']/@href").get()
    if nxt:
        page.next_url = response.urljoin(nxt.strip())
    return page
