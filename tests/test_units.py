"""Small pieces: spider arguments, URL shapes, time parsing."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy.settings import Settings

from gmwcrawler import settings as project_settings
from gmwcrawler.distributed.fingerprints import BloomParams
from gmwcrawler.extract.text import clean_text, iso8601, parse_beijing_time
from gmwcrawler.extract.urls import article_id_from_url, first_page_url, is_article_url, page_number_from_url
from gmwcrawler.spiders.arguments import ArgumentError, CrawlOptions

SETTINGS = Settings()
SETTINGS.setmodule(project_settings)


def test_defaults_are_the_channel_nodes():
    options = CrawlOptions.from_arguments({}, SETTINGS)
    assert options.start_urls[0] == "https://politics.gmw.cn/node_9840.htm"
    assert len(options.start_urls) == 6
    assert options.allowed_domains == ("gmw.cn",)
    assert (options.max_list_pages, options.since, options.follow_related, options.related_depth) == (10, None, True, 1)


def test_arguments_are_parsed():
    options = CrawlOptions.from_arguments(
        {"start_urls": "https://politics.gmw.cn/node_9844.htm, https://politics.gmw.cn/node_9826.htm",
         "allowed_domains": "gmw.cn,example.org", "max_list_pages": "0", "since": "2026-01-20",
         "follow_related": "0", "related_depth": "3", "_job": "ignored-scrapyd-id"},
        SETTINGS,
    )
    assert options.start_urls == ("https://politics.gmw.cn/node_9844.htm", "https://politics.gmw.cn/node_9826.htm")
    assert options.allowed_domains == ("gmw.cn", "example.org")
    assert (options.max_list_pages, options.since, options.follow_related, options.related_depth) == (
        0, date(2026, 1, 20), False, 3)


@pytest.mark.parametrize("args", [{"start_urls": ""}, {"related_depth": "-2"}, {"since": "20260120"}])
def test_bad_arguments_name_themselves(args):
    with pytest.raises(ArgumentError) as caught:
        CrawlOptions.from_arguments(args, SETTINGS)
    assert caught.value.name == next(iter(args))


@pytest.mark.parametrize(
    ("url", "article_id", "page", "first"),
    [
        ("https://politics.gmw.cn/2026-01/20/content_38547123.htm", "38547123", 1,
         "https://politics.gmw.cn/2026-01/20/content_38547123.htm"),
        ("https://politics.gmw.cn/2019-04/18/content_32754452_5.htm?from=x#top", "32754452", 5,
         "https://politics.gmw.cn/2019-04/18/content_32754452.htm"),
    ],
)
def test_article_urls(url, article_id, page, first):
    assert is_article_url(url)
    assert article_id_from_url(url) == article_id
    assert page_number_from_url(url) == page
    assert first_page_url(url) == first


@pytest.mark.parametrize("url", ["https://politics.gmw.cn/node_9840.htm", "https://topics.gmw.cn/node_125419.htm",
                                 "javascript:void(0)", "ftp://politics.gmw.cn/content_1.htm"])
def test_not_article_urls(url):
    assert not is_article_url(url)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2026-01-20 16:07", "2026-01-20T16:07:00+08:00"),
        ("2012-09-24 15:15:45", "2012-09-24T15:15:45+08:00"),
        ("2019-04-18 11:18:16.0", "2019-04-18T11:18:16+08:00"),
        ("来源：光明网 2026年1月20日 16:07", "2026-01-20T16:07:00+08:00"),
    ],
)
def test_beijing_time(text, iso):
    assert iso8601(parse_beijing_time(text)) == iso


@pytest.mark.parametrize("text", ["", "昨天", "2026-13-40 25:61"])
def test_unparseable_time_is_none(text):
    assert parse_beijing_time(text) is None


@given(st.text())
def test_clean_text_is_idempotent_and_trimmed(text):
    once = clean_text(text)
    assert clean_text(once) == once
    assert once == once.strip() and "\u3000" not in once


# -- the Redis queue's request serializer (issue #4; fast path: issue #6) ------------------------
def test_serializer_writes_what_scrapy_to_dict_writes_and_reads_it_back():
    from scrapy import FormRequest, Request
    from scrapy.utils.test import get_crawler

    from gmwcrawler.distributed.serializer import RequestSerializer
    from gmwcrawler.spiders.politics import PoliticsSpider

    spider = PoliticsSpider.from_crawler(get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory"}),
                                         start_urls="https://politics.gmw.cn/node_9840.htm")
    serializer = RequestSerializer(spider, PoliticsSpider.allowed_callbacks)
    requests = [
        Request("https://politics.gmw.cn/2026-11/20/content_1_2.htm", callback=spider.parse_article,
                errback=spider.article_failed,
                cb_kwargs={"depth": 1, "pages": [{"url": "https://politics.gmw.cn/2026-11/20/content_1.htm", "page": 1,
                                                  "page_count": 2, "related": [{"url": "r", "title": "t"}]}]},
                meta={"gmw_article": True}, priority=-1, dont_filter=True),
        Request("https://politics.gmw.cn/b.htm"),
        FormRequest("https://politics.gmw.cn/c.htm", formdata={"a": "b"}, callback=spider.parse_listing),
    ]
    for request in requests:
        assert serializer._to_dict(request) == request.to_dict(spider=spider)
    back = serializer.loads(serializer.dumps(requests[0]))
    assert (back.url, back.callback, back.errback, back.cb_kwargs, back.meta, back.priority, back.dont_filter) == (
        requests[0].url, spider.parse_article, spider.article_failed, requests[0].cb_kwargs, requests[0].meta, -1, True)
    with pytest.raises(TypeError, match="not in the allowed callbacks"):
        serializer.dumps(Request("https://politics.gmw.cn/d.htm", callback=spider.parse))


# -- control characters out before parsing (issue #17) ------------------------------------------
@pytest.mark.parametrize(("body", "encoding", "text"), [
    ("<p>a\x01b\x7fc</p>", "utf-8", "<p>abc</p>"),
    ("<p>a\x85b\x9fc\ufffed</p>", "utf-8", "<p>abcd</p>"),  # C1 and a non-character, two and three bytes in UTF-8
    ("<p>光\x01明&#x1;&#0;&#65;&#1114112;</p>", "gb18030", "<p>光明&#65;</p>"),  # the text searched for another charset
    ("<p>a\tb\nc\r&#10;&#x4e2d;</p>", "utf-8", None),  # nothing to remove: the response itself
])
def test_readable_removes_control_characters(body, encoding, text):
    from scrapy.http import HtmlResponse

    from gmwcrawler.extract.text import readable

    response = HtmlResponse("https://politics.gmw.cn/a.htm", body=body.encode(encoding), encoding=encoding)
    out = readable(response)
    if text is None:
        assert out is response
    else:
        assert out.text == text


def test_continuation_pages_from_a_newer_worker_are_read():
    """A page dict queued in Redis by a newer version may carry fields this one does not know."""
    from gmwcrawler.spiders.politics import _pages

    (page,) = _pages([{"url": "https://politics.gmw.cn/a.htm", "page": 1, "page_count": 2, "a_future_field": 1}])
    assert (page.url, page.page_count) == ("https://politics.gmw.cn/a.htm", 2)


def test_bloom_filter_is_sized_for_its_capacity_and_error_rate():
    """The textbook sizing: m = -n ln p / (ln 2)^2 bits, k = m/n ln 2 hashes; 10 M URLs at 1e-4 is 23 MB."""
    params = BloomParams.for_capacity(10_000_000, 0.0001)
    assert (params.bits, params.hashes) == (191_701_168, 13)
    assert params.bytes == 23_962_646
    offsets = params.offsets("0" * 40)
    assert len(offsets) == 13 and all(0 <= o < params.bits for o in offsets)
    with pytest.raises(ValueError, match="exceeds a Redis string"):
        BloomParams.for_capacity(1_000_000_000, 0.0001)


# -- a queue entry cannot steer the crawler ------------------------------------------------------
@pytest.fixture(scope="module")
def queue_serializer():
    from scrapy.utils.test import get_crawler

    from gmwcrawler.distributed.serializer import RequestSerializer
    from gmwcrawler.spiders.politics import PoliticsSpider

    spider = PoliticsSpider.from_crawler(get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory"}),
                                         start_urls="https://politics.gmw.cn/node_9840.htm")
    return RequestSerializer(spider, PoliticsSpider.allowed_callbacks)


ARTICLE_ENTRY = {"url": "https://politics.gmw.cn/2026-11/20/content_1.htm", "callback": "parse_article",
                 "errback": "article_failed", "cb_kwargs": {"depth": 0, "listed_at": None},
                 "meta": {"gmw_article": True, "gmw_hops": 0, "gmw_backlog": "gmw:1", "depth": 1}}


@pytest.mark.parametrize(("change", "reason"), [
    ({"url": "http://169.254.169.254/latest/meta-data/", "dont_filter": True}, "outside allowed_domains"),
    ({"meta": {"dont_obey_robotstxt": True}}, "'dont_obey_robotstxt' is not one this crawler writes"),
    ({"meta": {"download_maxsize": 0}}, "'download_maxsize'"),
    ({"meta": {"handle_httpstatus_all": True}}, "'handle_httpstatus_all'"),
    ({"meta": {"allow_offsite": True}}, "'allow_offsite'"),
    ({"meta": {"bindaddress": ["10.0.0.1", 0]}}, "'bindaddress'"),
    ({"meta": {"gmw_hops": "many"}}, "meta 'gmw_hops' is a str"),
    ({"headers": {"Host": ["169.254.169.254"]}}, "headers ['Host']"),
    ({"headers": {"Authorization": ["Basic x"]}}, "headers ['Authorization']"),
    ({"cookies": {"session": "x"}}, "cookies are not queued"),
    ({"method": "POST"}, "only GET"),
    ({"cb_kwargs": {"depth": 0, "steer": 1}}, "cb_kwargs 'steer'"),
    ({"cb_kwargs": {"depth": "0"}}, "cb_kwargs 'depth' is a str"),
    ({"url": "https://politics.gmw.cn/2026-11/20/content_1_2.htm",
      "cb_kwargs": {"depth": 0, "pages": [{"url": "https://politics.gmw.cn/2026-11/20/content_9.htm", "page": 1,
                                           "page_count": 2, "paragraphs": ["别的文章"]}]}}, "another article"),
    ({"url": "https://politics.gmw.cn/2026-11/20/content_1_2.htm",
      "cb_kwargs": {"depth": 0, "pages": [{"url": "https://politics.gmw.cn/2026-11/20/content_1.htm", "evil": 1}]}},
     "no article page"),
])
def test_a_queue_entry_that_would_steer_the_crawler_is_refused(queue_serializer, change, reason):
    import json

    from gmwcrawler.distributed.serializer import RejectedEntry

    entry = {**ARTICLE_ENTRY, **change, "meta": {**ARTICLE_ENTRY["meta"], **change.get("meta", {})}}
    with pytest.raises(RejectedEntry) as refused:
        queue_serializer.loads(json.dumps(entry))
    assert reason in str(refused.value)


def test_what_a_download_wrote_on_a_retried_request_is_dropped_not_refused(queue_serializer):
    """A retried copy carries the download's own meta (slot, proxy from the environment, the 304 of a
    conditional request) into the queue: dropped, written again by the worker that downloads it."""
    import json

    entry = {**ARTICLE_ENTRY, "dont_filter": True, "headers": {"Referer": ["https://politics.gmw.cn/node_9840.htm"],
                                                              "If-None-Match": ['"abc"']},
             "meta": {**ARTICLE_ENTRY["meta"], "download_slot": "evil", "proxy": "http://10.0.0.1:3128",
                      "handle_httpstatus_list": [304], "download_timeout": 1, "retry_times": 1}}
    request = queue_serializer.loads(json.dumps(entry))
    assert request.dont_filter and request.meta == {**ARTICLE_ENTRY["meta"], "retry_times": 1}
    assert request.headers["Referer"] == b"https://politics.gmw.cn/node_9840.htm"
