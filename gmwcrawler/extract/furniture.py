"""Page furniture: what stands in or beside an article's body and is not its text. One module, used twice:
extraction drops it from the body element (gmwcrawler.extract.article: neither `content` nor `content_html`
holds it), and the clean pipeline drops a line of `content` that is still furniture (text that reached the
item another way: a generic body, a page whose markup hid it). Evidence: docs/evidence.md and the seed page
(tests/fixtures/real/seed_article_2026-01-20_page_text.txt), which shows every line pattern below.
"""

from __future__ import annotations

import re

from lxml import etree

from .text import clean_text

# Page furniture that sits inside the body element on the real pages; and what public crawlers
# of gmw.cn remove from it (RSSHub's gmw route: .u-moreText, .u-QRcode, .text-right, .m-zbTool,
# #articleLiability, a text-less paragraph holding a node_ logo link; the 光明日报 template's 小调查
# vote block p#voteiFrameP / div.m-vote-wrap / its form, docs/evidence.md).
BODY_ELEMENTS = etree.XPath(
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

# paragraphs of the body that are navigation or credits, not text (RSSHub's gmw route drops the same),
# matched on the paragraph's clean text
PARAGRAPH_PATTERNS = (r"【上一篇】", r"【下一篇】", r"[（(]转载请注明来源", r"责任编辑[:：]")
_PARAGRAPH_RE = re.compile("^(" + "|".join(PARAGRAPH_PATTERNS) + ")")

# lines of `content` that are furniture wherever they came from; each paragraph pattern above is one of them
LINE_PATTERNS = (
    r"^点击右上角.*$", r"^朋友圈$", r"^请使用浏览器分享功能进行分享$", r"^分享到[:：]?.*$",
    r"^阅读剩余全文.*$", r"^正在阅读[:：].*$",
    r"^\[?\s*(责编|责任编辑)\s*[:：].*$",
    r"^.*转载请注明来源.*$", r"^.*(版权所有|未经授权不得转载).*$",
    r"^【?(上一篇|下一篇)】?[:：]?.*$", r"^(上一页|下一页)$",
    r"^您此时的心情$", r"^(相关阅读|推荐阅读|视觉焦点)$",
)
# one alternation: one regex call per line instead of one per pattern
LINE_RE = re.compile("|".join(f"(?:{p})" for p in LINE_PATTERNS))


def is_furniture_paragraph(raw: str) -> bool:
    """A body paragraph (its raw text) that is navigation or a credit line."""
    # each pattern holds one of these: most paragraphs are passed without cleaning their text
    return ("【" in raw or "转载" in raw or "责任编辑" in raw) and bool(_PARAGRAPH_RE.match(clean_text(raw)))


def is_furniture_line(line: str) -> bool:
    """A line of `content` (already cleaned) that is page furniture."""
    return LINE_RE.match(line) is not None
