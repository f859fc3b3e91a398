"""Offline extraction on real saved pages (tests/fixtures/real/, copied from ../shared/gmw/real/).

Pages are read as bytes so that Scrapy's charset detection runs as in production.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from gmwcrawler.extract import extract_article_page, merge_pages

REAL = Path(__file__).parent / "fixtures" / "real"
OLD_2012 = "2012-09-24_content_5189326_3_old_template.html"
PAGES_2019 = "2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html"


def response(name: str, url: str, body: bytes | None = None) -> HtmlResponse:
    return HtmlResponse(url=url, body=body if body is not None else (REAL / name).read_bytes())


@pytest.fixture(scope="module")
def old_page():
    return extract_article_page(response(OLD_2012, "https://ent.gmw.cn/2012-09/24/content_5189326_3.htm"))


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("article_id", "5189326"),
        ("title", "曝谢贤李小龙合影四哥帅过谢霆锋"),
        ("publish_time", "2012-09-24T15:15:45+08:00"),
        ("source", "7706娱乐网"),
        ("editor", "刘畅文化"),
        ("channel", ["娱乐频道", "明星八卦"]),
        ("keywords", ["谢贤", "谢霆锋", "李小龙", "娱乐圈", "艺人"]),
        ("page", 3),
        ("page_count", 4),
        ("first_page_url", "https://ent.gmw.cn/2012-09/24/content_5189326.htm"),
        ("images", [{"url": "http://imge.gmw.cn/attachement/jpg/site2/20120924/bc305bbef94411ca4e901a.jpg", "caption": ""}]),
        ("videos", []),
    ],
)
def test_old_2012_template(old_page, field, expected):
    assert getattr(old_page, field) == expected


def test_old_2012_body_is_the_article_only(old_page):
    assert len(old_page.paragraphs) == 1
    assert old_page.paragraphs[0].startswith("早前曾有传闻称谢霆锋并非四哥谢贤的儿子")
    assert old_page.paragraphs[0].endswith("谢霆锋便是赌王的儿子。")
    for furniture in ("displaypagenum", "责任编辑", "下一页", "<script", "enpproperty", "onclick"):
        assert furniture not in old_page.content_html


def test_old_2012_related_reports(old_page):
    urls = [r["url"] for r in old_page.related]
    assert len(urls) == 5
    assert urls[0] == "https://ent.gmw.cn/2012-09/24/content_5188739.htm"
    assert old_page.related[0]["title"] == "谢贤李小龙合影曝光 网友惊呼四哥帅过谢霆锋"


def test_old_2012_sources_are_recorded(old_page):
    assert old_page.sources["title"] == "old2012"
    assert old_page.sources["publish_time"] == "enp"
    assert old_page.sources["editor"] == "old2012"


@pytest.fixture(scope="module")
def pages_2019():
    html = (REAL / PAGES_2019).read_bytes()
    bodies = html.split(b'</div><div class="u-mainText">')
    assert len(bodies) == 5
    pages = []
    for n, body in enumerate(bodies, start=1):
        if n > 1:
            body = b'<div class="u-mainText">' + body
        if n < 5:
            body += b"</div>"
        page = f"_{n}" if n > 1 else ""
        url = f"https://politics.gmw.cn/2019-04/18/content_32754452{page}.htm"
        pages.append(extract_article_page(response(PAGES_2019, url, b"<html><body>" + body + b"</body></html>")))
    return pages


def test_2019_each_page(pages_2019):
    for n, page in enumerate(pages_2019, start=1):
        assert page.page == n
        assert page.page_count == 5
        assert page.article_id == "32754452"
        assert page.title == "福建武夷山：谷雨将至采茶忙"
        assert page.publish_time == "2019-04-18T11:18:16+08:00"
        assert page.editor == "张佳兴"
        assert page.keywords == ["福建武夷山", "茶场", "采茶", "芳华", "谷雨"]
        assert page.channel == ["综合新闻"]
        assert page.paragraphs[-1].startswith("新华社发（陈颖 摄）")
        assert len(page.images) == 1


def test_2019_pages_merge_into_one_article(pages_2019):
    article = merge_pages(list(reversed(pages_2019)))
    assert article["url"] == "https://politics.gmw.cn/2019-04/18/content_32754452.htm"
    assert article["page_count"] == 5
    assert [im["url"].rsplit("/", 1)[1] for im in article["images"]] == [
        "94c69122e4b71e2231e11c.jpg", "94c69122e4b71e2231e11d.jpg", "94c69122e4b71e2231e11e.jpg",
        "94c69122e4b71e2231e11f.jpg", "94c69122e4b71e2231e120.jpg",
    ]
    assert article["images"][0]["caption"] == "4月17日，在福建省武夷山佛国岩芳华茶场，茶农在采摘岩茶青叶。"
    lines = article["content"].split("\n")
    assert lines[0] == "谷雨临近，茶乡福建武夷山进入一年中繁忙的制茶季。今年，福建武夷山气候温和，茶园里茶芽长势喜人。"
    assert lines.count("新华社发（陈颖 摄）") == 5
    assert "4月17日，在福建省武夷山佛国岩芳华茶场，制茶师潘行彪（中）在处理刚采摘下来的岩茶青叶。" in lines
    assert "\u3000" not in article["content"]
    for furniture in ("下一页", "上一页", "content_logo", "责编", "mpagecount"):
        assert furniture not in article["content_html"]


# -- related reading, as the real pages show it (issue #11) -----------------------------------------
PAGE_2024 = "2024-05-13_politics_content_37319243_browser_saved.html"
URL_2024 = "https://politics.gmw.cn/2024-05/13/content_37319243.htm"


def test_2024_related_reading_is_script_filled_placeholders_only():
    """div.m-relRead > h2 相关阅读 + ul#relReadUl: six `javascript:;` slots (2 pictures, 4 articles),
    counted, none followed (the page as saved by a browser: its script had not filled them)."""
    page = extract_article_page(response(PAGE_2024, URL_2024))
    assert page.related == []
    assert page.related_placeholders == 6


@pytest.mark.parametrize("container", ['<div class="m-relRead">', '<div class="anything-else">', "<section>"])
def test_related_block_is_found_by_its_heading_whatever_its_class(container):
    """The real 2024 block with static links in its slots, under the real class or any other: found
    by the 相关阅读 heading; the 您此时的心情 block after it (its own heading) is not related reading."""
    body = (REAL / PAGE_2024).read_bytes()
    real_block = body[body.index(b'<div class="m-relRead">'):body.index(b"<!--\xe7\x9b\xb8\xe5\x85\xb3\xe9\x98\x85\xe8\xaf\xbb \xe7\xbb\x93\xe6\x9d\x9f-->")]
    block = real_block.replace(b'<div class="m-relRead">', container.encode(), 1).replace(b'id="relReadUl"', b"", 1)
    if container == "<section>":
        block = block[: block.rindex(b"</div>")] + b"</section>"
    block = block.replace(b'<a href="javascript:;" target="_blank">\n            <div class="u-titleload3"></div>',
                          b'<a href="../../2024-05/12/content_37317001.htm">\xe4\xb8\x80\xe7\xaf\x87', 1)
    page = extract_article_page(response(PAGE_2024, URL_2024, body.replace(real_block, block, 1)))
    assert page.related == [{"url": "https://politics.gmw.cn/2024-05/12/content_37317001.htm", "title": "一篇"}]
    assert page.related_placeholders == 5


# -- the real 2012 page whose body ends with an editor's link-and-thumbnail grid (issue #11) ------
GRID_2012 = "2012-10-21_e_content_5439435_old_template_link_grid.html"


@pytest.fixture(scope="module")
def grid_page():
    return extract_article_page(response(GRID_2012, "https://e.gmw.cn/2012-10/21/content_5439435.htm"))


# read off the page by a person: #articleTitle, #pubTime, #source 来源：电影网, #contentLiability
# [责任编辑:辛忠], the breadcrumb 光明网 > 娱乐频道 > 影视电影动态, the enpproperty <keyword>, the body's
# poster (影片海报) and four paragraphs, #contentRelated 相关报道 with one link
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("article_id", "5439435"),
        ("title", "《双面君王》突破千万人票房 居韩国影史第七位"),
        ("publish_time", "2012-10-21T17:13:59+08:00"),
        ("source", "电影网"),
        ("editor", "辛忠"),
        ("channel", ["娱乐频道", "影视电影动态"]),
        ("keywords", ["观众", "票房榜", "CJ", "韩国古装", "双面君王"]),
        ("page", 1),
        ("page_count", 1),
        ("images", [{"url": "http://imge.gmw.cn/attachement/jpg/site2/20121021/b8ac6f402e5b11ee050923.jpg",
                     "caption": "影片海报"}]),
        ("related", [{"url": "https://e.gmw.cn/2012-08/22/content_4866891.htm",
                      "title": "李秉宪恋情曝光 《 双面君王》角色海报身份成谜"}]),
    ],
)
def test_2012_link_grid_page(grid_page, field, expected):
    assert getattr(grid_page, field) == expected


def test_2012_link_grid_is_not_content(grid_page):
    assert len(grid_page.paragraphs) == 4
    assert grid_page.paragraphs[0].startswith("电影网讯（编译/Rita）秋昌民导演执导的韩国古装电影《双面君王》")
    assert grid_page.paragraphs[-1].endswith("而《双面君王》现在位居历届韩国电影票房的第7位。")
    for grid_text in ("明星八卦", "老照片", "娱乐圈明星的神秘", "b8ac6f402e5b11ee051026", "node_8758", "<table"):
        assert grid_text not in grid_page.content_html


def test_a_table_of_data_in_the_body_stays():
    """Only a grid whose every word and picture is a link is furniture; a table with its own text is content."""
    body = (REAL / GRID_2012).read_bytes().replace(
        "第7位。</p>".encode(), "第7位。</p><table><tr><td>排名</td><td><a href='x.htm'>盗贼同盟</a></td></tr></table>".encode(), 1)
    page = extract_article_page(response(GRID_2012, "https://e.gmw.cn/2012-10/21/content_5439435.htm", body))
    assert "<table" in page.content_html and "排名" in page.content_html
