"""The generic routes: every field found by what the page says, with no class or id name.

A CMS redesign renames classes and ids, writes a heading as a `div`, wraps or unwraps containers; the
templates (gmwcrawler.extract.templates) then find nothing. These routes read what a redesign keeps:
the labels the pages print (来源：, 责编：/[责任编辑:…], 相关阅读), the date-time after the headline,
the `<title>` the headline repeats, and the page's shape (the block that holds the most paragraph
text). gmwcrawler.extract.article asks them only for a field no template served, and marks what they
give `generic`; the drift verdict names it (gmwcrawler.health.drift). tests/test_redesign.py holds the table
of which fields stay exact when the real pages are redesigned.

Evidence for each label and form: the real pages of tests/fixtures/real/ (2012, 2019, 2024):
`<span …>来源：<a>人民日报</a></span>`, `<span …>来源：电影网</span>`, `<span …>责编：杨煜</span>`,
`<div …>[责任编辑:辛忠]</div>`, `<h2>相关阅读</h2>`, `<h4 …>相关报道：</h4>`, `<title>…(3)_娱乐频道_光明网</title>`.
"""

from __future__ import annotations

import re
from datetime import datetime

import lxml.html
from lxml import etree

from .text import clean_text, parse_beijing_time

GENERIC = "generic"  # the provenance of a value a generic route gave

_TITLE_TAG = etree.XPath("//title")
_OG_TITLE = etree.XPath("//meta[@property='og:title' or @name='og:title']/@content")
# the time in the head, where a page gives one with hours and minutes (a date alone is not a time: the
# real 2024 page's `publishdate` 2024-05-13 would read 00:00)
_META_TIMES = etree.XPath("//meta[@property='article:published_time' or @name='pubdate' or @name='PubDate'"
                          " or @name='publishdate' or @name='publish_time' or @itemprop='datePublished']/@content")
_H1 = etree.XPath("//h1")
_HOME_LINKS = etree.XPath("//body//a[normalize-space()='首页' or normalize-space()='光明网']")
# the site's suffix of a <title>: 维护…保护主义 _光明网, 曝谢贤…谢霆锋(3)_娱乐频道_光明网
_SITE_SUFFIX_RE = re.compile(r"\s*(?:_[^_]{1,20})*?_\s*光明网\s*$")
_PAGE_SUFFIX_RE = re.compile(r"\s*\(\d+\)$")
# text nodes holding a label, outside scripts and styles; one pass, asked only where a route needs it
_LABELLED = etree.XPath(
    "//body//text()[contains(., '来源') or contains(., '责编') or contains(., '责任编辑')"
    " or contains(., '相关')][not(parent::script or parent::style)]")
_SOURCE_LABEL_RE = re.compile(r"^\s*来源\s*[:：]")
# where a source written inline ends: a wide space, a line break, the next label, a date
_SOURCE_END_RE = re.compile(r"[\u3000\xa0\n\r\t]|\s{2,}|\s(?=\S{1,6}[:：])|\s(?=\d{4}[-/年.])")
_EDITOR_RE = re.compile(r"(?:责编|责任编辑)\s*[:：]\s*([^\]\s】）)\[【（(]+)")
_RELATED_LABEL_RE = re.compile(r"^(?:相关阅读|相关链接|相关报道|相关新闻)\s*[:：]?$")
_RELATED_LABEL_MAX = 8  # characters: a label, not a sentence that starts with one
_TIME_WINDOW = 60  # text nodes after the headline searched for its date-time
_MEDIA_RE = re.compile(r"\.(?:mp4|m3u8|mp3|flv|m4a)(?:\?\S*)?$", re.IGNORECASE)
_MEDIA_TEXT = etree.XPath(
    "//body//text()[contains(., '.mp4') or contains(., '.m3u8') or contains(., '.mp3') or contains(., '.flv')"
    " or contains(., '.m4a')][not(parent::script or parent::style)]")
# searched in the page's bytes first (most pages name no media): 25 µs a page, where five `in` tests of
# the text cost 150 µs (every "." starts a candidate match)
MEDIA_HINT_RE = re.compile(rb"\.(?:mp4|m3u8|mp3|flv|m4a)", re.IGNORECASE)
_PAGER_WORD_RE = re.compile(r"^(?:上一页|下一页|首页|尾页|第\d+页|\d+|[<>«»‹›]+)$")
# prose has sentence punctuation; the lines of a footer or a link list rarely do
_SENTENCE_RE = re.compile(r"[，。！？；,.!?;]")
_NOT_PROSE = 0.02
_SKIP = frozenset({"script", "style", "noscript", "textarea", "select", "option", "title", "head"})


def page_title_text(root: lxml.html.HtmlElement) -> str | None:
    """The headline the `<title>` (or og:title) repeats, less the site's suffix and the page number."""
    for raw in (*(t.text_content() for t in _TITLE_TAG(root)[:1]), *_OG_TITLE(root)[:1]):
        text = _PAGE_SUFFIX_RE.sub("", _SITE_SUFFIX_RE.sub("", clean_text(raw)))
        if text:
            return text
    return None


def _holder(node: etree._ElementUnicodeResult) -> lxml.html.HtmlElement | None:
    """The element a text node belongs to. lxml gives a tail's owner, which may be a comment (a damaged page's
    `<!-- … -->责编：…`, tests/test_fuzz.py): then the comment's parent element."""
    el = node.getparent()
    while el is not None and not isinstance(el.tag, str):
        el = el.getparent()
    return el


class GenericPage:
    """The generic routes of one page. Each lookup is made once, when a field first needs it."""

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self.root = root
        self._labelled: list[tuple[lxml.html.HtmlElement, str]] | None = None
        self._headline: tuple[str | None, lxml.html.HtmlElement | None] | None = None

    def labelled(self) -> list[tuple[lxml.html.HtmlElement, str]]:
        """(element, its text node) for every text node holding a label, in document order."""
        if self._labelled is None:
            self._labelled = [(el, str(node)) for node in _LABELLED(self.root) if (el := _holder(node)) is not None]
        return self._labelled

    def headline(self) -> tuple[str | None, lxml.html.HtmlElement | None]:
        """The title and the element that shows it: the element whose text is the `<title>`'s headline
        (an h1 first; a heading written as a `div` too), else the longest h1."""
        if self._headline is None:
            self._headline = self._find_headline()
        return self._headline

    def _find_headline(self) -> tuple[str | None, lxml.html.HtmlElement | None]:
        wanted = page_title_text(self.root)
        h1s = [(clean_text(h.text_content()), h) for h in _H1(self.root)]
        if wanted:
            for text, h in h1s:
                if text == wanted:
                    return text, h
            for node in self.root.xpath("//body//text()[contains(., $start)]", start=wanted[:8]):
                el = _holder(node)
                if el is not None and el.tag not in _SKIP and clean_text(el.text_content()) == wanted:
                    return wanted, el
            return wanted, None
        h1s = [(text, h) for text, h in h1s if text]
        if h1s:
            return max(h1s, key=lambda pair: len(pair[0]))
        return None, None

    def title(self) -> str | None:
        return self.headline()[0]

    def publish_time(self) -> datetime | None:
        """The first date-time among the text that follows the headline; else a time in the head meta."""
        _, heading = self.headline()
        if heading is not None:
            for node in heading.xpath(f"following::text()[normalize-space()][position() <= {_TIME_WINDOW}]"):
                parent = node.getparent()
                if parent is not None and parent.tag in _SKIP:
                    continue
                if (moment := parse_beijing_time(str(node))) is not None:
                    return moment
        for value in _META_TIMES(self.root):
            if (moment := parse_beijing_time(value)) is not None:
                return moment
        return None

    def source(self) -> str | None:
        """The text after the first 来源： label that starts a text node, within its element."""
        for el, text in self.labelled():
            if not _SOURCE_LABEL_RE.match(text):
                continue
            whole = el.text_content()
            rest = whole[whole.find(text) + len(_SOURCE_LABEL_RE.match(text).group(0)):]
            value = clean_text(_SOURCE_END_RE.split(rest.strip(), maxsplit=1)[0])
            if value:
                return value
        return None

    def editor(self) -> str | None:
        """The name after the first 责编：/责任编辑: label (`[责任编辑:辛忠]`, `责编：杨煜`)."""
        for el, _ in self.labelled():
            if (m := _EDITOR_RE.search(clean_text(el.text_content()))) is not None:
                return m.group(1)
        return None

    def related_anchors(self) -> list[lxml.html.HtmlElement]:
        """The links after each short element whose own text is a related-reading label (相关阅读,
        相关报道：…), whatever its tag: the label is climbed to the outermost element that holds only it,
        and the links of that element's following siblings are taken up to the next text-only sibling
        (the next section's heading)."""
        anchors: list[lxml.html.HtmlElement] = []
        for el, text in self.labelled():
            if "相关" not in text or not _RELATED_LABEL_RE.match(clean_text(text)):
                continue
            label = clean_text(el.text_content())
            if len(label) > _RELATED_LABEL_MAX or not _RELATED_LABEL_RE.match(label):
                continue
            while ((parent := el.getparent()) is not None and parent.tag != "body" and parent.find(".//a") is None
                   and clean_text(parent.text_content()) == label):
                el = parent
            for sibling in el.itersiblings():
                if not isinstance(sibling.tag, str):
                    continue
                links = sibling.xpath(".//a[@href]")
                if not links and clean_text(sibling.text_content()):
                    break
                anchors.extend(links)
        return list(dict.fromkeys(anchors))

    def body(self) -> lxml.html.HtmlElement | None:
        """The densest block: the element whose paragraphs hold the most prose that is not link text
        (a paragraph's text counts fully for its parent, half for its grandparent; a line without
        sentence punctuation a fiftieth: a one-sentence brief outweighs a footer of eight licence lines)."""
        scores: dict[lxml.html.HtmlElement, float] = {}
        for p in self.root.iter("p"):
            if any(a.tag in _SKIP or a.tag in ("a", "li", "form") for a in p.iterancestors()):
                continue
            text = clean_text(p.text_content())
            links = sum(len(clean_text(a.text_content())) for a in p.iter("a"))
            weight = len(text) - links
            if weight <= 0:
                continue
            if not _SENTENCE_RE.search(text):  # a footer's 地址：… | 许可证号 lines, a credit: not prose
                weight *= _NOT_PROSE

            parent = p.getparent()
            if parent is None:
                continue
            scores[parent] = scores.get(parent, 0.0) + weight
            grand = parent.getparent()
            if grand is not None and grand.tag != "html":
                scores[grand] = scores.get(grand, 0.0) + weight / 2
        return max(scores, key=scores.__getitem__) if scores else None

    def crumbs(self) -> list[str]:
        """A breadcrumb: the first element that opens with a 首页 or 光明网 link and goes on with `>`
        between further links (首页 > 时政频道 > 要闻 > 正文, the real 2024 and 2012 pages)."""
        for home in _HOME_LINKS(self.root):
            trail = home.getparent()
            if trail is None or ">" not in trail.text_content():
                continue
            names = [clean_text(a.text_content()) for a in trail.iter("a")]
            names = [n for n in names if n and n not in ("首页", "光明网")]
            if names:
                return names
        return []

    def videos(self) -> list[str]:
        """Media URLs written as the whole text of an element (the hidden element the player is built from)."""
        out: list[str] = []
        for node in _MEDIA_TEXT(self.root):
            tokens = str(node).split()
            if tokens and all(_MEDIA_RE.search(t) for t in tokens):
                out.extend(t for t in tokens if t not in out)
        return out

    def page_count(self, article_id: str | None, current: int) -> int | None:
        """The highest page number among the links to this article's own pages (content_<id>_N.htm)."""
        if not article_id:
            return None
        pattern = re.compile(rf"content_{re.escape(article_id)}_(\d+)\.htm")
        numbers = [int(m.group(1)) for href in self.root.xpath("//a/@href")
                   if "content_" in href and (m := pattern.search(href))]
        return max(numbers + [current]) if numbers else None


def is_pager(el: lxml.html.HtmlElement) -> bool:
    """A block of page links (上一页 1 2 3 下一页): every word in it is a page word, and it links."""
    if el.find(".//a") is None:
        return False
    words = clean_text(el.text_content()).split()
    return bool(words) and all(_PAGER_WORD_RE.match(w) for w in words)


def is_editor_line(el: lxml.html.HtmlElement) -> bool:
    """`[ 责编：杨煜 ]`, `[责任编辑:辛忠]`: a credit line, not text."""
    text = clean_text(el.text_content())
    return len(text) <= 40 and bool(_EDITOR_RE.search(text)) and bool(
        re.fullmatch(r"[\[【(（]?\s*(?:责编|责任编辑)\s*[:：]\s*\S+\s*[\]】)）]?", text))


def is_hidden(el: lxml.html.HtmlElement) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style
