"""Shapes of gmw.cn URLs (docs/evidence.md, "URLs")."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from scrapy.http import TextResponse

# https://politics.gmw.cn/2026-01/20/content_38547123.htm, further pages content_<id>_2.htm
ARTICLE_PATH_RE = re.compile(r"/content_(\d+)(?:_(\d+))?\.htm$")
LISTING_PATH_RE = re.compile(r"/node_(\d+)(?:_(\d+))?\.htm$")


def article_id_from_url(url: str) -> str | None:
    m = ARTICLE_PATH_RE.search(urlsplit(url).path)
    return m.group(1) if m else None


def page_number_from_url(url: str) -> int:
    m = ARTICLE_PATH_RE.search(urlsplit(url).path)
    return int(m.group(2)) if m and m.group(2) else 1


def is_article_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(ARTICLE_PATH_RE.search(parts.path))


def first_page_url(url: str) -> str:
    """The page-1 URL of an article: no `_N` page suffix, no query, no fragment."""
    parts = urlsplit(url)
    path = ARTICLE_PATH_RE.sub(lambda m: f"/content_{m.group(1)}.htm", parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def absolute_url(response: TextResponse, href: str) -> str | None:
    """`href` made absolute against the page, or None where it does not parse as a URL
    (`http://[2001:db8::1` raises in urljoin, a port out of range when read: tests/test_fuzz.py)."""
    try:
        url = response.urljoin(href.strip())
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that does not parse
    except ValueError:
        return None
    return url
