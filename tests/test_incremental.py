"""Scheduled runs: the second crawl downloads only what is new (issue #3)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import run_crawl, start_replica, stop_replica


@pytest.fixture(scope="module")
def growing_replica():
    replica = start_replica("--articles", "60", "--seed", "3", "--no-faults")
    yield replica
    stop_replica(replica)


def article_pages(truth: dict[str, dict], urls) -> set[str]:
    return {u.replace(".htm", f"_{n}.htm") if n > 1 else u for u in urls for n in range(1, truth[u]["page_count"] + 1)}


def test_second_run_downloads_only_new_articles_and_listings(growing_replica, tmp_path):
    replica = growing_replica
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3")}
    first = run_crawl(replica, tmp_path / "run1", settings=store)
    assert first.returncode == 0 and len(first.items) > 60

    new_urls = json.loads(replica.get("/__replica__/publish?count=7"))
    truth = replica.truth()
    second = run_crawl(replica, tmp_path / "run2", settings=store)
    assert second.returncode == 0

    fetched_articles = {u for u in second.hits if "/content_" in u}
    assert fetched_articles == article_pages(truth, new_urls)
    assert all("/node_" in u or u.endswith("/robots.txt") for u in set(second.hits) - fetched_articles)
    assert second.stat("gmw/listing/pages") == first.stat("gmw/listing/pages")
    assert second.stat("gmw/incremental/skipped_stored") > 0
    assert {i["url"] for i in second.items} == set(new_urls)

    union = Counter(i["url"] for i in first.items + second.items)
    assert max(union.values()) == 1

    # -a refresh=1 re-fetches what is stored; nothing changed, so nothing new is emitted
    third = run_crawl(replica, tmp_path / "run3", "refresh=1", settings=store)
    assert third.returncode == 0
    assert third.items == []
    assert third.stat("gmw/dedupe/unchanged") == len(union)
    assert third.stat("gmw/incremental/skipped_stored") == 0
