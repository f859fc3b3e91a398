"""Redesigns: every real page and every replica template, changed the way CMS redesigns change markup
(tests/redesign.py), read again. A field is exact, or read by a marked route (generic or a fallback),
or lost (and counted missing) — never wrong under a template's name.

The table of which field stays exact under which change is tests/redesign_table.md; a change to the
extractor that makes it more (or less) class-bound changes the table, and this test fails until the
table is written again: GMW_WRITE_REDESIGN_TABLE=1 pytest tests/test_redesign.py.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from gmwcrawler.extract import ArticlePage, cross_check, extract_article_page, extract_listing
from gmwcrawler.extract.generic import GENERIC
from gmwcrawler.extract.templates import TEMPLATES
from gmwcrawler.extract.urls import is_article_url
from tests.redesign import TRANSFORMS, redesign
from tests.replica import render
from tests.replica.model import Site

REAL = Path(__file__).parent / "fixtures" / "real"
TABLE = Path(__file__).parent / "redesign_table.md"
SITE = Site(60, seed=1)
# field of ArticlePage -> the key of its route in ArticlePage.templates
FIELDS = {"title": "title", "publish_time": "publish_time", "source": "source", "editor": "editor",
          "channel": "channel", "keywords": "keywords", "page_count": "page_count", "paragraphs": "content",
          "images": "content", "videos": "videos", "related": "related", "author": "author"}
TEMPLATE_ROUTES = {"url", "landmark", "body", "line"} | {t.name for t in TEMPLATES if not t.fallback}
# what the done-when asks to stay exact on every real page when classes, ids or both are renamed (or dropped)
KEPT = ("title", "publish_time", "source", "editor", "paragraphs", "related")
RENAMES = ("rename_classes", "rename_ids", "rename_both", "drop_classes", "drop_ids", "drop_both")


def _real(name: str, url: str) -> tuple[str, bytes]:
    return url, (REAL / name).read_bytes()


def _pages_2019() -> dict[str, tuple[str, bytes]]:
    """The five u-mainText bodies of the real 2019 excerpt, each as a page (as in test_extract_real_pages)."""
    html = (REAL / "2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html").read_bytes()
    bodies = html.split(b'</div><div class="u-mainText">')
    out = {}
    for n, body in enumerate(bodies, start=1):
        body = (b'<div class="u-mainText">' if n > 1 else b"") + body + (b"</div>" if n < 5 else b"")
        url = f"https://politics.gmw.cn/2019-04/18/content_32754452{f'_{n}' if n > 1 else ''}.htm"
        out[f"real 2019 p{n}"] = (url, b'<html><head><meta charset="utf-8"></head><body>' + body + b"</body></html>")
    return out


def _replica(key: str, page: int) -> tuple[str, bytes]:
    art = SITE.article(key)
    return art.page_url(page), render.article_page(SITE, art, page).encode("utf-8")


PAGES: dict[str, tuple[str, bytes]] = {
    "real 2024": _real("2024-05-13_politics_content_37319243_browser_saved.html",
                       "https://politics.gmw.cn/2024-05/13/content_37319243.htm"),
    "real 2012 4763470": _real("2012-08-10_e_content_4763470_p1of4_old_template.html",
                               "https://e.gmw.cn/2012-08/10/content_4763470.htm"),
    "real 2012 5189326_3": _real("2012-09-24_content_5189326_3_old_template.html",
                                 "https://ent.gmw.cn/2012-09/24/content_5189326_3.htm"),
    "real 2012 5439435": _real("2012-10-21_e_content_5439435_old_template_link_grid.html",
                               "https://e.gmw.cn/2012-10/21/content_5439435.htm"),
    "real 2012 5804759": _real("2012-11-26_e_content_5804759_p1of5_old_template.html",
                               "https://e.gmw.cn/2012-11/26/content_5804759.htm"),
    **_pages_2019(),
    "replica A seed": _replica("seed", 1),
    "replica A 3 pages p1": _replica("i3", 1),
    "replica A 3 pages p3": _replica("i3", 3),
    "replica A video": _replica("i6", 1),
    "replica B": _replica("i49", 1),
    "replica old": _replica("i38", 1),
    "replica gallery p1": _replica("i11", 1),
    "replica gallery related": _replica("i48", 1),
}
REAL_PAGES = [name for name in PAGES if name.startswith("real")]


@cache
def extract(name: str, transform: str | None) -> ArticlePage:
    url, html = PAGES[name]
    return extract_article_page(HtmlResponse(url=url, body=html if transform is None else redesign(html, transform)))


def _captions(page: ArticlePage) -> set[str]:
    return {im["caption"] for im in page.images if im["caption"]}


def grade(name: str, transform: str, field: str) -> str:
    """`=` exact; `g` exact, read by the generic route where the unchanged page's template read it; `t` paragraphs within the generic body's tolerance (an image caption whose class is gone
    read as a paragraph of its own, nothing else changed); `≈` the time to the minute (a template without the
    comment's seconds); `~` another value, from a marked route (generic or a fallback); `-` lost (counted
    missing); `X` another value under a template's name: silently wrong."""
    before, after = extract(name, None), extract(name, transform)
    old, new = getattr(before, field), getattr(after, field)
    if old == new:
        return "g" if after.templates.get(FIELDS[field]) == GENERIC != before.templates.get(FIELDS[field]) else "="
    route = after.templates.get(FIELDS[field])
    if field == "paragraphs" and route == GENERIC and [p for p in new if p not in _captions(before)] == old:
        return "t"
    if field == "publish_time" and old and new and old[:16] == new[:16] and route in TEMPLATE_ROUTES:
        return "≈"
    if not new:
        return "-"
    if route in TEMPLATE_ROUTES:
        return "X"
    return "~"


def table() -> str:
    header = ["page", "change", *FIELDS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in PAGES:
        for transform in TRANSFORMS:
            lines.append("| " + " | ".join([name, transform, *(grade(name, transform, f) for f in FIELDS)]) + " |")
    return "\n".join(lines) + "\n"


def test_the_round_trip_changes_nothing():
    """The simulator's own parse-and-write: every field as on the page as saved."""
    for name in PAGES:
        assert {f: getattr(extract(name, "unchanged"), f) for f in FIELDS} == {f: getattr(extract(name, None), f) for f in FIELDS}, name


@pytest.mark.parametrize("transform", list(TRANSFORMS))
def test_no_field_is_silently_wrong(transform):
    wrong = [(name, field) for name in PAGES for field in FIELDS if grade(name, transform, field) == "X"]
    assert wrong == []


@pytest.mark.parametrize("transform", RENAMES)
@pytest.mark.parametrize("name", REAL_PAGES)
def test_real_pages_keep_their_fields_when_names_change(name, transform):
    grades = {field: grade(name, transform, field) for field in KEPT}
    assert all(grades[field] in ("=", "g", "t" if field == "paragraphs" else "=") for field in KEPT), grades


def test_the_table_is_the_committed_one():
    if os.environ.get("GMW_WRITE_REDESIGN_TABLE"):
        TABLE.write_text(_TABLE_INTRO + table(), "utf-8")
    assert TABLE.read_text("utf-8") == _TABLE_INTRO + table(), (
        "the redesign table changed: look at `git diff` after GMW_WRITE_REDESIGN_TABLE=1 pytest tests/test_redesign.py")


_TABLE_INTRO = """# Which fields stay exact when the pages are redesigned

Written by tests/test_redesign.py (GMW_WRITE_REDESIGN_TABLE=1), compared in every run of the suite.
`=` exact · `g` exact, by the generic route · `t` paragraphs within the generic body's tolerance (a caption whose class is gone read as a
paragraph) · `≈` the time to the minute · `~` another value from a marked route (generic or a fallback) ·
`-` lost (counted missing) · `X` silently wrong (never). The 2019 excerpt holds bodies only: no `<title>`,
headline or source, so its title and time exist only in the enpproperty comment. Variant B prints its
source with no 来源： label, so no generic route finds it.

"""


def test_a_generic_body_is_marked_and_flagged():
    page = extract("real 2024", "rename_classes")
    assert page.templates["content"] == GENERIC
    assert page.paragraphs == extract("real 2024", None).paragraphs


# -- the template against the generic routes ---------------------------------------------------------
@pytest.mark.parametrize("name", list(PAGES))
def test_the_generic_routes_agree_with_every_template_on_unchanged_pages(name):
    url, html = PAGES[name]
    response = HtmlResponse(url=url, body=html)
    assert cross_check(response, extract_article_page(response)) == {}


def test_a_template_that_reads_the_wrong_element_is_noticed():
    """A redesign that gives the source's class to another element: the template reads it; the 来源：
    label says otherwise, and the disagreement is reported."""
    url, html = PAGES["real 2024"]
    html = html.replace(b'<span class="m-con-source">', b"<span>", 1).replace(
        b'<span class="m-con-time">', b'<span class="m-con-source">', 1)
    response = HtmlResponse(url=url, body=html)
    page = extract_article_page(response)
    assert page.templates["source"] == "a" and page.source == "2024-05-13 08:49"
    assert cross_check(response, page) == {"source": ("2024-05-13 08:49", "人民日报")}


# -- listings ---------------------------------------------------------------------------------------
LISTINGS = {f"node_{node}_{page}": (node, page) for node, page in ((9840, 1), (9840, 2), (9844, 1))}


def _listing(name: str, transform: str | None):
    node, page = LISTINGS[name]
    url = f"https://politics.gmw.cn/node_{node}{'' if page == 1 else f'_{page}'}.htm"
    html = render.listing_page(SITE, node, page).encode("utf-8")
    return extract_listing(HtmlResponse(url=url, body=html if transform is None else redesign(html, transform)))


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("name", list(LISTINGS))
def test_a_listing_keeps_its_article_links_in_order_with_their_dates(name, transform):
    before, after = _listing(name, None), _listing(name, transform)
    assert [e for e in after.entries if is_article_url(e.url)] == [e for e in before.entries if is_article_url(e.url)]
    assert after.next_url == before.next_url
    if after.routes["entries"] == GENERIC:
        assert before.routes["entries"] == "template"


def test_a_listing_read_by_shape_is_marked():
    listing = _listing("node_9840_1", "drop_both")
    assert listing.routes == {"entries": GENERIC, "next": GENERIC}
    assert len(listing.entries) == 19 and all(e.day for e in listing.entries)


@pytest.mark.parametrize("name", ["real 2024", "real 2012 5189326_3", "replica A seed", "replica old"])
def test_the_generic_routes_are_not_asked_where_the_templates_serve_every_field(name, monkeypatch):
    """They cost nothing on an unchanged page (bench/README.md has the CPU figures)."""
    from gmwcrawler.extract import generic

    asked = []
    for method in ("headline", "publish_time", "source", "editor", "crumbs", "related_anchors", "body", "videos",
                   "page_count", "labelled"):
        monkeypatch.setattr(generic.GenericPage, method, lambda *a, _m=method, **k: asked.append(_m))
    url, html = PAGES[name]
    extract_article_page(HtmlResponse(url=url, body=html))
    assert asked == []
