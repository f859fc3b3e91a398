"""The article templates of gmw.cn, one class each, in the spirit of web-poet's page objects:
where each template keeps each field. Evidence per template in its docstring; docs/evidence.md,
"Article markup", has the table.

A field of a page comes from the first template, in TEMPLATES order, whose elements for it are on the
page and give a value; the `<!--enpproperty-->` comment and the head meta are the fallbacks after them
(gmwcrawler.extract.article, which also records in ArticlePage.templates which one served each field).
A new template is one class here, its place in TEMPLATES, and tests on its real pages. The fallbacks
are classes too (EnpComment, HeadMeta): they hold values, not elements, and fewer fields.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

import lxml.html
from itemloaders.processors import TakeFirst
from lxml import etree

from .text import clean_text, html_to_text, parse_beijing_time

_H1 = etree.XPath(".//h1")
_SPAN_LINKS = etree.XPath(".//span//a")
_TAKE_FIRST = TakeFirst()
_WITH_ID_OR_CLASS = etree.XPath("descendant::*[@id or @class]")  # 15 % faster than //*[…] here
_ENP_RE = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.DOTALL)
# values are plain text on every real page (tests/fixtures/real): `[^<]*` keeps the match linear where
# `(.*?)</\1>` scanned to the end for every inner tag (a 1 MB line of <b> in the comment: minutes; #17)
_ENP_TAG_RE = re.compile(r"<(\w+)>([^<]*)</\1>")
_PAGE_TITLE_SUFFIX_RE = re.compile(r"\(\d+\)$")
_KEYWORD_SPLIT_RE = re.compile(r"[,，;；\s]+")
_META_KEYWORDS = etree.XPath("//meta[@name='keywords']/@content")
_META_CONTENTID = etree.XPath("//meta[@name='contentid']/@content")
# The other head meta of the real 2024 page are not fallbacks: `publishdate` is a
# day without time (2024-05-13: a time made of it would say 00:00), `catalogs` a node id (9844) where
# `channel` holds labels, and `author` the editor's name (杨煜), not the writer's.

Elements = list[lxml.html.HtmlElement]


class Landmarks:
    """The page's landmark elements (ids, class tokens, class substrings), each list in document order.
    One pass over the page finds them all; each field then reads its candidates from this index. Measured
    (bench/README.md): per-field `//` XPaths scanned the whole document ~20 times per page, half the
    crawl's extra CPU over a bare spider."""

    def __init__(self, root: lxml.html.HtmlElement, ids: frozenset[str], tokens: frozenset[str],
                 substrings: tuple[str, ...]) -> None:
        self.ids: dict[str, Elements] = {}
        self.tokens: dict[str, Elements] = {}
        self.substrings: dict[str, Elements] = {}
        for el in _WITH_ID_OR_CLASS(root):
            el_id = el.get("id")
            if el_id in ids:
                self.ids.setdefault(el_id, []).append(el)
            classes = el.get("class")
            if not classes:
                continue
            for token in tokens.intersection(classes.split()):
                self.tokens.setdefault(token, []).append(el)
            for needle in substrings:
                if needle in classes:
                    self.substrings.setdefault(needle, []).append(el)

    def by_id(self, name: str) -> Elements:
        return self.ids.get(name, [])

    def by_class(self, token: str, tag: str | None = None) -> Elements:
        return [el for el in self.tokens.get(token, []) if tag is None or el.tag == tag]

    def by_class_substring(self, needle: str, tag: str | None = None) -> Elements:
        return [el for el in self.substrings.get(needle, []) if tag is None or el.tag == tag]


class Template:
    """One markup template: the elements holding each field, [] for a field it does not have."""

    name: ClassVar[str]  # what ArticlePage.templates and the stats gmw/extract/<field>/<name> say
    # the landmarks it reads, for the one-pass index
    ids: ClassVar[frozenset[str]] = frozenset()
    tokens: ClassVar[frozenset[str]] = frozenset()
    substrings: ClassVar[tuple[str, ...]] = ()
    fallback: ClassVar[bool] = False  # a generic container, not a template: serving a field so is drift (gmwcrawler.health.drift)

    def __init__(self, marks: Landmarks) -> None:
        self.marks = marks

    def title(self) -> Elements:
        return []

    def publish_time(self) -> Elements:
        return []

    def source(self) -> Elements:
        return []

    def editor(self) -> Elements:
        return []

    def crumbs(self) -> Elements:
        return []

    def body(self) -> Elements:
        return []


class Current(Template):
    """Variant A, politics pages 2019–2026: the real 2019 and 2024 pages (tests/fixtures/real/2019-04-18_…,
    2024-05-13_…). The title is `h1.u-title`, not the first h1 (a navigation `<h1>全部导航</h1>` comes first)."""

    name = "a"
    tokens = frozenset({"u-title", "m-con-time", "m-con-source", "u-mainText"})
    substrings = ("liability", "g-crumbs")  # `span.liability` 责编：…; `div.g-crumbs` 首页 > 时政频道 > …

    def title(self) -> Elements:
        return self.marks.by_class("u-title", "h1")

    def publish_time(self) -> Elements:
        return self.marks.by_class("m-con-time")

    def source(self) -> Elements:
        return self.marks.by_class("m-con-source")

    def editor(self) -> Elements:
        return [el for el in self.marks.by_class_substring("liability")
                if (el.tag == "div" and "liability" in el.get("class", "").split()) or el.tag == "span"]

    def crumbs(self) -> Elements:
        return self.marks.by_class_substring("g-crumbs", "div")

    def body(self) -> Elements:
        return self.marks.by_class("u-mainText", "div")


class VariantB(Template):
    """Variant B, seen on dangjian pages 2025–26 and listed by RSS tools (docs/evidence.md); no
    breadcrumb."""

    name = "b"
    ids = frozenset({"articleID", "articlePubTime", "articleSource", "ContentPh"})
    tokens = frozenset({"liability"})

    def title(self) -> Elements:
        return self.marks.by_id("articleID")

    def publish_time(self) -> Elements:
        return self.marks.by_id("articlePubTime")

    def source(self) -> Elements:
        return self.marks.by_id("articleSource")

    def editor(self) -> Elements:
        return self.marks.by_class("liability")

    def body(self) -> Elements:
        return self.marks.by_id("ContentPh")


class Old2012(Template):
    """The archive template: the four real 2012 pages (tests/fixtures/real/2012-…); `#pubTime` has seconds,
    `#contentLiability` reads `[责任编辑:孙鹏宇]`."""

    name = "old2012"
    ids = frozenset({"articleTitle", "pubTime", "source", "contentLiability", "contentBreadcrumbs", "contentMain"})

    def title(self) -> Elements:
        return self.marks.by_id("articleTitle")

    def publish_time(self) -> Elements:
        return self.marks.by_id("pubTime")

    def source(self) -> Elements:
        return self.marks.by_id("source")

    def editor(self) -> Elements:
        return self.marks.by_id("contentLiability")

    def crumbs(self) -> Elements:
        return self.marks.by_id("contentBreadcrumbs")

    def body(self) -> Elements:
        return self.marks.by_id("contentMain")


class Gallery(Template):
    """The picture-gallery template, known only from a public 2019 gmw.cn spider (docs/evidence.md:
    `#artBox h1`, `span.u-time`, `div.g-tips span a`, `div.h-contentMain`, an in-body `div.pageNum`). No
    saved page of it exists, so it comes after every template seen on a real page."""

    name = "gallery"
    ids = frozenset({"artBox"})
    tokens = frozenset({"u-time", "g-tips", "h-contentMain"})

    def title(self) -> Elements:
        return [h for box in self.marks.by_id("artBox") for h in _H1(box)][:1]

    def publish_time(self) -> Elements:
        return self.marks.by_class("u-time", "span")

    def source(self) -> Elements:
        return [a for tips in self.marks.by_class("g-tips", "div") for a in _SPAN_LINKS(tips)][:1]

    def body(self) -> Elements:
        return self.marks.by_class("h-contentMain", "div")


class RssBody(Template):
    """Only a body: `div.bd`, where RSSHub's gmw route reads it when neither variant's container is there."""

    name = "bd"
    fallback = True
    tokens = frozenset({"bd"})

    def body(self) -> Elements:
        return self.marks.by_class("bd", "div")


TEMPLATES: tuple[type[Template], ...] = (Current, VariantB, Old2012, Gallery, RssBody)


def parse_enpproperty(html: str) -> dict[str, str]:
    """<!--enpproperty <articleid>…</articleid><date>2019-04-18 11:18:16.0</date>…-->"""
    start = html.find("enpproperty")  # a plain search first: the regex from the top costs 0.15 ms a page
    m = _ENP_RE.search(html, max(0, html.rfind("<!--", 0, start))) if start >= 0 else None
    if not m:
        return {}
    return {tag: clean_text(html_to_text(value)) for tag, value in _ENP_TAG_RE.findall(m.group(1))}


def _split_keywords(value: str) -> list[str]:
    return [k for k in _KEYWORD_SPLIT_RE.split(value) if k]


class EnpComment:
    """The `<!--enpproperty <articleid>…<date>2019-04-18 11:18:16.0</date>…<keyword>…<nodename>…-->`
    comment in the body of every real page (2012, 2019, 2024; docs/evidence.md): the time with
    seconds, keywords and channel, and the fallback for id and title."""

    name = "enp"

    def __init__(self, html: str) -> None:
        self.fields = parse_enpproperty(html)

    def article_id(self) -> str | None:
        return self.fields.get("articleid") or None

    def title(self) -> str | None:
        """None without a <title>. "福建武夷山：谷雨将至采茶忙(1)_光明网", "曝谢贤…谢霆锋(3)_娱乐频道_光明网"."""
        title = self.fields.get("title")
        return clean_text(_PAGE_TITLE_SUFFIX_RE.sub("", title.split("_")[0])) if title else None

    def publish_time(self) -> datetime | None:
        return parse_beijing_time(self.fields.get("date"))

    def crumbs(self) -> list[str]:
        return [self.fields["nodename"]] if self.fields.get("nodename") else []

    def keywords(self) -> list[str]:
        return _split_keywords(self.fields.get("keyword", ""))

    def author(self) -> str:
        """Empty on every real page seen (the head meta `author` is the editor's name: not a fallback)."""
        return self.fields.get("author", "")


class HeadMeta:
    """The head's `<meta name="contentid">` (the real 2024 and 2012 pages carry it) and `keywords`. Each is
    a whole-document XPath, asked only where nothing before it gave the field."""

    name = "meta"

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self.root = root

    def article_id(self) -> str | None:
        return clean_text(_TAKE_FIRST(_META_CONTENTID(self.root))) or None

    def keywords(self) -> list[str]:
        return _split_keywords(_TAKE_FIRST(_META_KEYWORDS(self.root)) or "")
