"""Listing pages: node_<node>.htm, node_<node>_N.htm."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from scrapy.http import TextResponse

from .generic import GENERIC
from .text import clean_text, readable
from .urls import absolute_url, is_article_url

TEMPLATE = "template"  # the provenance of entries read from the list markup the real channels show

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
    bad_links: int = 0  # hrefs that are no URL, skipped
    # which route gave the entries and the next page: TEMPLATE, GENERIC (no class or id read), or None
    routes: dict[str, str | None] = field(default_factory=dict)


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
    page.routes["entries"] = TEMPLATE if page.entries else None
    if not page.entries and (found := _generic_entries(response)):
        page.entries, page.routes["entries"] = found, GENERIC
    nxt = response.xpath("//*[@id='displaypagenum']//a[normalize-space(.)='下一页']/@href").get()
    page.routes["next"] = TEMPLATE if nxt else None
    if not nxt and (nxt := response.xpath("//body//a[normalize-space(.)='下一页']/@href").get()):
        page.routes["next"] = GENERIC
    if nxt:
        page.next_url = absolute_url(response, nxt)
        page.bad_links += page.next_url is None
    return page


_DAY_RE = re.compile(r"(\d{4})\s*[-/年.]\s*(\d{1,2})\s*[-/月.]\s*(\d{1,2})")
_LISTS = frozenset({"ul", "ol", "dl", "table", "tbody"})


def _generic_entries(response: TextResponse) -> list[ListingEntry]:
    """A listing's entries with no class or id read: the links to article pages, grouped by the list
    that holds them (the nearest ul/ol/dl/table, else the link's grandparent); the group with the most
    entries wins, a dated entry counting three times (a 推荐阅读 box beside the list has no dates), and
    its links are the entries in document order, with the date their item shows beside the link."""
    groups: dict[object, list[ListingEntry]] = {}
    for a in response.selector.root.iter("a"):
        href = (a.get("href") or "").strip()
        if "content_" not in href or (url := absolute_url(response, href)) is None or not is_article_url(url):
            continue
        item, holder = a, a.getparent()
        while holder is not None and holder.tag not in _LISTS and holder.tag != "body":
            item, holder = holder, holder.getparent()
        if holder is None or holder.tag == "body":
            holder = a.getparent().getparent() if a.getparent() is not None else None
            item = a.getparent()
        if holder is None:
            continue
        beside = item.text_content().replace(a.text_content(), " ") if item is not a else ""
        m = _DAY_RE.search(beside)
        day = _day(f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}") if m else None
        groups.setdefault(holder, []).append(ListingEntry(url, clean_text(a.text_content()), day))
    if not groups:
        return []
    best = max(groups.values(), key=lambda entries: len(entries) + 2 * sum(1 for e in entries if e.day))
    seen: set[str] = set()
    return [e for e in best if e.url not in seen and not seen.add(e.url)]
