"""Article pages: response -> fields of one page; pages -> one article.

Where each template keeps each field is gmwcrawler.extract.templates (one class per template: current
"a", variant "b", "old2012", "gallery", the generic body "bd"); here each field is read from the first
template that holds it, then from the fallbacks, also classes there: the <!--enpproperty ...--> comment
(EnpComment, "enp": time with seconds, keywords, node) and the head meta (HeadMeta, "meta"); and from the
URL ("url") and a credit line ("line"). `ArticlePage.templates` says which served each field; the
spider counts them in stats.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import lxml.html
from itemloaders.processors import Join, TakeFirst
from lxml import etree
from lxml_html_clean import Cleaner
from scrapy.http import TextResponse

from .templates import TEMPLATES, EnpComment, HeadMeta, Landmarks
from .text import clean_text, iso8601, parse_beijing_time, readable
from .urls import absolute_url, article_id_from_url, first_page_url, page_number_from_url

SOFT_404_MARKERS = ("页面没有找到", "出错啦")
T = TypeVar("T")
_EDITOR_RE = re.compile(r"(?:责编|责任编辑|编辑)\s*[:：]\s*([^\]\s】）)]+)")
_SOURCE_LABEL_RE = re.compile(r"^\s*来源\s*[:：]\s*")
_RELATED_LABEL_RE = re.compile(r"^[\s\u3000\xa0\u200b\ufeff]*(相关阅读|相关链接|相关报道|相关新闻)")
_MEDIA_SPLIT_RE = re.compile(r"[\s,;，；|]+")
_MEDIA_EXT_RE = re.compile(r"\.(mp4|m3u8|mp3|flv|m4a)(\?|$)", re.IGNORECASE)
_NUMBER_RE = re.compile(r"^\s*(\d+)\s*$")

_CLEANER = Cleaner(
    scripts=True, javascript=True, comments=True, style=True, inline_style=True, links=True,
    meta=True, page_structure=True, processing_instructions=True, embedded=True, frames=True,
    forms=True, annoying_tags=True, remove_unknown_tags=True, safe_attrs_only=True,
    safe_attrs=frozenset({"src", "href", "alt", "title", "colspan", "rowspan"}),
)
_LAZY_ATTRS = ("data-original", "data-src", "original", "src")


@dataclass
class ArticlePage:
    """What one page of an article says. Fields are None where the page says nothing."""

    url: str
    page: int
    page_count: int
    article_id: str | None = None
    title: str | None = None
    publish_time: str | None = None
    source: str | None = None
    editor: str | None = None
    author: str = ""  # the writer's credit, never the editor (issue #11)
    channel: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    content_html: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)
    # which template served each field ("a", "old2012", "enp", …): provenance, not the publisher (`source`)
    templates: dict[str, str] = field(default_factory=dict)
    bad_links: int = 0  # hrefs and srcs that are no URL, skipped (issue #17)
    related_placeholders: int = 0  # script-filled 相关阅读 slots (href javascript:/#/empty), skipped (issue #11)

    @property
    def first_page_url(self) -> str:
        return first_page_url(self.url)


def is_soft_404(response: TextResponse) -> bool:
    """gmw.cn answers some missing articles with HTTP 200 and an error page."""
    title = _TAKE_FIRST(_TITLE_TEXT(readable(response).selector.root)) or ""
    return any(marker in title for marker in SOFT_404_MARKERS)


_JOIN = Join(" ")
_TAKE_FIRST = TakeFirst()


# the landmarks the templates read, and those of every template's page: pager, media, 相关阅读
_LANDMARK_IDS = frozenset({"MultiAttachPh", "contentRelated", "mpagecount", "mcurrentpage", "displaypagenum",
                           "relReadUl"}).union(*(t.ids for t in TEMPLATES))
_LANDMARK_TOKENS = frozenset({"m-relRead", "pageNum"}).union(*(t.tokens for t in TEMPLATES))
_LANDMARK_SUBSTRINGS = tuple(dict.fromkeys(s for t in TEMPLATES for s in t.substrings))
_TITLE_TEXT = etree.XPath("//title/text()")
_OWN_TEXT = etree.XPath("text()")
_ALL_TEXT = etree.XPath(".//text()")
_LINK_TEXT = etree.XPath(".//a//text()")
_LINKS = etree.XPath(".//a[@href]")
_PAGER_NUMBERS = etree.XPath(".//a/text() | .//span/text()")
_BLOCKS = etree.XPath(".//p | .//h2 | .//h3 | .//h4")
_TEXT_BLOCKS = etree.XPath(".//p | .//h2 | .//h3 | .//h4 | .//h5 | .//blockquote")
_PARAGRAPHS = etree.XPath(".//p")
_IMAGES = etree.XPath(".//img")
_CAPTION = etree.XPath("following-sibling::*[1][self::p and contains(@class, 'pictext')]")
# Page furniture that sits inside the body element on the real pages; and what public crawlers
# of gmw.cn remove from it (RSSHub's gmw route: .u-moreText, .u-QRcode, .text-right, .m-zbTool,
# #articleLiability, a text-less paragraph holding a node_ logo link; the 光明日报 template's 小调查
# vote block p#voteiFrameP / div.m-vote-wrap / its form, ../shared/gmw/README.md). Issue #11.
_BODY_FURNITURE = etree.XPath(
    ".//script | .//style | .//noscript | .//iframe | .//form"
    " | .//*[@id][@id='displaypagenum' or @id='mpagecount' or @id='mcurrentpage' or @id='contentLiability'"
    " or @id='MultiAttachPh' or @id='articleLiability' or @id='voteiFrameP']"
    # [@class] first: most body elements have none, and skip the six token tests
    " | .//*[@class][contains(concat(' ', normalize-space(@class), ' '), ' liability ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' u-moreText ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' u-QRcode ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' text-right ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' m-zbTool ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' m-vote-wrap ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' pageNum ')]"
    " | .//a[.//img[contains(@src, 'content_logo')]]"
    " | .//img[contains(@src, 'content_logo')]"
    " | .//p[.//img][.//a[contains(@href, 'node_')]//img][not(normalize-space())]"
)
# the writer's credit at the top of the body (RSSHub's gmw route reads the first three paragraphs so):
# 光明网评论员： opens the commentary's text and stays; a 记者/作者 line is a byline and goes. A line
# longer than a byline is text that happens to start so, and is left alone.
_COMMENTATOR_RE = re.compile(r"^光明网评论员[:：]")
_BYLINE_RE = re.compile(r"^(?:(?:光明日报|本报)?记者[:：\s]+|作者(?:简介)?[:：]\s*)(.+)$")
_BYLINE_MAX = 40
# paragraphs that are navigation or credits, not text (RSSHub's gmw route drops the same)
_FURNITURE_PARAGRAPH_RE = re.compile(r"^(【上一篇】|【下一篇】|[（(]转载请注明来源|责任编辑[:：])")


def _text(elements: list) -> str:
    return clean_text(_JOIN(clean_text(el.text_content()) for el in elements))


def _first(candidates: Iterable[tuple[str, list]], *processors: Callable[[str], str]) -> tuple[str | None, str | None]:
    """The first non-empty text among (path, elements) candidates, and the path that gave it."""
    for path, elements in candidates:
        value = _text(elements)
        for processor in processors:
            value = processor(value)
        value = clean_text(value)
        if value:
            return value, path
    return None, None


def _first_matching(candidates: Iterable[tuple[str, list]], parse: Callable[[str], T | None]) -> tuple[T | None, str | None]:
    """The first candidate whose text `parse` accepts (not None), and its path."""
    for path, elements in candidates:
        value = parse(_text(elements))
        if value is not None:
            return value, path
    return None, None


def _texts(elements: list, xpath: etree.XPath) -> list[str]:
    return [text for el in elements for text in xpath(el)]


def _strip_source_label(value: str) -> str:
    return _SOURCE_LABEL_RE.sub("", value)


def _editor(value: str) -> str | None:
    m = _EDITOR_RE.search(value)
    return m.group(1) if m else None


def _credit_line(page: ArticlePage) -> str:
    """The writer from the first three paragraphs; a byline paragraph is taken out of the text."""
    for i, text in enumerate(page.paragraphs[:3]):
        if _COMMENTATOR_RE.match(text):
            return "光明网评论员"
        m = _BYLINE_RE.match(text)
        if m and len(text) <= _BYLINE_MAX:
            del page.paragraphs[i]
            return clean_text(m.group(1))
    return ""


def _first_value(candidates: list[tuple[str, Callable[[], str | None]]]) -> tuple[str | None, str | None]:
    """The first candidate with a value; later candidates (a whole-document XPath) are not evaluated."""
    return next(((value, path) for path, get in candidates if (value := get())), (None, None))


class _Join:
    """URLs of the page made absolute; those that are no URL are None and counted."""

    def __init__(self, response: TextResponse) -> None:
        self.response = response
        self.bad = 0

    def __call__(self, href: str) -> str | None:
        url = absolute_url(self.response, href)
        if url is None:
            self.bad += 1
        return url


def _image_url(img: lxml.html.HtmlElement, join: _Join) -> str | None:
    for attr in _LAZY_ATTRS:
        value = (img.get(attr) or "").strip()
        if value and not value.startswith("data:") and "loading" not in value.rsplit("/", 1)[-1]:
            return join(value)
    return None


def _only_links(el: lxml.html.HtmlElement) -> bool:
    links = _LINKS(el)
    return bool(links) and clean_text(el.text_content()) == clean_text("".join(a.text_content() for a in links))


def _link(a: lxml.html.HtmlElement, join: _Join) -> dict[str, str] | None:
    href = (a.get("href") or "").strip()
    if _is_placeholder(a) or href.lower().startswith("mailto:"):
        return None
    title = clean_text(a.text_content())
    if not title:
        return None
    url = join(href)
    return {"url": url, "title": title} if url else None


def _is_link_grid(table: lxml.html.HtmlElement) -> bool:
    """An editor's grid of links and thumbnails (the real 2012 page 5439435 ends its body with two:
    channel links, then pictures with captions, every word and every picture a link): no text of
    its own, no picture outside a link. A table of data has text that links nothing."""
    links = _LINKS(table)
    if not links or any(next(img.iterancestors("a"), None) is None for img in _IMAGES(table)):
        return False
    return "".join(table.text_content().split()) == "".join("".join(a.text_content() for a in links).split())


def _is_furniture_paragraph(raw: str) -> bool:
    # each pattern holds one of these: most paragraphs are passed without cleaning their text
    return ("【" in raw or "转载" in raw or "责任编辑" in raw) and bool(_FURNITURE_PARAGRAPH_RE.match(clean_text(raw)))


def _read_body(body: lxml.html.HtmlElement, join: _Join, page: ArticlePage) -> None:
    body = copy.deepcopy(body)
    for el in _BODY_FURNITURE(body):
        el.drop_tree()
    for table in [t for t in body.iter("table") if _is_link_grid(t)]:
        table.drop_tree()
    # Inline 相关阅读：/相关链接： paragraphs: the label, then its links (same or following paragraphs);
    # furniture paragraphs (【上一篇】…) go first, wherever they sit. One text per block.
    related_blocks = []
    in_related = False
    for el in _BLOCKS(body):
        raw = el.text_content()
        if el.tag == "p" and _is_furniture_paragraph(raw):
            el.drop_tree()
            continue
        if _RELATED_LABEL_RE.match(raw):
            in_related = True
            related_blocks.append(el)
        elif in_related and _only_links(el):
            related_blocks.append(el)
        else:
            in_related = False
    for el in related_blocks:
        page.related.extend(link for a in _LINKS(el) if (link := _link(a, join)))
    for el in related_blocks:
        el.drop_tree()
    for img in _IMAGES(body):
        url = _image_url(img, join)
        if not url:
            img.drop_tree()
            continue
        img.attrib.clear()
        img.set("src", url)
        holder = img.getparent()
        while holder is not None and holder.tag not in ("p", "div", "figure") and holder is not body:
            holder = holder.getparent()
        caption_el = _CAPTION(holder) if holder is not None and holder is not body else []
        caption = clean_text(caption_el[0].text_content()) if caption_el else ""
        page.images.append({"url": url, "caption": caption})
    with_text = set()  # blocks read as text below: not empty, so not dropped after
    for el in _TEXT_BLOCKS(body):
        if "pictext" in (el.get("class") or ""):
            continue
        if el.find(".//p") is not None:
            continue  # a container; its own paragraphs are read
        text = clean_text(el.text_content())
        if text:
            page.paragraphs.append(text)
            with_text.add(el)
        if el.text:
            el.text = el.text.lstrip("\u3000\xa0 ")  # the full-width paragraph indent
    for el in _PARAGRAPHS(body):
        if el not in with_text and el.find(".//img") is None and not clean_text(el.text_content()):
            el.drop_tree()
    for a in _LINKS(body):
        url = join(a.get("href"))
        if url:
            a.set("href", url)
        else:
            del a.attrib["href"]  # the link text stays
    _clean(body)
    page.content_html = lxml.html.tostring(body, encoding="unicode").strip()


# an attribute name lxml can also delete; its HTML parser keeps names such as `bor\ufffder` or
# `{` from a damaged page, which the cleaner then fails on ("Invalid tag name", issue #17)
_ATTR_NAME_RE = re.compile(r"[A-Za-z_][\w.\-]*\Z")


def _clean(body: lxml.html.HtmlElement) -> None:
    """The cleaner, in place on the copy (no serialise-and-parse round trip); where a damaged
    attribute stops it, those attributes are dropped element by element and it runs again."""
    try:
        _CLEANER(body)
        return
    except ValueError:
        pass
    for el in body.iter():
        if any(not _ATTR_NAME_RE.match(name) for name in el.attrib):
            keep = [(name, value) for name, value in el.attrib.items() if _ATTR_NAME_RE.match(name)]
            el.attrib.clear()
            el.attrib.update(keep)
    _CLEANER(body)


_HEADINGS = ("h2", "h3", "h4")


def _related_anchors(root: lxml.html.HtmlElement, marks: Landmarks) -> list[lxml.html.HtmlElement]:
    """The links of the related-reading blocks, found the way the real pages show them (issue #11):
    - by the real containers: `div.m-relRead > h2 + ul#relReadUl` (the real 2024 page,
      tests/fixtures/real/2024-05-13_…, script-filled: only `javascript:;` placeholders), the 2012
      template's `#contentRelated` 相关报道 (tests/fixtures/real/2012-09-24_…);
    - by its heading, whatever the container's class: an h2/h3/h4 reading 相关阅读, 相关报道, 相关新闻 or
      相关链接 (both real pages head the block so), and the links of its siblings up to the next heading
      — not the whole parent, which on another template may hold 推荐阅读 as well."""
    blocks = marks.by_class("m-relRead") + marks.by_id("relReadUl") + marks.by_id("contentRelated")
    anchors = [a for el in blocks for a in _LINKS(el)]
    for heading in root.iter(*_HEADINGS):
        if _RELATED_LABEL_RE.match(heading.text_content()):
            for sibling in heading.itersiblings(tag=etree.Element):  # elements only: comments too are siblings
                if sibling.tag in _HEADINGS:
                    break
                anchors.extend(_LINKS(sibling))
    return list(dict.fromkeys(anchors))


def _is_placeholder(a: lxml.html.HtmlElement) -> bool:
    href = (a.get("href") or "").strip().lower()
    return not href or href.startswith(("javascript:", "#"))


def _related_blocks(root: lxml.html.HtmlElement, marks: Landmarks, join: _Join, page: ArticlePage) -> list[dict[str, str]]:
    anchors = _related_anchors(root, marks)
    page.related_placeholders += sum(1 for a in anchors if _is_placeholder(a))
    return [link for a in anchors if (link := _link(a, join))]


def _media(marks: Landmarks, join: _Join) -> list[str]:
    """#MultiAttachPh holds the media URL as text; the page's scripts build the player."""
    out: list[str] = []
    for text in _texts(marks.by_id("MultiAttachPh"), _ALL_TEXT):
        for token in _MEDIA_SPLIT_RE.split(text.strip()):
            if token and _MEDIA_EXT_RE.search(token):
                url = join(token)
                if url and url not in out:
                    out.append(url)
    return out


def _page_count(marks: Landmarks, current: int) -> int:
    total = _TAKE_FIRST(clean_text(t) for t in _texts(marks.by_id("mpagecount"), _OWN_TEXT))
    if total and total.isdigit():
        return max(int(total), current)
    numbers = [int(m.group(1)) for t in _texts(marks.by_id("displaypagenum") + marks.by_class("pageNum", "div"), _PAGER_NUMBERS)
               if (m := _NUMBER_RE.match(t))]
    return max(numbers + [current])


def _crumbs(elements: list) -> list[str]:
    return [t for t in (clean_text(x) for x in _texts(elements, _LINK_TEXT)) if t and t not in ("首页", "光明网")]


def extract_article_page(response: TextResponse) -> ArticlePage:
    response = readable(response)
    join = _Join(response)
    enp, meta = EnpComment(response.text), HeadMeta(response.selector.root)
    marks = Landmarks(response.selector.root, _LANDMARK_IDS, _LANDMARK_TOKENS, _LANDMARK_SUBSTRINGS)
    current = page_number_from_url(response.url)
    cur = _TAKE_FIRST(clean_text(t) for t in _texts(marks.by_id("mcurrentpage"), _OWN_TEXT))
    if cur and cur.isdigit():
        current = int(cur)
    page = ArticlePage(url=response.url, page=current, page_count=_page_count(marks, current))

    page.article_id, page.templates["article_id"] = _first_value([
        ("url", lambda: article_id_from_url(response.url)), (enp.name, enp.article_id), (meta.name, meta.article_id),
    ])

    templates = [template(marks) for template in TEMPLATES]
    title, path = _first((t.name, t.title()) for t in templates)
    if not title and (from_comment := enp.title()) is not None:
        title, path = from_comment, enp.name
    page.title, page.templates["title"] = title, path

    when, path = _first_matching(((t.name, t.publish_time()) for t in templates), parse_beijing_time)
    enp_time = enp.publish_time()
    if when is None and enp_time is not None:
        when, path = enp_time, enp.name
    if when is not None and enp_time is not None and path != enp.name and _same_minute(when, enp_time):
        when, path = enp_time, f"{path}+{enp.name}"  # the comment keeps the seconds the page hides
    page.publish_time, page.templates["publish_time"] = (iso8601(when) if when else None), path

    page.source, page.templates["source"] = _first(((t.name, t.source()) for t in templates), _strip_source_label)
    page.editor, page.templates["editor"] = _first_matching(((t.name, t.editor()) for t in templates), _editor)

    crumbs, path = next(((found, t.name) for t in templates if (found := _crumbs(t.crumbs()))), ([], None))
    if not crumbs and (crumbs := enp.crumbs()):
        path = enp.name
    page.channel, page.templates["channel"] = crumbs, path

    page.keywords, page.templates["keywords"] = next(
        ((found, source.name) for source in (enp, meta) if (found := source.keywords())), ([], None))

    body, path = next(((found[0], t.name) for t in templates if (found := t.body())), (None, None))
    page.templates["content"] = path
    if body is not None:
        _read_body(body, join, page)
    # the comment's <author>, else a credit line; never the head meta `author` (EnpComment.author)
    page.author, page.templates["author"] = enp.author(), enp.name
    if not page.author and current == 1:
        page.author, page.templates["author"] = _credit_line(page), "line"
    if not page.author:
        page.templates["author"] = None
    page.videos = _media(marks, join)
    seen = {r["url"] for r in page.related}
    page.related.extend(r for r in _related_blocks(response.selector.root, marks, join, page)
                        if r["url"] not in seen and not seen.add(r["url"]))
    page.bad_links = join.bad
    return page


def _same_minute(a: datetime, b: datetime) -> bool:
    return a.replace(second=0) == b.replace(second=0)


def merge_pages(pages: list[ArticlePage]) -> dict:
    """One article from all of its pages (in page order); metadata from page 1."""
    pages = sorted(pages, key=lambda p: p.page)
    first = pages[0]
    related = list({r["url"]: r for p in reversed(pages) for r in reversed(p.related)}.values())[::-1]
    videos = list(dict.fromkeys(v for p in pages for v in p.videos))

    def first_value(attr: str):
        return next((getattr(p, attr) for p in pages if getattr(p, attr)), getattr(first, attr))

    return {
        "url": first.first_page_url,
        "article_id": first_value("article_id"),
        "title": first_value("title"),
        "publish_time": first_value("publish_time"),
        "source": first_value("source"),
        "editor": next((p.editor for p in reversed(pages) if p.editor), None),
        "author": first.author,
        "channel": first_value("channel"),
        "keywords": first_value("keywords"),
        "content": "\n".join(t for p in pages for t in p.paragraphs),
        "content_html": "\n".join(p.content_html for p in pages if p.content_html),
        "images": [im for p in pages for im in p.images],
        "videos": videos,
        "related": related,
        "page_count": max(p.page_count for p in pages),
    }

