"""Offline extraction on replica pages, compared with the replica's ground truth.

The pages are rendered to bytes exactly as the replica serves them, and read back as
bytes so that charset detection (UTF-8, GB18030 from <meta>) runs as in production.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from gmwcrawler.extract import extract_article_page, extract_listing, is_soft_404, merge_pages
from tests.replica import render
from tests.replica.model import Site, seed_article_text

REAL = Path(__file__).parent / "fixtures" / "real"
SITE = Site(60, seed=1)


def pages_of(key: str, charset: str = "utf-8") -> list:
    art = SITE.article(key)
    return [
        extract_article_page(HtmlResponse(url=art.page_url(p), body=render.article_page(SITE, art, p, charset).encode(charset)))
        for p in range(1, len(art.pages) + 1)
    ]


def article_of(key: str, charset: str = "utf-8") -> dict:
    return merge_pages(pages_of(key, charset))


# -- the seed article, rebuilt from the real page text ------------------------------------
@pytest.fixture(scope="module")
def seed():
    return article_of("seed")


def real_seed_paragraphs() -> list[str]:
    """Body paragraphs as the browser showed them: between the 来源 line and [ 责编:… ]."""
    lines = (REAL / "seed_article_2026-01-20_page_text.txt").read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("来源:"))
    end = next(i for i, line in enumerate(lines) if line.startswith("[ 责编:"))
    return [line.strip() for line in lines[start + 1 : end] if line.strip()]


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("title", "视频丨货物贸易额首破千亿美元 中国中亚合作何以如此密切?记者观察"),
        ("publish_time", "2026-01-20T16:07:00+08:00"),
        ("source", "央视新闻客户端"),
        ("editor", "邢彬"),
        ("channel", ["时政频道", "国内"]),
    ],
)
def test_seed_article_fields(seed, field, expected):
    assert seed[field] == expected


def test_seed_article_body_is_exactly_the_paragraphs(seed):
    assert seed["content"].split("\n") == real_seed_paragraphs()
    assert len(real_seed_paragraphs()) == 13


@pytest.mark.parametrize(
    "furniture",
    ["点击右上角", "朋友圈", "请使用浏览器分享功能", "正在阅读", "阅读剩余全文", "相关阅读", "您此时的心情", "光明云投",
     "开心", "视觉焦点", "海南自贸港", "推荐阅读", "天山百里丹霞", "全部导航", "责编", "脚本里的文字", "光明网版权所有"],
)
def test_seed_article_has_no_furniture(seed, furniture):
    assert furniture not in seed["content"]
    assert furniture not in seed["content_html"]


def test_content_html_is_sanitised(seed):
    html = seed["content_html"]
    assert "<p>" in html
    for bad in ("<script", "<style", "onclick", "style=", "<!--", "enpproperty", "displaypagenum", "\u3000"):
        assert bad not in html


def test_seed_page_text_is_what_the_replica_serves():
    assert seed_article_text()["paragraphs"] == real_seed_paragraphs()


# -- every variant against truth ------------------------------------------------------------
def truth_of(key: str) -> dict:
    t = SITE.article(key).truth()
    t["content"] = "\n".join(t["content"])
    return t


CASES = {
    "variant A, multi-page, images": "i0",
    "variant A, 4 pages": "i3",
    "variant B": "i4",
    "old template": "i7",
    "video": "i6",
    "unlisted, inline related": "i9",
    "news.gmw.cn host": "i24",
    "lazy images": "i10",
}
FIELDS = ("url", "article_id", "title", "publish_time", "source", "editor", "channel", "keywords", "content",
          "images", "videos", "related", "page_count")


@pytest.mark.parametrize("key", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("field", FIELDS)
def test_fields_match_truth(key, field):
    assert article_of(key)[field] == truth_of(key)[field]


def test_gb18030_page_decodes_from_meta():
    key = "special:gb18030"
    art = SITE.article(key)
    body = render.article_page(SITE, art, 1, "gb18030").encode("gb18030")
    response = HtmlResponse(url=art.url, body=body)  # no charset in headers: <meta> says gb18030
    assert response.encoding == "gb18030"
    assert merge_pages([extract_article_page(response)])["content"] == truth_of(key)["content"]


def test_soft_404_is_recognised():
    assert is_soft_404(HtmlResponse(url="https://politics.gmw.cn/x/content_1.htm", body=render.SOFT_404.encode()))
    seed = SITE.article("seed")
    assert not is_soft_404(HtmlResponse(url=seed.url, body=render.article_page(SITE, seed, 1).encode()))


def test_empty_and_broken_pages_give_empty_fields_not_errors():
    for body in (b"", b"<html", b"\xff\xfe\x00garbage", b"<html><body><div class='u-mainText'></div></body></html>"):
        page = extract_article_page(HtmlResponse(url="https://politics.gmw.cn/2026-11/20/content_1.htm", body=body))
        assert page.title is None and page.paragraphs == []


# -- listings -------------------------------------------------------------------------------
def test_listing_both_markups_and_pager():
    site = Site(400, seed=1)
    html = render.listing_page(site, 9844, 1).encode()
    listing = extract_listing(HtmlResponse(url="https://politics.gmw.cn/node_9844.htm", body=html))
    entries, _ = site.listing(9844, 1)
    assert len(entries) == 20
    assert [(e.url, e.title, e.day.isoformat()) for e in listing.entries] == entries
    assert listing.next_url == "https://politics.gmw.cn/node_9844_2.htm"
    last = extract_listing(HtmlResponse(url="https://politics.gmw.cn/node_9844_3.htm", body=render.listing_page(site, 9844, 3).encode()))
    assert last.entries and last.next_url is None


def test_listing_in_the_real_2026_markup():
    """node_9840 as crawlers saw it in May 2026: unquoted relative hrefs (fixtures/real/…links…)."""
    links = []
    for line in (REAL / "politics_node_9840_links_2026-05.txt").read_text("utf-8").splitlines():
        m = re.search(r'"link": "https://politics\.gmw\.cn/(\S+)",\s+"title": "(.*)",?\s*$', line)
        if m:
            links.append((m.group(1), m.group(2).replace('\\"', '"')))
    assert len(links) == 34
    lis = "".join(
        f'<li><a href={href} target=_blank>{title}</a><span class="channel-newsTime">{href[:7]}-{href[8:10]}</span></li>'
        for href, title in links
    )
    body = f'<html><body><ul class="channel-newsGroup">{lis}</ul></body></html>'.encode()
    listing = extract_listing(HtmlResponse(url="https://politics.gmw.cn/node_9840.htm", body=body))
    assert [e.url for e in listing.entries] == ["https://politics.gmw.cn/" + href for href, _ in links]
    assert [e.title for e in listing.entries] == [title for _, title in links]
    assert listing.entries[0].day.isoformat() == "2026-05-14"


# -- listing links anywhere inside an item (issue #11, part 4; RSSHub's gmw route) -----------------
def test_listing_link_nested_inside_the_item_and_guancha_main_title():
    html = """<ul class="channel-newsGroup">
    <li><div class="wrap"><a href="javascript:;">分享</a><a href="2026-05/14/content_38763645.htm">嵌套的标题</a></div>
        <span class="channel-newsTime">2026-05-14</span></li>
    <li><span class="channel-newsTitle"><a href="2026-05/13/content_38760001.htm">包着的标题</a></span></li>
    </ul>
    <div class="content_left_main"><ul><li><div class="main_title"><a href="2026-05/12/content_38750002.htm">观察的标题</a></div>
        <div class="reading_right">发布时间：2026-05-12 09:30</div></li></ul></div>"""
    listing = extract_listing(HtmlResponse("https://guancha.gmw.cn/node_11273.htm", body=html.encode(), encoding="utf-8"))
    assert [(e.url, e.title, e.day) for e in listing.entries] == [
        ("https://guancha.gmw.cn/2026-05/14/content_38763645.htm", "嵌套的标题", date(2026, 5, 14)),
        ("https://guancha.gmw.cn/2026-05/13/content_38760001.htm", "包着的标题", None),
        ("https://guancha.gmw.cn/2026-05/12/content_38750002.htm", "观察的标题", date(2026, 5, 12)),
    ]


# -- the picture-gallery template (issue #11): selectors of a public 2019 gmw.cn spider ----------
@pytest.fixture(scope="module")
def gallery():
    assert SITE.article("i48").variant == "gallery" and len(SITE.article("i48").pages) == 1
    assert SITE.article("i48").truth()["page_count"] == 1
    return SITE.article("i48").truth(), pages_of("i48")[0]


def test_gallery_title(gallery):
    truth, page = gallery
    assert (page.title, page.templates["title"]) == (truth["title"], "gallery")


def test_gallery_time(gallery):
    truth, page = gallery
    assert (page.publish_time, page.templates["publish_time"]) == (truth["publish_time"], "gallery+enp")


def test_gallery_source(gallery):
    truth, page = gallery
    assert (page.source, page.templates["source"]) == (truth["source"], "gallery")


def test_gallery_body_and_pictures(gallery):
    truth, page = gallery
    assert page.templates["content"] == "gallery"
    assert page.paragraphs == truth["content"]
    assert [im["url"] for im in page.images] == [im["url"] for im in truth["images"]]


def test_gallery_pager_gives_the_page_count():
    art = SITE.article("i11")
    assert art.variant == "gallery"
    pages = pages_of("i11")
    assert [p.page_count for p in pages] == [len(art.pages)] * len(art.pages)
    assert all("下一页" not in "".join(p.paragraphs) for p in pages)
    assert merge_pages(pages)["content"].split("\n") == art.truth()["content"]
