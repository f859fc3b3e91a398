"""Article pages: response -> fields of one page; pages -> one article.

Where each template keeps each field is gmwcrawler.extract.templates (one class per template: current
"a", variant "b", "old2012", "gallery", the generic body "bd"); here each field is read from the first
template that holds it, then from the fallbacks, also classes there: the <!--enpproperty ...--> comment
(EnpComment, "enp": time with seconds, keywords, node) and the head meta (HeadMeta, "meta"); and from the
URL ("url") and a credit line ("line"). Where none of them gives a field, the generic routes of
gmwcrawler.extract.generic read it without any class or id ("generic"); the landmarks every template
shares (pager, #MultiAttachPh, the 相关阅读 block) serve "landmark". `ArticlePage.templates` says which
served each field; merge_pages turns it into the item's `provenance` and `generic_fields`, and the
spider counts them in stats.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import lxml.html
from itemloaders.processors import Join, TakeFirst
from lxml import etree
from lxml_html_clean import Cleaner
from scrapy.http import TextResponse

from .furniture import BODY_ELEMENTS, is_furniture_paragraph
from .generic import GENERIC, MEDIA_HINT_RE, GenericPage, is_editor_line, is_hidden, is_pager
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
    author: str = ""  # the writer's credit, never the editor
    channel: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    content_html: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)
    # which template served each field ("a", "old2012", "enp", …): provenance, not the publisher (`source`)
    templates: dict[str, str] = field(default_factory=dict)
    bad_links: int = 0  # hrefs and srcs that are no URL, skipped
    related_placeholders: int = 0  # script-filled 相关阅读 slots (href javascript:/#/empty), skipped

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
# a leaf div too: a 相关阅读： label written in a div (as other gmw.cn channels do) is one of the body's blocks
_BLOCKS = etree.XPath(".//p | .//h2 | .//h3 | .//h4 | .//div[not(.//p or .//div)]")
_TEXT_BLOCKS = etree.XPath(".//p | .//h2 | .//h3 | .//h4 | .//h5 | .//blockquote")
_PARAGRAPHS = etree.XPath(".//p")
_IMAGES = etree.XPath(".//img")
_CAPTION = etree.XPath("following-sibling::*[1][self::p and contains(@class, 'pictext')]")
# a caption whose class is gone (a redesign): the centred short paragraph right after a picture's own
# paragraph, as the real captions stand (tests/fixtures/real/2019-04-18_…: p.pictext[align=center])
_CENTRED_CAPTION = etree.XPath("following-sibling::*[1][self::p and translate(@align, 'CENTR', 'centr')='center']"
                               "[not(.//img)][string-length(normalize-space()) <= 80]")
# the writer's credit at the top of the body (RSSHub's gmw route reads the first three paragraphs so):
# 光明网评论员： opens the commentary's text and stays; a 记者/作者 line is a byline and goes. A line
# longer than a byline is text that happens to start so, and is left alone.
_COMMENTATOR_RE = re.compile(r"^光明网评论员[:：]")
_BYLINE_RE = re.compile(r"^(?:(?:光明日报|本报)?记者[:：\s]+|作者(?:简介)?[:：]\s*)(.+)$")
_BYLINE_MAX = 40


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


def _read_body(body: lxml.html.HtmlElement, join: _Join, page: ArticlePage, generic: bool = False) -> None:
    body = copy.deepcopy(body)
    for el in BODY_ELEMENTS(body):
        el.drop_tree()
    if generic:  # the furniture BODY_ELEMENTS finds by name, found by what it is (gmwcrawler.extract.generic)
        for el in [el for el in body.iter("div", "p", "span", "center", "table") if el is not body]:
            if el.getparent() is not None and (is_hidden(el) or is_pager(el) or is_editor_line(el)):
                el.drop_tree()
    for table in [t for t in body.iter("table") if _is_link_grid(t)]:
        table.drop_tree()
    # Inline 相关阅读：/相关链接： paragraphs: the label, then its links (same or following paragraphs);
    # furniture paragraphs (【上一篇】…) go first, wherever they sit. One text per block.
    related_blocks = []
    in_related = False
    for el in _BLOCKS(body):
        raw = el.text_content()
        if el.tag == "p" and is_furniture_paragraph(raw):
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
    captions: set[lxml.html.HtmlElement] = set()  # centred captions, read as such and not as text
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
        if not caption_el and holder is not None and holder is not body and not clean_text(holder.text_content()):
            caption_el = _CENTRED_CAPTION(holder)
            captions.update(caption_el)
        caption = clean_text(caption_el[0].text_content()) if caption_el else ""
        page.images.append({"url": url, "caption": caption})
    with_text = set()  # blocks read as text below: not empty, so not dropped after
    for el in _TEXT_BLOCKS(body):
        if "pictext" in (el.get("class") or "") or el in captions:
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
# `{` from a damaged page, which the cleaner then fails on ("Invalid tag name", tests/test_fuzz.py)
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
LANDMARK = "landmark"  # the provenance of what the landmarks every template shares gave: pager, media, 相关阅读


def _related_anchors(root: lxml.html.HtmlElement, marks: Landmarks) -> list[lxml.html.HtmlElement]:
    """The links of the related-reading blocks, found the way the real pages show them:
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


def _related_blocks(root: lxml.html.HtmlElement, marks: Landmarks, join: _Join, page: ArticlePage,
                    generic: GenericPage) -> tuple[list[dict[str, str]], str | None]:
    """The related links outside the body, and the route that found their block: its containers or
    heading (LANDMARK), else, where neither they nor a 相关阅读： paragraph in the body is there, its
    label in any element (GENERIC)."""
    anchors, path = _related_anchors(root, marks), LANDMARK
    if not anchors and not page.related:
        anchors, path = generic.related_anchors(), GENERIC
    page.related_placeholders += sum(1 for a in anchors if _is_placeholder(a))
    return [link for a in anchors if (link := _link(a, join))], (path if anchors else None)


def _media(marks: Landmarks, join: _Join, generic: GenericPage, body: bytes) -> tuple[list[str], str | None]:
    """#MultiAttachPh holds the media URL as text; the page's scripts build the player. Without it, a
    media URL that is the whole text of some element (generic), looked for only where the page names one."""
    if elements := marks.by_id("MultiAttachPh"):
        texts, path = _texts(elements, _ALL_TEXT), LANDMARK
    elif MEDIA_HINT_RE.search(body):
        texts, path = generic.videos(), GENERIC
    else:
        return [], None
    out: list[str] = []
    for text in texts:
        for token in _MEDIA_SPLIT_RE.split(text.strip()):
            if token and _MEDIA_EXT_RE.search(token):
                url = join(token)
                if url and url not in out:
                    out.append(url)
    return out, (path if out else None)


def _page_count(marks: Landmarks, current: int, generic: GenericPage, article_id: str | None,
                html: str) -> tuple[int, str | None]:
    """The pager's count (hidden #mpagecount, else the highest number in #displaypagenum or div.pageNum);
    without a pager, the highest page among the links to this article's own pages (generic), looked
    for only where the page links one."""
    total = _TAKE_FIRST(clean_text(t) for t in _texts(marks.by_id("mpagecount"), _OWN_TEXT))
    if total and total.isdigit():
        return max(int(total), current), LANDMARK
    pagers = marks.by_id("displaypagenum") + marks.by_class("pageNum", "div")
    if pagers:
        numbers = [int(m.group(1)) for t in _texts(pagers, _PAGER_NUMBERS) if (m := _NUMBER_RE.match(t))]
        return max(numbers + [current]), LANDMARK
    if article_id and f"content_{article_id}_" in html and (found := generic.page_count(article_id, current)):
        return found, GENERIC
    return current, None


def _crumbs(elements: list) -> list[str]:
    return [t for t in (clean_text(x) for x in _texts(elements, _LINK_TEXT)) if t and t not in ("首页", "光明网")]


def extract_article_page(response: TextResponse) -> ArticlePage:
    """The fields of one page: each from the first template that holds it, then the fallbacks (the
    enpproperty comment, the head meta), then the generic routes (gmwcrawler.extract.generic), which
    are asked only for a field nothing before them served."""
    response = readable(response)
    join = _Join(response)
    root = response.selector.root
    enp, meta = EnpComment(response.text), HeadMeta(root)
    marks = Landmarks(root, _LANDMARK_IDS, _LANDMARK_TOKENS, _LANDMARK_SUBSTRINGS)
    generic = GenericPage(root)
    current = page_number_from_url(response.url)
    cur = _TAKE_FIRST(clean_text(t) for t in _texts(marks.by_id("mcurrentpage"), _OWN_TEXT))
    if cur and cur.isdigit():
        current = int(cur)
    page = ArticlePage(url=response.url, page=current, page_count=current)

    page.article_id, page.templates["article_id"] = _first_value([
        ("url", lambda: article_id_from_url(response.url)), (enp.name, enp.article_id), (meta.name, meta.article_id),
    ])
    page.page_count, path = _page_count(marks, current, generic, page.article_id, response.text)
    if path:
        page.templates["page_count"] = path

    templates = [template(marks) for template in TEMPLATES]
    title, path = _first((t.name, t.title()) for t in templates)
    if not title and (from_comment := enp.title()) is not None:
        title, path = from_comment, enp.name
    if not title and (title := generic.title()):
        path = GENERIC
    page.title, page.templates["title"] = title or None, path

    when, path = _first_matching(((t.name, t.publish_time()) for t in templates), parse_beijing_time)
    enp_time = enp.publish_time()
    if when is None and enp_time is not None:
        when, path = enp_time, enp.name
    if when is None and (when := generic.publish_time()) is not None:
        path = GENERIC
    if when is not None and enp_time is not None and path != enp.name and _same_minute(when, enp_time):
        when, path = enp_time, f"{path}+{enp.name}"  # the comment keeps the seconds the page hides
    page.publish_time, page.templates["publish_time"] = (iso8601(when) if when else None), path

    page.source, page.templates["source"] = _first(((t.name, t.source()) for t in templates), _strip_source_label)
    if page.source is None and (found := generic.source()):
        page.source, page.templates["source"] = found, GENERIC
    page.editor, page.templates["editor"] = _first_matching(((t.name, t.editor()) for t in templates), _editor)
    if page.editor is None and (found := generic.editor()):
        page.editor, page.templates["editor"] = found, GENERIC

    crumbs, path = next(((found, t.name) for t in templates if (found := _crumbs(t.crumbs()))), ([], None))
    # the breadcrumb by its shape before the comment, which names the last crumb only (["要闻"])
    if not crumbs and (crumbs := generic.crumbs()):
        path = GENERIC
    if not crumbs and (crumbs := enp.crumbs()):
        path = enp.name
    page.channel, page.templates["channel"] = crumbs, path

    page.keywords, page.templates["keywords"] = next(
        ((found, source.name) for source in (enp, meta) if (found := source.keywords())), ([], None))

    body, path = next(((found[0], t.name) for t in templates if (found := t.body())), (None, None))
    if body is None and (body := generic.body()) is not None:
        path = GENERIC
    page.templates["content"] = path
    if body is not None:
        _read_body(body, join, page, generic=path == GENERIC)
    # the comment's <author>, else a credit line; never the head meta `author` (EnpComment.author)
    page.author, page.templates["author"] = enp.author(), enp.name
    if not page.author and current == 1:
        page.author, page.templates["author"] = _credit_line(page), "line"
    if not page.author:
        page.templates["author"] = None
    page.videos, path = _media(marks, join, generic, response.body)
    if path:
        page.templates["videos"] = path
    in_body = bool(page.related)
    seen = {r["url"] for r in page.related}
    found, path = _related_blocks(root, marks, join, page, generic)
    page.related.extend(r for r in found if r["url"] not in seen and not seen.add(r["url"]))
    if path or in_body:
        page.templates["related"] = path or "body"
    page.bad_links = join.bad
    return page


# the fields a template reads that a generic route can read too, and how two values are compared
_CHECKED = ("title", "publish_time", "source", "editor", "content")


def cross_check(response: TextResponse, page: ArticlePage) -> dict[str, tuple[Any, Any]]:
    """The generic routes asked for the fields a template served on this page: {field: (template's
    value, generic value)} where they disagree. The template's value stands; a disagreement is the
    early warning of a redesign that a template still matches but reads wrongly. It costs a generic
    reading of the page, so the spider asks for one page in GMW_EXTRACT_CHECK_EVERY."""
    response = readable(response)
    generic = GenericPage(response.selector.root)
    template_names = {t.name for t in TEMPLATES if not t.fallback}
    out: dict[str, tuple[Any, Any]] = {}
    for name in _CHECKED:
        path = (page.templates.get(name) or "").split("+", 1)[0]
        if path not in template_names:
            continue
        ours = page.paragraphs if name == "content" else getattr(page, name)
        theirs = _generic_value(name, generic, response, page)
        if not theirs:
            continue  # the generic route finds nothing here (variant B prints its source without 来源：): no check
        if name == "publish_time":
            same = ours is not None and _same_minute(datetime.fromisoformat(ours), theirs)
            theirs = iso8601(theirs)
        else:
            same = ours == theirs
        if not same:
            out[name] = (ours, theirs)
    return out


def _generic_value(name: str, generic: GenericPage, response: TextResponse, page: ArticlePage) -> Any:
    if name == "content":
        body = generic.body()
        if body is None:
            return []
        scratch = ArticlePage(url=page.url, page=page.page, page_count=page.page_count)
        _read_body(body, _Join(response), scratch, generic=True)
        if page.templates.get("author") == "line":
            _credit_line(scratch)  # the byline the template's reading took out of the text
        return scratch.paragraphs
    return getattr(generic, name)()


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
        **_provenance(pages),
    }


# fields read on every page: a later page's route counts as much as the first's
_EVERY_PAGE = ("content", "related", "videos", "page_count")


def _provenance(pages: list[ArticlePage]) -> dict[str, Any]:
    """The routes of page 1, and for the fields read on every page, GENERIC where any page's was."""
    routes = {name: route for name, route in pages[0].templates.items()}
    for name in _EVERY_PAGE:
        if any(p.templates.get(name) == GENERIC for p in pages):
            routes[name] = GENERIC
        elif name not in routes and (route := next((p.templates[name] for p in pages if p.templates.get(name)), None)):
            routes[name] = route
    return {"provenance": routes, "generic_fields": sorted(name for name, route in routes.items() if route == GENERIC)}

