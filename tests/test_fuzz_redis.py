"""What arrives from Redis, fuzzed (issue #17, part 4): a queue entry is a Request or a
RejectedEntry (counted and set aside by the scheduler), never another exception that would
crash a worker. Entries are built from a real one with values of the wrong type, huge values
and broken JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.utils.test import get_crawler

from gmwcrawler.distributed.serializer import RejectedEntry, RequestSerializer
from gmwcrawler.spiders.politics import PoliticsSpider

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=12)


@pytest.fixture(scope="module")
def serializer_and_entry() -> tuple[RequestSerializer, dict]:
    spider = PoliticsSpider.from_crawler(get_crawler(PoliticsSpider, {"GMW_SEEN_STORE": "memory"}),
                                         start_urls="https://politics.gmw.cn/node_9840.htm")
    serializer = RequestSerializer(spider, PoliticsSpider.allowed_callbacks)
    request = Request("https://politics.gmw.cn/2026-01/20/content_38547123.htm", callback=spider.parse_article,
                      errback=spider.article_failed, cb_kwargs={"depth": 1, "pages": []}, meta={"gmw_article": True})
    return serializer, json.loads(serializer.dumps(request))


def read(serializer: RequestSerializer, payload: bytes | str) -> None:
    try:
        assert isinstance(serializer.loads(payload), Request)
    except RejectedEntry:
        pass


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["url", "callback", "errback", "cb_kwargs", "meta", "priority", "method", "headers",
                              "body", "cookies", "dont_filter", "flags", "encoding", "_class", "_encoding"]),
       value=JSON)
def test_queue_entry_with_a_field_of_any_json_value(serializer_and_entry, field, value):
    serializer, entry = serializer_and_entry
    read(serializer, json.dumps({**entry, field: value}))


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=300) | JSON.map(json.dumps))
def test_queue_entry_of_any_bytes_or_json(serializer_and_entry, payload):
    read(serializer_and_entry[0], payload)


@pytest.mark.parametrize("url", ["http://[2001:db8::1", "https://:99999/", "http://\x00/", "http://" + "a" * 1_000_000])
def test_queue_entry_with_a_url_that_does_not_parse(serializer_and_entry, url):
    serializer, entry = serializer_and_entry
    read(serializer, json.dumps({**entry, "url": url}))


def test_huge_queue_entry(serializer_and_entry):
    serializer, entry = serializer_and_entry
    read(serializer, json.dumps({**entry, "cb_kwargs": {"pages": [{"url": "x" * 1000}] * 10_000}}))
    read(serializer, "[" * 100_000 + "]" * 100_000)  # nesting past the JSON decoder's recursion limit


def test_status_and_failed_survive_malformed_entries(redis_server):
    """Heartbeats, reports and dead-letter entries of the wrong shape: skipped and counted; a
    malformed dead-letter entry is set aside on the rejected list, not queued."""
    import uuid

    import redis

    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.queue import requeue_failed
    from gmwcrawler.distributed.run import status

    client = redis.Redis.from_url(redis_server.url)
    keys = Keys(f"t{uuid.uuid4().hex[:8]}", "politics")
    client.hset(keys.workers, mapping={"a": b"\xff\xfe", "b": "[]", "c": json.dumps({"worker": "c", "state": 1})})
    client.rpush(keys.reports, "{", json.dumps({"verdict": None}))
    client.rpush(keys.failed, "not json", json.dumps({"request": ["x"]}), json.dumps({"url": "u"}))
    report = status(client, keys)
    assert report["workers"] == [] and report["last_reports"] == [] and report["malformed_entries"] == 5
    assert report["unreadable_pages"] == 3
    assert requeue_failed(client, keys) == 0
    assert client.llen(keys.rejected) == 3 and client.zcard(keys.queue) == 0
    client.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=40) | JSON.map(lambda v: json.dumps(v).encode()),
       field=st.sampled_from(["failed", "validators", "stored"]))
def test_seen_store_records_of_any_shape_read_as_absent_or_a_record(redis_server, raw, field):
    """What a worker reads of the seen-store in Redis before every request (the failed list, validators,
    the stored record): damaged, it is absent — never a TypeError or JSONDecodeError in every request."""
    import redis

    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.store import RedisSeenStore
    from gmwcrawler.incremental.store.base import FailedFetch, StoredInfo, Validators

    client = redis.Redis.from_url(redis_server.url)
    keys = Keys("fuzz", "politics")
    store = RedisSeenStore(client, lambda fn, *a, **k: fn(*a, **k), keys, lambda: "run1")
    if field == "failed":
        client.hset(keys.seen("failed"), "gmw:1", raw)
        assert store.failed("gmw:1") is None or isinstance(store.failed("gmw:1"), FailedFetch)
    elif field == "validators":
        client.hset(keys.seen("validators"), "https://politics.gmw.cn/node_9840.htm", raw)
        found = store.validators("https://politics.gmw.cn/node_9840.htm")
        assert found is None or isinstance(found, Validators)
    else:
        client.hset(keys.seen("a:gmw:1"), mapping={"url": b"https://politics.gmw.cn/x.htm", "first": raw, "step": raw})
        found = store.stored("gmw:1")
        assert found is None or isinstance(found, StoredInfo)
    client.close()
