"""Offline extraction on real saved pages (tests/fixtures/real/; docs/evidence.md says what each is and where it came from).

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


def test_old_2012_templates_are_recorded(old_page):
    assert old_page.templates["title"] == "old2012"
    assert old_page.templates["publish_time"] == "old2012+enp"  # #pubTime and the comment agree
    assert old_page.templates["editor"] == "old2012"


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


# -- the two other real 2012 pages, first pages of 4 and of 5 (issue #11: every real page a test) ----
# read off each page by a person: #articleTitle, #pubTime, #source (a link to 7706娱乐网 inside 来源：),
# #contentLiability, the breadcrumb, the enpproperty <keyword>, the body's picture (a link to page 2)
# and paragraphs, #mpagecount / #mcurrentpage, #contentRelated 相关报道
PAGES_2012 = {
    "2012-08-10_e_content_4763470_p1of4_old_template.html": ("https://e.gmw.cn/2012-08/10/content_4763470.htm", {
        "article_id": "4763470",
        "title": "杨若兮旧爱刘威儿子刘俊麟曝光 为儿子树榜样",
        "publish_time": "2012-08-10T10:32:32+08:00",
        "source": "7706娱乐网",
        "editor": "辛忠",
        "channel": ["娱乐频道", "明星八卦"],
        "keywords": ["刘威", "杨若兮", "刘俊麟", "娱乐网", "旧爱"],
        "page": 1,
        "page_count": 4,
        "images": [{"url": "http://imge.gmw.cn/attachement/jpg/site2/20120810/b8ac6f402e5b118eba591c.jpg", "caption": ""}],
        "paragraphs": [("曾经在《老白有喜》，《人活一张脸》，《孟来财传奇》等影视剧中有过出色表现的刘威，早年与知名女星杨若兮曾谈过三四年的"
                       "恋爱。两人分手后，刘威迅速与电影制片厂的化妆师王晓宇结婚，并生下一个儿子取名为刘俊麟。近日，网络知名爆料人长春国贸，"
                       "在博客曝光了刘威四岁儿子的可爱照片，引来众多网友关注。")],
        "related": [
            {"url": "https://e.gmw.cn/2012-08/05/content_4715505.htm", "title": "揭秘刘威杨若兮当年遗憾分手内幕(图)"},
            {"url": "https://e.gmw.cn/2012-07/17/content_4574537.htm", "title": "《非常闺密》首播-刘威葳张国强和王宝强/图"},
            {"url": "https://e.gmw.cn/2012-04/16/content_3976572.htm", "title": "张丰毅携手刘威等主演《雾都》今晚登陆江苏卫视"},
            {"url": "http://www.gmw.cn/01wzb/2012-04/03/content_4000384.htm", "title": "刘威葳：我没有荧屏上那么坚强"},
            {"url": "https://e.gmw.cn/2012-03/28/content_3853848.htm", "title": "《向东是大海》收官 刘威葳:我没荧屏上那么坚强"},
        ],
    }),
    "2012-11-26_e_content_5804759_p1of5_old_template.html": ("https://e.gmw.cn/2012-11/26/content_5804759.htm", {
        "article_id": "5804759",
        "title": "谢娜成微博女王 姚晨沉不住气狂刷微博攒人气",
        "publish_time": "2012-11-26T15:39:39+08:00",
        "source": "7706娱乐网",
        "editor": "孙鹏宇",
        "channel": ["娱乐频道", "明星八卦"],
        "keywords": ["谢娜", "娱乐网", "人气", "授权许可", "百变大咖秀"],
        "page": 1,
        "page_count": 5,
        "images": [{"url": "http://imge.gmw.cn/attachement/png/site2/20121126/bc305bae3400121d62395a.png", "caption": ""}],
        "paragraphs": [
            ("自微博开始流行后，姚晨以众多粉丝数被封为“微博女王”。谢娜因主持《快乐大本营》、《百变大咖秀》而人气高涨，谢娜的粉丝在微博"
            "上突破2600万，击败姚晨成为新一代的微博女王。"),
            ("截至昨日18：00，谢娜的粉丝数为26431791人，超过姚晨的粉丝26417858人。姚晨似乎并没有受这条新闻的影响，反而发了十多条在新西兰"
            "的美景图，有网友说“姚晨如此刷屏是没了微博女王的称号，沉不住气了么”。谢娜在自己微博上写道“听说我当微博女王了，我不相信，"
            "绝对不相信”，并附了一张她扮展昭、包公的图片。"),
        ],
        "related": [
            {"url": "https://e.gmw.cn/2012-11/26/content_5804368.htm", "title": "谢娜成微博女王得瑟 仅一天之隔姚晨重登榜首"},
            {"url": "https://e.gmw.cn/2012-11/26/content_5804048.htm", "title": "谢娜得瑟成微博女王 仅一天之隔姚晨重登榜首/图"},
            {"url": "https://e.gmw.cn/2012-11/26/content_5804288.htm", "title": "谢娜击败姚晨成微博女王 姚晨狂刷微博攒人气"},
            {"url": "https://e.gmw.cn/2012-11/26/content_5803988.htm", "title": "“坡姐”谢娜上位 晋升微博女王超得瑟/图"},
            {"url": "https://e.gmw.cn/2012-11/26/content_5803465.htm", "title": "女星扮男装 销魂大PK 谢娜男装穿越古今中外/图"},
        ],
    }),
}


@pytest.fixture(scope="module")
def pages_2012() -> dict:
    return {name: extract_article_page(response(name, url)) for name, (url, _) in PAGES_2012.items()}


@pytest.mark.parametrize(("name", "field"), [(n, f) for n, (_, fields) in PAGES_2012.items() for f in fields])
def test_real_2012_first_pages(pages_2012, name, field):
    assert getattr(pages_2012[name], field) == PAGES_2012[name][1][field]


# the real 2024 时政 page, read off by a person: h1.u-title, span.m-con-source 来源：人民日报 (a link),
# span.m-con-time 2024-05-13 08:49 with the seconds in the enpproperty <date> 08:49:21, span.liability
# 责编：杨煜, div.g-crumbs 首页 > 时政频道 > 要闻, the enpproperty <keyword>; six paragraphs, no picture
REAL_2024 = {
    "article_id": "37319243",
    "title": "维护全人类共同利益需联手抵制保护主义",
    "publish_time": "2024-05-13T08:49:21+08:00",
    "source": "人民日报",
    "editor": "杨煜",
    "channel": ["时政频道", "要闻"],
    "keywords": ["保护主义", "产能", "美国", "全球", "过剩"],
    "page": 1,
    "page_count": 1,
    "images": [],
    "videos": [],
    "related": [],
}


@pytest.fixture(scope="module")
def page_2024():
    return extract_article_page(response(PAGE_2024, URL_2024))


@pytest.mark.parametrize("field", sorted(REAL_2024))
def test_real_2024_page(page_2024, field):
    assert getattr(page_2024, field) == REAL_2024[field]


def test_real_2024_body(page_2024):
    assert len(page_2024.paragraphs) == 6
    assert page_2024.paragraphs[0].startswith("近期一些美国政客不断渲染所谓的中国新能源“产能过剩”论调")
    assert page_2024.paragraphs[-1].startswith("各国要联手抵制保护主义。")
    assert page_2024.paragraphs[-1].endswith("实现“多赢”“共赢”。（钟才文）")
    for furniture in ("阅读剩余全文", "责编", "canvas", "javascript:"):
        assert furniture not in page_2024.content_html


# -- body furniture from the real pages and public crawlers (issue #11, part 3) -------------------
FURNITURE = [
    '<div class="u-moreText">阅读剩余全文（<span class="u-percent"></span>）</div>',  # the real 2024 page
    '<div class="u-QRcode"><img src="//img.gmw.cn/qr.png">扫一扫</div>',  # RSSHub's gmw route: removed
    '<p class="text-right">（本文来源：人民日报）</p>',
    '<div class="m-zbTool">工具栏</div>',
    '<div id="articleLiability">[责编：某某]</div>',
    '<p id="voteiFrameP">小调查</p><div class="m-vote-wrap"><form><input type="radio">赞成</form></div>',  # 光明日报 page
    "<p>【上一篇】另一篇文章的标题</p>",
    "<p>【下一篇】又一篇文章的标题</p>",
    "<p>（转载请注明来源：光明网）</p>",
    "<p>责任编辑：某某</p>",
    '<p><a href="https://www.gmw.cn/node_4108.htm"><img src="//img.gmw.cn/logo.png"></a></p>',
]


@pytest.mark.parametrize("furniture", FURNITURE)
def test_body_furniture_never_reaches_content(page_2024, furniture):
    body = (REAL / PAGE_2024).read_bytes()
    marker = b"<!--enpcontent--><!--enpcontent-->"
    with_furniture = body.replace(marker, marker + furniture.encode(), 1)
    page = extract_article_page(response(PAGE_2024, URL_2024, with_furniture))
    assert page.paragraphs == page_2024.paragraphs
    assert page.images == page_2024.images == []
    assert page.content_html == page_2024.content_html


def test_guangming_daily_print_credit_line_is_kept(page_2024):
    """The 光明日报 template ends the body with the print credit, e.g. 《光明日报》（2024年05月20日 03版）
    (docs/evidence.md). Kept as the last paragraph, by choice (docs/reference.md, `content`): it is what
    the page publishes, and the only place that says which edition and page the article ran on."""
    body = (REAL / PAGE_2024).read_bytes()
    credit = "《光明日报》（2024年05月20日 03版）"
    with_credit = body.replace(b"<!--/enpcontent-->", f"<p>{credit}</p>".encode() + b"<!--/enpcontent-->", 1)
    page = extract_article_page(response(PAGE_2024, URL_2024, with_credit))
    assert page.paragraphs == [*page_2024.paragraphs, credit]


# -- fallbacks the real pages offer (issue #11, part 4) ------------------------------------------
def test_article_id_from_the_head_meta_where_url_and_comment_have_none():
    """<meta name="contentid" content="37319243"> of the real 2024 page, for a URL without the id
    (a share mirror, a redirect) and a page whose enpproperty comment was cut."""
    body = (REAL / PAGE_2024).read_bytes().replace(b"<articleid>37319243</articleid>", b"", 1)
    page = extract_article_page(response(PAGE_2024, "https://share.gmw.cn/politics/article.htm", body))
    assert (page.article_id, page.templates["article_id"]) == ("37319243", "meta")


def test_body_from_bd_where_no_variant_container_is_there():
    body = (REAL / PAGE_2024).read_bytes().replace(b'class="u-mainText"', b'class="bd"', 1)
    page = extract_article_page(response(PAGE_2024, URL_2024, body))
    assert page.templates["content"] == "bd"
    assert len(page.paragraphs) == 6 and page.paragraphs[0].startswith("近期一些美国政客")


# -- the writer's credit (issue #11, part 5) --------------------------------------------------------
def test_author_is_empty_on_the_real_pages_and_never_the_editor(page_2024, pages_2012, grid_page, old_page):
    """Every real page has an empty enpproperty <author>; the 2024 head meta author is the editor 杨煜."""
    assert page_2024.editor == "杨煜" and page_2024.author == ""
    assert [p.author for p in (*pages_2012.values(), grid_page, old_page)] == ["", "", "", ""]


def _with_first_paragraph(html: str) -> HtmlResponse:
    marker = b"<!--enpcontent--><!--enpcontent-->"
    return response(PAGE_2024, URL_2024, (REAL / PAGE_2024).read_bytes().replace(marker, marker + html.encode(), 1))


@pytest.mark.parametrize(("line", "author", "kept"), [
    ("光明网评论员：近期一些议论值得一评。", "光明网评论员", True),  # the commentary's text: it stays
    ("记者 张三 李四", "张三 李四", False),  # a byline: out of the text
    ("光明日报记者：王五", "王五", False),
    ("本报记者 赵六", "赵六", False),
    ("作者：钱七（某大学教授）", "钱七（某大学教授）", False),
    ("记者 从国家统计局获悉，今年前十个月全国规模以上工业增加值同比增长百分之五点八，其中制造业增长较快。", "", True),
])
def test_author_from_a_credit_line(page_2024, line, author, kept):
    page = extract_article_page(_with_first_paragraph(f"<p>　　{line}</p>"))
    assert page.author == author
    assert page.paragraphs == ([line] if kept else []) + page_2024.paragraphs


def test_author_from_the_enpproperty_comment():
    body = (REAL / PAGE_2024).read_bytes().replace(b"<author></author>", "<author>孙八</author>".encode(), 1)
    page = extract_article_page(response(PAGE_2024, URL_2024, body))
    assert (page.author, page.templates["author"]) == ("孙八", "enp")
