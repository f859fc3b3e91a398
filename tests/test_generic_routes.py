"""The generic routes one by one, on small pages written the way a redesign might write them
(gmwcrawler/extract/generic.py; the real pages redesigned are tests/test_redesign.py's)."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from gmwcrawler.extract import extract_article_page, extract_listing, merge_pages
from gmwcrawler.extract.generic import GENERIC

URL = "https://politics.gmw.cn/2026-11/20/content_38900001.htm"
BODY = "".join(f"<p>　　第{n}段，正文的一句话。这是文章的第{n}段。</p>" for n in range(1, 5))


def page(html: str, url: str = URL):
    return extract_article_page(HtmlResponse(url=url, body=f"<html>{html}</html>".encode()))


REDESIGNED = f"""<head><meta charset="utf-8"><title>新的标题(1)_时政频道_光明网</title></head><body>
<nav><h1>全部导航</h1><a href="/">首页</a></nav>
<section class="x1"><a href="https://www.gmw.cn/">首页</a> &gt; <a href="https://politics.gmw.cn/">时政频道</a> &gt;
<a href="https://politics.gmw.cn/node_9840.htm">国内</a></section>
<div class="x2">新的标题</div>
<div class="x3"><em>2026-11-20 09:30</em><em>来源：<a href="https://www.gmw.cn/">光明日报</a></em></div>
<article class="x4">{BODY}<div class="x5"><span>[ </span><span>责编：王宇</span><span> ]</span></div></article>
<div class="x6"><span>相关阅读</span></div>
<ul><li><a href="https://politics.gmw.cn/2026-11/19/content_38899001.htm">一篇相关的文章</a></li>
<li><a href="javascript:;"></a></li></ul>
<div class="x7">推荐阅读</div><ul><li><a href="https://politics.gmw.cn/2026-11/18/content_38898001.htm">推荐的</a></li></ul>
</body>"""


@pytest.fixture(scope="module")
def redesigned():
    return page(REDESIGNED)


@pytest.mark.parametrize(("field", "expected"), [
    ("title", "新的标题"),
    ("publish_time", "2026-11-20T09:30:00+08:00"),
    ("source", "光明日报"),
    ("editor", "王宇"),
    ("channel", ["时政频道", "国内"]),
    ("paragraphs", [f"第{n}段，正文的一句话。这是文章的第{n}段。" for n in range(1, 5)]),
    ("related", [{"url": "https://politics.gmw.cn/2026-11/19/content_38899001.htm", "title": "一篇相关的文章"}]),
    ("related_placeholders", 1),
])
def test_a_page_no_template_knows_is_read_by_what_it_says(redesigned, field, expected):
    assert getattr(redesigned, field) == expected


def test_every_field_so_read_is_marked_generic(redesigned):
    routes = redesigned.templates
    assert {f: routes[f] for f in ("title", "publish_time", "source", "editor", "channel", "content", "related")} == dict.fromkeys(
        ("title", "publish_time", "source", "editor", "channel", "content", "related"), GENERIC)
    merged = merge_pages([redesigned])
    assert merged["generic_fields"] == ["channel", "content", "editor", "publish_time", "related", "source", "title"]
    assert "责编" not in merged["content_html"] and "推荐" not in merged["content"]


@pytest.mark.parametrize("tag", ["div", "span", "p", "strong", "h3"])
def test_a_related_label_in_any_element_leads_to_its_links(tag):
    html = f"""<body><div>{BODY}</div><section><{tag}>相关报道：</{tag}><ul>
    <li><a href="https://politics.gmw.cn/2026-11/19/content_38899001.htm">相关一</a></li></ul></section>
    <section><div>推荐阅读</div><ul><li><a href="https://politics.gmw.cn/2026-11/18/content_1.htm">不是</a></li></ul></section></body>"""
    assert [r["title"] for r in page(html).related] == ["相关一"]


def test_a_related_label_written_in_a_div_inside_the_body_takes_its_links_out_of_the_text():
    html = f"""<body><div class="u-mainText">{BODY}<div><strong>相关阅读：</strong></div>
    <p><a href="https://politics.gmw.cn/2026-11/19/content_38899001.htm">相关一</a></p></div></body>"""
    found = page(html)
    assert [r["title"] for r in found.related] == ["相关一"] and "相关一" not in "\n".join(found.paragraphs)


def test_the_title_from_og_title_and_the_time_from_the_head_meta():
    html = f"""<head><meta property="og:title" content="只在头里的标题"><meta property="article:published_time"
    content="2026-11-20T09:30:00+08:00"><meta name="publishdate" content="2026-11-19"></head><body><div>{BODY}</div></body>"""
    found = page(html)
    assert (found.title, found.publish_time) == ("只在头里的标题", "2026-11-20T09:30:00+08:00")
    assert (found.templates["title"], found.templates["publish_time"]) == (GENERIC, GENERIC)


def test_a_date_alone_in_the_head_is_no_time():
    """The real 2024 page's `publishdate` (2024-05-13) is a day: read as a time it would say 00:00."""
    found = page(f'<head><meta name="publishdate" content="2026-11-19"></head><body><div>{BODY}</div></body>')
    assert found.publish_time is None and found.templates["publish_time"] is None


def test_the_densest_block_is_the_prose_not_the_footer():
    footer = "".join(f"<p>京ICP证{n}号 地址：北京市东城区 联系电话：010-{n}</p>" for n in range(8))
    found = page(f"<body><div><p>　　只有一段正文，但它是一句完整的话。</p></div><div>{footer}</div></body>")
    assert found.paragraphs == ["只有一段正文，但它是一句完整的话。"]


def test_a_renamed_pager_gives_the_page_count_and_leaves_the_text():
    pager = ('<div class="r1"><p><center><a href="content_38900001.htm">上一页</a> <a href="content_38900001.htm">1</a>'
             ' <span>2</span> <a href="content_38900001_3.htm">3</a> <a href="content_38900001_3.htm">下一页</a></center></p></div>'
             '<div class="r2" style="display:none">3</div>')
    found = page(f"<body><div>{BODY}{pager}</div></body>", URL.replace(".htm", "_2.htm"))
    assert (found.page, found.page_count, found.templates["page_count"]) == (2, 3, GENERIC)
    assert all("页" not in p for p in found.paragraphs) and ">3<" not in found.content_html


def test_media_urls_without_their_element_id():
    found = page(f'<body><div>{BODY}</div><div style="display:none">https://v.gmw.cn/a.mp4</div></body>')
    assert (found.videos, found.templates["videos"]) == (["https://v.gmw.cn/a.mp4"], GENERIC)


def test_a_listing_without_its_classes_keeps_its_article_links_and_dates():
    html = """<html><body><ul><li><a href="node_9840.htm">国内</a></li></ul>
    <ul><li><a href=2026-11/20/content_2.htm>二</a><span>2026-11-20</span></li>
        <li><span><a href="2026-11/19/content_1.htm">一</a></span><i>2026年11月19日</i></li></ul>
    <div><h2>推荐</h2><ul><li><a href="2026-11/18/content_9.htm">推荐一</a></li><li><a href="2026-11/18/content_8.htm">推荐二</a></li>
    <li><a href="2026-11/18/content_7.htm">推荐三</a></li></ul></div>
    <div><a href="node_9840_2.htm">下一页</a></div></body></html>"""
    listing = extract_listing(HtmlResponse(url="https://politics.gmw.cn/node_9840.htm", body=html.encode("utf-8")))
    assert [(e.title, str(e.day)) for e in listing.entries] == [("二", "2026-11-20"), ("一", "2026-11-19")]
    assert listing.next_url == "https://politics.gmw.cn/node_9840_2.htm"
    assert listing.routes == {"entries": GENERIC, "next": GENERIC}


def test_a_label_in_a_comments_tail_is_read_from_the_comments_element():
    """lxml gives a comment as the owner of the text after it; found by tests/test_fuzz.py on a mutated 2012 page."""
    html = REDESIGNED.replace("<span>责编：王宇</span>", "<span><!-- 编辑 -->责编：王宇</span>").replace(
        "<div class=\"x2\">新的标题</div>", "<div class=\"x2\"><!-- 标题 -->新的标题</div>")
    found = page(html)
    assert found.editor == "王宇" and found.title == "新的标题"
