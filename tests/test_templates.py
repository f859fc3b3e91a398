"""The article templates as page objects (gmwcrawler.extract.templates, issue #16), each on its real pages.

Expected texts are read off the saved pages by a person (tests/fixtures/real/, bytes as published or as
saved; docs/evidence.md says which). Variant B and the gallery have no saved real page: they are
tested on the replica's pages (tests/test_extract_replica_pages.py), which follow the table of docs/evidence.md.
"""

from __future__ import annotations

import pytest

from gmwcrawler.extract import article
from gmwcrawler.extract.templates import (
    TEMPLATES,
    Current,
    EnpComment,
    Gallery,
    HeadMeta,
    Landmarks,
    Old2012,
    RssBody,
    Template,
    VariantB,
)
from tests.test_extract_real_pages import response

FIELDS = ("title", "publish_time", "source", "editor", "crumbs", "body")
URL = "https://politics.gmw.cn/2024-05/13/content_37319243.htm"


def templates_of(name: str) -> dict[str, Template]:
    page = response(name, URL)
    marks = Landmarks(page.selector.root, article._LANDMARK_IDS, article._LANDMARK_TOKENS,
                      article._LANDMARK_SUBSTRINGS)
    return {t.name: t(marks) for t in TEMPLATES}


@pytest.mark.parametrize(("name", "template"), [
    ("2012-08-10_e_content_4763470_p1of4_old_template.html", "old2012"),
    ("2012-09-24_content_5189326_3_old_template.html", "old2012"),
    ("2012-10-21_e_content_5439435_old_template_link_grid.html", "old2012"),
    ("2012-11-26_e_content_5804759_p1of5_old_template.html", "old2012"),
    ("2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html", "a"),
    ("2024-05-13_politics_content_37319243_browser_saved.html", "a"),
])
def test_each_real_page_is_read_by_its_template(name, template):
    """The body (and so the page) comes from the first template whose container is there."""
    assert next(t.name for t in templates_of(name).values() if t.body()) == template


# read off the real 2024 page: h1.u-title, span.m-con-time, span.m-con-source, .liability, div.g-crumbs
CURRENT_2024 = {
    "title": "维护全人类共同利益需联手抵制保护主义",
    "publish_time": "2024-05-13 08:49",
    "source": "来源：人民日报",
    "editor": "[ 责编：杨煜 ] 责编：杨煜",  # div.m-zbTool.liability and the span.liability in it; the name is taken from it
    "crumbs": "首页> 时政频道> 要闻 > 正文",
    "body": "近期一些美国政客不断渲染所谓的中国新能源“产能过剩”论调",
}
# read off the real 2012 page: #articleTitle, #pubTime, #source, #contentLiability, #contentBreadcrumbs
OLD_2012 = {
    "title": "曝谢贤李小龙合影四哥帅过谢霆锋",
    "publish_time": "2012-09-24 15:15:45",
    "source": "来源：7706娱乐网",
    "editor": "[责任编辑:刘畅文化]",
    "crumbs": "光明网 > 娱乐频道> 明星八卦",
    "body": "早前曾有传闻称谢霆锋并非四哥谢贤的儿子",
}


@pytest.mark.parametrize(("name", "template", "field", "expected"), [
    *(("2024-05-13_politics_content_37319243_browser_saved.html", "a", f, v) for f, v in CURRENT_2024.items()),
    *(("2012-09-24_content_5189326_3_old_template.html", "old2012", f, v) for f, v in OLD_2012.items()),
])
def test_a_template_reads_each_field_of_its_real_page(name, template, field, expected):
    text = article._text(getattr(templates_of(name)[template], field)())
    assert text.startswith(expected) if field == "body" else text == expected


@pytest.mark.parametrize(("template", "fields"), [
    (Current, set(FIELDS)),
    (VariantB, {"title", "publish_time", "source", "editor", "body"}),  # no breadcrumb (docs/evidence.md)
    (Old2012, set(FIELDS)),
    (Gallery, {"title", "publish_time", "source", "body"}),  # what the public 2019 spider reads of it
    (RssBody, {"body"}),
])
def test_each_template_says_which_fields_it_holds(template, fields):
    assert {f for f in FIELDS if getattr(template, f) is not getattr(Template, f)} == fields


def test_one_pass_indexes_every_landmark_a_template_reads():
    for template in TEMPLATES:
        assert template.ids <= article._LANDMARK_IDS and template.tokens <= article._LANDMARK_TOKENS
        assert set(template.substrings) <= set(article._LANDMARK_SUBSTRINGS)


PAGE_2024 = "2024-05-13_politics_content_37319243_browser_saved.html"
PAGES_2019 = "2019-04-18_content_32754452_pages1-5_u-mainText_excerpt.html"


def fallbacks_of(name: str) -> tuple[EnpComment, HeadMeta]:
    page = response(name, URL)
    return EnpComment(page.text), HeadMeta(page.selector.root)


# the enpproperty comments of the real 2024 page and of the 2019 excerpt (its <title> is the page's
# "福建武夷山：谷雨将至采茶忙(1)_光明网": the page number and the site's name go)
@pytest.mark.parametrize(("name", "field", "expected"), [
    (PAGE_2024, "article_id", "37319243"),
    (PAGE_2024, "title", "维护全人类共同利益需联手抵制保护主义"),
    (PAGE_2024, "publish_time", "2024-05-13T08:49:21+08:00"),
    (PAGE_2024, "crumbs", ["要闻"]),
    (PAGE_2024, "keywords", ["保护主义", "产能", "美国", "全球", "过剩"]),
    (PAGE_2024, "author", ""),
    (PAGES_2019, "title", "福建武夷山：谷雨将至采茶忙"),
    (PAGES_2019, "publish_time", "2019-04-18T11:18:16+08:00"),
    (PAGES_2019, "crumbs", ["综合新闻"]),
])
def test_the_enpproperty_comment_as_a_fallback(name, field, expected):
    value = getattr(fallbacks_of(name)[0], field)()
    assert (value.isoformat() if field == "publish_time" else value) == expected


def test_the_head_meta_as_a_fallback():
    _, meta = fallbacks_of(PAGE_2024)
    assert (meta.article_id(), meta.keywords()) == ("37319243", ["保护主义", "产能", "美国", "全球", "过剩"])
    _, none = fallbacks_of(PAGES_2019)  # an excerpt of the body: no head
    assert (none.article_id(), none.keywords()) == (None, [])


def test_template_names_are_unique_and_only_the_generic_body_is_a_fallback():
    assert len({t.name for t in TEMPLATES}) == len(TEMPLATES)
    assert [t.name for t in TEMPLATES if t.fallback] == ["bd"]
