"""Article pages: response -> fields of one page; pages -> one article.

Variants, in the order they are tried (../shared/gmw/README.md, "Article markup"):
  a        current template, politics pages 2019-2026: h1.u-title, .m-con-time, .m-con-source, .u-mainText
  b        seen on dangjian 2025-26: #articleID, #articlePubTime, #articleSource, #ContentPh
  enp      the <!--enpproperty ...--> comment inside the body (time with seconds, keywords, node)
  old2012  archive template: #articleTitle, #pubTime, #source, #contentMain, #contentLiability
`ArticlePage.sources` says which variant served each field; the spider counts them in stats.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import lxml.html
from itemloaders import ItemLoader
from itemloaders.processors import Join, MapCompose, TakeFirst
from lxml_html_clean import Cleaner
from scrapy.http import TextResponse

from .text import clean_text, html_to_text, iso8601, parse_beijing_time
from .urls import article_id_from_url, first_page_url, page_number_from_url

SOFT_404_MARKERS = ("页面没有找到", "出错啦")
_ENP_RE = re.compile(r"<!--\s*enpproperty(.*?)/enpproperty\s*-->", re.DOTALL)
_ENP_TAG_RE = re.compile(r"<(\w+)>(.*?)</\1>", re.DOTALL)
_EDITOR_RE = re.compile(r"(?:责编|责任编辑|编辑)\s*[:：]\s*([^\]\s】）)]+)")
_SOURCE_LABEL_RE = re.compile(r"^\s*来源\s*[:：]\s*")
_RELATED_LABEL_RE = re.compile(r"^(相关阅读|相关链接|相关报道|相关新闻)\s*[:：]?")
_PAGE_TITLE_SUFFIX_RE = re.compile(r"\(\d+\)$")
_MEDIA_SPLIT_RE = re.compile(r"[\s,;，；|]+")

BODY_XPATHS = {
    # a: the 2019 excerpt has .u-mainText without #article_inbox around it
    "a": "//*[@id='article_inbox']//div[contains(concat(' ', normalize-space(@class), ' '), ' u-mainText ')]"
         " | //div[contains(concat(' ', normalize-space(@class), ' '), ' u-mainText ')]",
    "b": "//*[@id='ContentPh']",
    "old2012": "//*[@id='contentMain']",
}
# Page furniture that sits inside the body element on the real pages.
BODY_FURNITURE_XPATH = (
    ".//script | .//style | .//noscript | .//iframe"
    " | .//*[@id='displaypagenum' or @id='mpagecount' or @id='mcurrentpage' or @id='contentLiability'"
    " or @id='MultiAttachPh']"
    " | .//*[contains(concat(' ', normalize-space(@class), ' '), ' liability ')]"
    " | .//a[.//img[contains(@src, 'content_logo')]]"
    " | .//img[contains(@src, 'content_logo')]"
)
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
    channel: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)
    content_html: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def first_page_url(self) -> str:
        return first_page_url(self.url)


def is_soft_404(response: TextResponse) -> bool:
    """gmw.cn answers some missing articles with HTTP 200 and an error page."""
    title = response.xpath("//title/text()").get("")
    return any(marker in title for marker in SOFT_404_MARKERS)


def _loader(response: TextResponse) -> ItemLoader:
    return ItemLoader(item={}, selector=response.selector)


# Processors are built once: itemloaders inspects each MapCompose function's signature on
# every call (measured: a third of extraction time when built per field).
_TO_TEXT = MapCompose(html_to_text)
_JOIN = Join(" ")
_FIRST_CLEAN = MapCompose(clean_text)
_TAKE_FIRST = TakeFirst()


def _first(loader: ItemLoader, candidates: Iterable[tuple[str, str]], *processors: Callable) -> tuple[str | None, str | None]:
    """The first non-empty value among (path, xpath) candidates, and the path that gave it."""
    for path, xpath in candidates:
        value = loader.get_xpath(xpath, _TO_TEXT, _JOIN)
        for processor in processors:
            value = processor(value)
        value = clean_text(value)
        if value:
            return value, path
    return None, None


def parse_enpproperty(html: str) -> dict[str, str]:
    """<!--enpproperty <articleid>…</articleid><date>2019-04-18 11:18:16.0</date>…-->"""
    m = _ENP_RE.search(html)
    if not m:
        return {}
    return {tag: clean_text(html_to_text(value)) for tag, value in _ENP_TAG_RE.findall(m.group(1))}


def _enp_title(title: str) -> str:
    # "福建武夷山：谷雨将至采茶忙(1)_光明网", "曝谢贤…谢霆锋(3)_娱乐频道_光明网"
    return clean_text(_PAGE_TITLE_SUFFIX_RE.sub("", title.split("_")[0]))


def _strip_source_label(value: str) -> str:
    return _SOURCE_LABEL_RE.sub("", value)


def _editor(value: str) -> str | None:
    m = _EDITOR_RE.search(value)
    return m.group(1) if m else None


def _body_element(response: TextResponse) -> tuple[lxml.html.HtmlElement | None, str | None]:
    for path, xpath in BODY_XPATHS.items():
        found = response.xpath(xpath)
        if found:
            return found[0].root, path
    return None, None


def _image_url(img: lxml.html.HtmlElement, response: TextResponse) -> str | None:
    for attr in _LAZY_ATTRS:
        value = (img.get(attr) or "").strip()
        if value and not value.startswith("data:") and "loading" not in value.rsplit("/", 1)[-1]:
            return response.urljoin(value)
    return None


def _is_related_label(el: lxml.html.HtmlElement) -> bool:
    return bool(_RELATED_LABEL_RE.match(clean_text(el.text_content())))


def _only_links(el: lxml.html.HtmlElement) -> bool:
    links = el.xpath(".//a[@href]")
    return bool(links) and clean_text(el.text_content()) == clean_text("".join(a.text_content() for a in links))


def _link(a: lxml.html.HtmlElement, response: TextResponse) -> dict[str, str] | None:
    href = (a.get("href") or "").strip()
    title = clean_text(a.text_content())
    if not href or href.lower().startswith(("javascript:", "#", "mailto:")) or not title:
        return None
    return {"url": response.urljoin(href), "title": title}


def _read_body(body: lxml.html.HtmlElement, response: TextResponse, page: ArticlePage) -> None:
    body = copy.deepcopy(body)
    for el in body.xpath(BODY_FURNITURE_XPATH):
        el.drop_tree()
    # Inline 相关阅读：/相关链接： paragraphs: the label, then its links (same or following paragraphs).
    blocks = body.xpath(".//p | .//h2 | .//h3 | .//h4")
    related_blocks = []
    in_related = False
    for el in blocks:
        if _is_related_label(el):
            in_related = True
            related_blocks.append(el)
        elif in_related and _only_links(el):
            related_blocks.append(el)
        else:
            in_related = False
    for el in related_blocks:
        page.related.extend(link for a in el.xpath(".//a[@href]") if (link := _link(a, response)))
    for el in related_blocks:
        el.drop_tree()
    for img in body.xpath(".//img"):
        url = _image_url(img, response)
        if not url:
            img.drop_tree()
            continue
        img.attrib.clear()
        img.set("src", url)
        holder = img.getparent()
        while holder is not None and holder.tag not in ("p", "div", "figure") and holder is not body:
            holder = holder.getparent()
        caption_el = holder.xpath("following-sibling::*[1][self::p and contains(@class, 'pictext')]") if holder is not None and holder is not body else []
        caption = clean_text(caption_el[0].text_content()) if caption_el else ""
        page.images.append({"url": url, "caption": caption})
    for el in body.xpath(".//p | .//h2 | .//h3 | .//h4 | .//h5 | .//blockquote"):
        if "pictext" in (el.get("class") or ""):
            continue
        if el.xpath(".//p"):
            continue  # a container; its own paragraphs are read
        text = clean_text(el.text_content())
        if text:
            page.paragraphs.append(text)
        if el.text:
            el.text = el.text.lstrip("\u3000\xa0 ")  # the full-width paragraph indent
    for el in body.xpath(".//p"):
        if not clean_text(el.text_content()) and not el.xpath(".//img"):
            el.drop_tree()
    for a in body.xpath(".//a[@href]"):
        a.set("href", response.urljoin(a.get("href").strip()))
    html = lxml.html.tostring(body, encoding="unicode")
    page.content_html = _CLEANER.clean_html(html).strip()


def _related_blocks(response: TextResponse) -> list[dict[str, str]]:
    """The 相关阅读 block (static where the CMS wrote it; script-filled on today's template)
    and the 2012 template's #contentRelated 相关报道."""
    anchors = response.xpath(
        "//*[contains(concat(' ', normalize-space(@class), ' '), ' m-relate ')]//a[@href]"
        " | //*[@id='contentRelated']//a[@href]"
    )
    return [link for a in anchors if (link := _link(a.root, response))]


def _media(response: TextResponse) -> list[str]:
    """#MultiAttachPh holds the media URL as text; the page's scripts build the player."""
    out: list[str] = []
    for text in response.xpath("//*[@id='MultiAttachPh']//text()").getall():
        for token in _MEDIA_SPLIT_RE.split(text.strip()):
            if token and re.search(r"\.(mp4|m3u8|mp3|flv|m4a)(\?|$)", token, re.IGNORECASE):
                url = response.urljoin(token)
                if url not in out:
                    out.append(url)
    return out


def _page_count(response: TextResponse, loader: ItemLoader, current: int) -> int:
    total = loader.get_xpath("//*[@id='mpagecount']/text()", _FIRST_CLEAN, _TAKE_FIRST)
    numbers = [int(n) for n in response.xpath("//*[@id='displaypagenum']//a/text() | //*[@id='displaypagenum']//span/text()").re(r"^\s*(\d+)\s*$")]
    if total and total.isdigit():
        return max(int(total), current)
    return max(numbers + [current])


def extract_article_page(response: TextResponse) -> ArticlePage:
    enp = parse_enpproperty(response.text)
    loader = _loader(response)
    current = page_number_from_url(response.url)
    cur = loader.get_xpath("//*[@id='mcurrentpage']/text()", _FIRST_CLEAN, _TAKE_FIRST)
    if cur and cur.isdigit():
        current = int(cur)
    page = ArticlePage(url=response.url, page=current, page_count=_page_count(response, loader, current))

    page.article_id = article_id_from_url(response.url) or enp.get("articleid") or None
    page.sources["article_id"] = "url" if article_id_from_url(response.url) else "enp"

    title, path = _first(loader, [
        ("a", "//h1[contains(concat(' ', normalize-space(@class), ' '), ' u-title ')]"),
        ("b", "//h1[@id='articleID'] | //*[@id='articleID']"),
        ("old2012", "//*[@id='articleTitle']"),
    ])
    if not title and enp.get("title"):
        title, path = _enp_title(enp["title"]), "enp"
    page.title, page.sources["title"] = title, path

    when, path = None, None
    for candidate_path, xpath in [
        ("a", "//*[contains(concat(' ', normalize-space(@class), ' '), ' m-con-time ')]"),
        ("b", "//*[@id='articlePubTime']"),
    ]:
        value, _ = _first(loader, [(candidate_path, xpath)])
        if (when := parse_beijing_time(value)) is not None:
            path = candidate_path
            break
    enp_time = parse_beijing_time(enp.get("date"))
    if when is None and enp_time is not None:
        when, path = enp_time, "enp"
    if when is None:
        value, _ = _first(loader, [("old2012", "//*[@id='pubTime']")])
        if (when := parse_beijing_time(value)) is not None:
            path = "old2012"
    if when is not None and enp_time is not None and path != "enp" and _same_minute(when, enp_time):
        when, path = enp_time, f"{path}+enp"  # the comment keeps the seconds the page hides
    page.publish_time, page.sources["publish_time"] = (iso8601(when) if when else None), path

    source, path = _first(loader, [
        ("a", "//*[contains(concat(' ', normalize-space(@class), ' '), ' m-con-source ')]"),
        ("b", "//*[@id='articleSource']"),
        ("old2012", "//*[@id='source']"),
    ], _strip_source_label)
    page.source, page.sources["source"] = source, path

    editor, path = None, None
    for candidate_path, xpath in [
        ("a", "//div[contains(concat(' ', normalize-space(@class), ' '), ' liability ')] | //span[contains(@class, 'liability')]"),
        ("b", "//*[contains(concat(' ', normalize-space(@class), ' '), ' liability ')]"),
        ("old2012", "//*[@id='contentLiability']"),
    ]:
        value, _ = _first(loader, [(candidate_path, xpath)])
        if value and (editor := _editor(value)):
            path = candidate_path
            break
    page.editor, page.sources["editor"] = editor, path

    crumbs = [
        t for t in (clean_text(x) for x in response.xpath("//div[contains(@class, 'g-crumbs')]//a//text()").getall())
        if t and t not in ("首页", "光明网")
    ]
    path = "a" if crumbs else None
    if not crumbs:
        crumbs = [
            t for t in (clean_text(x) for x in response.xpath("//*[@id='contentBreadcrumbs']//a//text()").getall())
            if t and t not in ("首页", "光明网")
        ]
        path = "old2012" if crumbs else None
    if not crumbs and enp.get("nodename"):
        crumbs, path = [enp["nodename"]], "enp"
    page.channel, page.sources["channel"] = crumbs, path

    keywords = [k for k in re.split(r"[,，;；\s]+", enp.get("keyword", "")) if k]
    path = "enp" if keywords else None
    if not keywords:
        meta = response.xpath("//meta[@name='keywords']/@content").get("")
        keywords = [k for k in re.split(r"[,，;；\s]+", meta) if k]
        path = "meta" if keywords else None
    page.keywords, page.sources["keywords"] = keywords, path

    body, path = _body_element(response)
    page.sources["content"] = path
    if body is not None:
        _read_body(body, response, page)
    page.videos = _media(response)
    seen = {r["url"] for r in page.related}
    page.related.extend(r for r in _related_blocks(response) if r["url"] not in seen and not seen.add(r["url"]))
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
        "channel": first_value("channel"),
        "keywords": first_value("keywords"),
        "content": "\n".join(t for p in pages for t in p.paragraphs),
        "content_html": "\n".join(p.content_html for p in pages if p.content_html),
        "images": [im for p in pages for im in p.images],
        "videos": videos,
        "related": related,
        "page_count": max(p.page_count for p in pages),
    }

