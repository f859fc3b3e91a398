"""Listing pages: node_<node>.htm, node_<node>_N.htm."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from scrapy.http import TextResponse

from .text import clean_text, readable
from .urls import absolute_url

# guancha lists give the date as 发布时间：2026-05-14 in .reading_right (RSSHub's gmw route)
_PUBLISHED_RE = re.compile(r"^\s*发布时间[:：]\s*")


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


# The entry's link, most specific first: the direct link of node_9840's items (real crawl output,
# May 2026), span.channel-newsTitle (other gmw channels), .main_title > a (guancha node 11273, RSSHub's
# gmw route), else any content_ link inside the item (RSSHub's gmw route accepts one anywhere).
_ENTRY_LINKS = ("./a[@href]", "./span[contains(@class, 'channel-newsTitle')]/a[@href]",
                ".//*[contains(@class, 'main_title')]/a[@href]", ".//a[contains(@href, 'content_')]")


def extract_listing(response: TextResponse) -> ListingPage:
    """Entries of `ul.channel-newsGroup` (and guancha's `.content_left_main` list) and the 下一页 link.

    Evidence: real crawl output of node_9840 (May 2026) shows
    `<li><a href=2026-05/14/content_38763645.htm target=_blank>` (relative, unquoted);
    other gmw channels wrap the link in `span.channel-newsTitle`. Both are accepted.
    """
    response = readable(response)
    page = ListingPage()
    for li in response.css("ul.channel-newsGroup > li, .content_left_main li"):
        link = next((found[0] for xpath in _ENTRY_LINKS if (found := li.xpath(xpath))), None)
        href = link.attrib.get("href") if link is not None else None
        if not href or href.strip().lower().startswith(("javascript:", "#")):
            continue
        url = absolute_url(response, href)
        if url is None:
            page.bad_links += 1
            continue
        title = clean_text(" ".join(link.xpath(".//text()").getall()))
        day = li.css(".channel-newsTime::text").get("") or _PUBLISHED_RE.sub("", " ".join(li.css(".reading_right ::text").getall()))
        page.entries.append(ListingEntry(url, title, _day(day)))
    nxt = response.xpath("//*[@id='displaypagenum']//a[normalize-space(.)='下一页']/@href").get()
    if nxt:
        page.next_url = absolute_url(response, nxt)
        page.bad_links += page.next_url is None
    return page
