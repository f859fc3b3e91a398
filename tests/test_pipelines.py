"""Validate and clean pipelines, and what they do with bad input (issue #3)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.utils.test import get_crawler

from gmwcrawler.items import ArticleItem
from gmwcrawler.pipelines.clean import CleanPipeline, clean_fields, reporters
from gmwcrawler.pipelines.drops import ItemDropped
from gmwcrawler.pipelines.validate import ValidatePipeline

SEED_CONTENT = "中国中亚经贸合作逆势前行,贸易额突破千亿。\n(总台央视记者 黄惠馨 李峻 张誉耀 胡凡 王侃)"


def crawler(**settings):
    return get_crawler(settings_dict={"GMW_SEEN_STORE": "memory", **settings})


def item(**fields) -> ArticleItem:
    base = dict(url="https://politics.gmw.cn/2026-01/20/content_38547123.htm", article_id="38547123",  # noqa: C408
                title="视频丨货物贸易额首破千亿美元", publish_time="2026-01-20T16:07:00+08:00", source="央视新闻客户端",
                editor="邢彬", channel=["时政频道", "国内"], keywords=["中国"], content=SEED_CONTENT,
                content_html="<p>x</p>", images=[], videos=[], related=[], page_count=1,
                crawled_at="2026-11-23T00:00:00+00:00")
    base.update(fields)
    return ArticleItem(**base)


# -- validate -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"url": None}, "missing_url"),
        ({"url": "javascript:void(0)"}, "missing_url"),
        ({"title": "  "}, "missing_title"),
        ({"content": ""}, "missing_content"),
        ({"content": None}, "missing_content"),
        ({"publish_time": "昨天"}, "bad_publish_time"),
        ({"publish_time": None}, "bad_publish_time"),
        ({"publish_time": "1900-01-01T00:00:00+08:00"}, "publish_time_out_of_range"),
        ({"publish_time": "2999-01-01T00:00:00+08:00"}, "publish_time_out_of_range"),
        ({"content": "很长" * 5_000_000}, "content_too_long"),  # a 10 MB body
    ],
)
def test_validate_drops_with_a_reason_naming_the_field(fields, reason, caplog):
    c = crawler()
    pipeline = ValidatePipeline.from_crawler(c)
    with caplog.at_level(logging.DEBUG), pytest.raises(ItemDropped) as dropped:
        pipeline.process_item(item(**fields))
    assert dropped.value.reason == reason
    assert c.stats.get_value(f"gmw/dropped/{reason}") == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and reason in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_validate_logs_each_reason_once(caplog):
    c = crawler()
    pipeline = ValidatePipeline.from_crawler(c)
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            with pytest.raises(ItemDropped):
                pipeline.process_item(item(title=""))
    assert c.stats.get_value("gmw/dropped/missing_title") == 5
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_validate_passes_a_good_item():
    c = crawler()
    good = item()
    assert ValidatePipeline.from_crawler(c).process_item(good) is good
    assert c.stats.get_value("gmw/pipeline/validated") == 1


# -- clean ----------------------------------------------------------------------------------------
def test_clean_removes_furniture_and_labels():
    dirty = item(
        title=" 视频丨货物贸易额首破千亿美元&nbsp;",
        source="来源：央视新闻客户端",
        editor="[ 责编：邢彬 ]",
        publish_time="2026-01-20 16:07",
        content="\n".join([  # noqa: FLY002 - one line per paragraph, as on the page
            "点击右上角微信好友", "朋友圈", "请使用浏览器分享功能进行分享",
            "　　中国中亚经贸合作逆势前行,贸易额突破千亿。", "", "阅读剩余全文(",
            "[ 责编:邢彬 ]", "转载请注明来源：光明网", "上一篇：某某新闻", "下一篇：另一条",
            "　　(总台央视记者 黄惠馨 李峻)",
        ]),
        keywords=["中国", " 中国 ", ""],
    )
    out = clean_fields(dict(dirty))
    assert out["title"] == "视频丨货物贸易额首破千亿美元"
    assert out["source"] == "央视新闻客户端"
    assert out["editor"] == "邢彬"
    assert out["publish_time"] == "2026-01-20T16:07:00+08:00"
    assert out["content"] == "中国中亚经贸合作逆势前行,贸易额突破千亿。\n(总台央视记者 黄惠馨 李峻)"
    assert out["reporters"] == ["黄惠馨", "李峻"]
    assert out["keywords"] == ["中国"]


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (SEED_CONTENT, ["黄惠馨", "李峻", "张誉耀", "胡凡", "王侃"]),
        ("光明日报北京1月20日电（记者 王五、赵六）今天……", ["王五", "赵六"]),
        ("（新华社记者 陈颖 摄）", ["陈颖"]),
        ("没有署名的稿件。", []),
    ],
)
def test_reporters(content, names):
    assert reporters(content) == names


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("正文\x00里有\x07控制字符\x1b", "正文里有控制字符"),
        ("é€šè¿‡", "通过"),  # UTF-8 read as cp1252: mojibake
        ("&amp;lt;b&amp;gt;加粗&amp;lt;/b&amp;gt;", "加粗"),
        ("中文“引号”与全角：标点", "中文“引号”与全角：标点"),  # left alone
    ],
)
def test_clean_bad_text(raw, clean):
    assert clean_fields({"content": raw})["content"] == clean


def test_clean_pipeline_drops_an_item_that_was_only_furniture():
    c = crawler()
    with pytest.raises(ItemDropped) as dropped:
        CleanPipeline.from_crawler(c).process_item(item(content="阅读剩余全文\n朋友圈"))
    assert dropped.value.reason == "empty_after_cleaning"


FURNITURE = st.sampled_from(["点击右上角微信好友", "阅读剩余全文(", "[ 责编：邢彬 ]", "上一篇：x", "　　", "", "&amp;nbsp;"])
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    title=TEXT, source=TEXT, editor=TEXT,
    lines=st.lists(st.one_of(TEXT, FURNITURE, st.just("（记者 张三 李四）")), max_size=8),
    keywords=st.lists(TEXT, max_size=4),
)
def test_cleaning_is_idempotent(title, source, editor, lines, keywords):
    once = clean_fields({"title": title, "source": source, "editor": editor, "content": "\n".join(lines),
                         "keywords": keywords, "channel": keywords, "publish_time": "2026-01-20 16:07",
                         "images": [{"url": "https://img.gmw.cn/a.jpg", "caption": title}],
                         "related": [{"url": "https://politics.gmw.cn/a/content_1.htm", "title": source}]})
    assert clean_fields(once) == once


# -- the order of the pipelines: clean, then validate (issue #16) ---------------------------------------
def through_the_project_pipelines(article: ArticleItem) -> ArticleItem:
    """The item through ITEM_PIPELINES in the project's order, up to the seen-store."""
    from scrapy.utils.conf import build_component_list
    from scrapy.utils.misc import load_object

    from gmwcrawler import settings as project

    c = crawler()
    for path in build_component_list(project.ITEM_PIPELINES):
        cls = load_object(path)
        if cls in (CleanPipeline, ValidatePipeline):
            article = cls.from_crawler(c).process_item(article)
    return article


@pytest.mark.parametrize("title", ["&nbsp;", " \u3000 ", "&amp;nbsp;", "\u00a0\n\t"])
def test_a_title_of_entities_or_whitespace_is_dropped_not_stored_empty(title):
    with pytest.raises(ItemDropped) as dropped:
        through_the_project_pipelines(item(title=title))
    assert dropped.value.reason == "missing_title"


def test_validation_sees_the_cleaned_values():
    out = through_the_project_pipelines(item(title="&nbsp;视频丨货物贸易额首破千亿美元&nbsp;", source="&nbsp;"))
    assert out["title"] == "视频丨货物贸易额首破千亿美元"
    assert out["source"] == ""
