"""Whole crawls of the replica with the real `scrapy crawl` command (issue #2)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import run_crawl, start_replica, stop_replica
from tests.replica.model import EXPECTED_SPECIALS

FIELDS = ("article_id", "title", "publish_time", "source", "editor", "channel", "keywords",
          "images", "videos", "related", "page_count")


def expected_urls(truth: dict[str, dict], related_depth: int = 1) -> set[str]:
    """Articles a crawl must find: listed ones, then 相关阅读 links to related_depth."""
    wanted = lambda t: t["kind"] in ("regular", "seed") or t["kind"] in EXPECTED_SPECIALS
    frontier = {u for u, t in truth.items() if t["listed"] and wanted(t)}
    found = set(frontier)
    for _ in range(related_depth):
        frontier = {r["url"] for u in frontier for r in truth[u]["related"]} - found
        found |= frontier
    return {u for u in found if wanted(truth[u])}


def assert_found(urls: set[str], truth: dict[str, dict], related_depth: int = 1) -> None:
    """The expected articles, but only one of the two URLs that carry the same story."""
    expected = expected_urls(truth, related_depth)
    twins = {u for u in expected if truth[u]["kind"] in ("dup_a", "dup_b")}
    assert len(twins) == 2 and len(urls & twins) == 1
    assert urls - twins == expected - twins


def test_every_article_is_found_exactly_once(full_crawl, replica):
    truth = replica.truth()
    urls = Counter(item["url"] for item in full_crawl.items)
    assert [u for u, n in urls.items() if n > 1] == []
    assert_found(set(urls), truth)
    unlisted = {u for u, t in truth.items() if not t["listed"] and t["kind"] == "regular"}
    assert unlisted and unlisted <= set(urls), "articles reachable only through 相关阅读 were missed"


def test_items_match_ground_truth(full_crawl, replica):
    truth = replica.truth()
    for item in full_crawl.items:
        expected = truth[item["url"]]
        for field in FIELDS:
            assert item[field] == expected[field], (item["url"], field)
        assert item["content"] == "\n".join(expected["content"]), item["url"]


def test_multi_page_articles_are_whole(full_crawl, replica):
    truth = replica.truth()
    multi = [i for i in full_crawl.items if truth[i["url"]]["page_count"] > 1]
    assert len(multi) >= 5
    for item in multi:
        assert item["page_count"] == truth[item["url"]]["page_count"]
        assert "missing_pages" not in item
        assert "displaypagenum" not in item["content_html"] and "下一页" not in item["content"]
    assert full_crawl.stat("gmw/article/multi_page") == len(multi)


def test_nothing_but_articles_becomes_an_item(full_crawl, replica):
    truth = replica.truth()
    kinds = {truth[i["url"]]["kind"] for i in full_crawl.items}
    assert kinds <= {"regular", "seed"} | EXPECTED_SPECIALS
    hosts = {i["url"].split("/")[2] for i in full_crawl.items}
    assert hosts <= {"politics.gmw.cn", "news.gmw.cn"}
    hits = replica.hits()
    recommended = [u for u, t in truth.items() if t["kind"] == "recommended_only"]
    assert not any(hits.get(u) for u in recommended), "推荐阅读/视觉焦点 links were followed"
    assert not any("world.gmw.cn" in u or "www.gmw.cn/" == u.split("//")[1][:11] for u in hits)


def test_no_page_is_downloaded_twice(full_crawl, replica):
    truth = replica.truth()
    pages = {u.replace(".htm", f"_{n}.htm") if n > 1 else u
             for u in expected_urls(truth) for n in range(1, truth[u]["page_count"] + 1)}
    fetched = {url: n for url, n in full_crawl.hits.items() if url in pages}
    assert set(fetched) == pages
    flaky = next(u for u, t in truth.items() if t["kind"] == "flaky500")
    assert fetched.pop(flaky) == 2  # 500, then a retry that succeeds
    assert set(fetched.values()) == {1}
    assert full_crawl.stat("dupefilter/filtered") > 0  # listings and 相关阅读 point at the same articles


@pytest.mark.parametrize(
    ("stat", "count"),
    [
        ("gmw/article/soft_404", 1),  # HTTP 200 with 页面没有找到
        ("gmw/article/failed/http_404", 1),
        ("gmw/article/failed/http_503", 1),  # retried, then given up
        ("gmw/article/failed/ResponseDataLossError", 1),  # truncated body, retried, given up
        ("gmw/article/failed/DownloadCancelledError", 1),  # over DOWNLOAD_MAXSIZE
        ("gmw/article/failed/redirect_loop", 1),
        ("gmw/article/failed/robots_txt", 1),
        ("gmw/article/unparseable", 1),  # empty body
        ("gmw/listing/max_pages_reached", 1),  # node_10495 pages forever
        ("gmw/listing/non_article_link", 1),  # a topics.gmw.cn special-topic page
        ("retry/reason_count/500 Internal Server Error", 1),  # then success
        ("offsite/filtered", 1),  # a redirect to another host
        ("gmw/listing/offsite_link", 1),  # a listing's link to another site: never requested (issue #13)
        ("gmw/dropped/duplicate_content", 1),  # the same story under a second URL
        ("gmw/dedupe/duplicate_content", 1),
    ],
)
def test_each_fault_ends_in_its_stat(full_crawl, stat, count):
    assert full_crawl.stat(stat) == count, {k: v for k, v in full_crawl.stats.items() if "/" in k}


def test_faults_do_not_crash(full_crawl):
    assert full_crawl.stats["finish_reason"] == "finished"
    assert "Traceback" not in full_crawl.log
    assert not any(k.startswith("spider_exceptions") for k in full_crawl.stats)


def test_no_code_execution_server_runs(full_crawl):
    # Scrapy 2.19 enables its remote control (an HTTP endpoint that runs Python code) by default
    extensions = full_crawl.log.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "RemoteControl" not in extensions and "TelnetConsole" not in extensions, extensions
    assert "CoreStats" in extensions


def test_extraction_paths_are_counted(full_crawl):
    dropped = sum(v for k, v in full_crawl.stats.items() if k.startswith("gmw/dropped/"))
    items = len(full_crawl.items) + dropped
    assert full_crawl.stat("gmw/article/items") == items == full_crawl.stat("item_scraped_count") + dropped
    for field in ("title", "content", "source"):
        served = sum(v for k, v in full_crawl.stats.items() if k.startswith(f"gmw/extract/{field}/"))
        assert served == items
        assert full_crawl.stat(f"gmw/extract/{field}/missing") == 0
    assert full_crawl.stat("gmw/extract/title/a") and full_crawl.stat("gmw/extract/title/b")
    assert full_crawl.stat("gmw/extract/title/old2012")


def test_follow_related_off(replica, tmp_path):
    result = run_crawl(replica, tmp_path, "follow_related=0")
    truth = replica.truth()
    assert result.returncode == 0
    assert_found({i["url"] for i in result.items}, truth, related_depth=0)
    assert result.stat("gmw/related/followed") == 0


def test_max_list_pages_and_start_urls(replica, tmp_path):
    result = run_crawl(replica, tmp_path, "start_urls=https://politics.gmw.cn/node_10495.htm", "max_list_pages=3",
                       "follow_related=0")
    assert result.returncode == 0
    assert result.stat("gmw/listing/pages") == 3
    assert result.stat("gmw/listing/max_pages_reached") == 1


@pytest.fixture(scope="module")
def big_replica():
    replica = start_replica("--articles", "400", "--seed", "7", "--no-faults")
    yield replica
    stop_replica(replica)


def test_since_stops_paging_at_older_entries(big_replica, tmp_path):
    truth = big_replica.truth()
    node = "https://politics.gmw.cn/node_9844.htm"
    result = run_crawl(big_replica, tmp_path, f"start_urls={node}", "since=2026-11-15", "follow_related=0",
                       "max_list_pages=0")
    assert result.returncode == 0
    assert result.items
    assert all(i["publish_time"] >= "2026-11-15" for i in result.items)
    assert result.stat("gmw/listing/stopped_at_since") == 1
    newer = [t for t in truth.values() if t["listed"] and t["channel"][-1] == "要闻" and t["publish_time"] >= "2026-11-15"]
    assert len(result.items) == len(newer)


def test_hostile_page_gives_a_correct_item(full_crawl, replica):
    """The replica's `hostile` article: a control character and an href that is no URL in its
    first paragraph (issue #17). The item is the article's truth; the link counted, not followed."""
    truth = replica.truth()
    (item,) = [i for i in full_crawl.items if truth[i["url"]]["kind"] == "hostile"]
    expected = truth[item["url"]]
    assert item["title"] == expected["title"]
    assert item["content"] == "\n".join(expected["content"])
    assert "\x01" not in item["content_html"] and "\x0b" not in item["content_html"]
    assert "2001:db8" not in item["content_html"]
    assert full_crawl.stat("gmw/extract/bad_link") >= 1
    assert not [k for k in full_crawl.stats if k.startswith("gmw/article/extract_error/")]
    assert "Traceback" not in full_crawl.log


def test_the_live_templates_furniture_is_not_followed_or_stored(full_crawl, replica):
    """The rebuilt replica (issue #11, part 6) serves the real 2024 page's script-filled 相关阅读 block
    on every current-template page, the 2012 link grid and the 光明日报 vote block: a crawl follows
    only static article links, counts the placeholders, and stores none of the furniture."""
    truth = replica.truth()
    hits = replica.hits()
    assert not any("javascript" in u for u in hits)
    placeholders = full_crawl.stat("gmw/related/placeholder")
    assert placeholders > 0 and placeholders % 6 == 0  # 6 slots a page, as on the real page
    for item in full_crawl.items:
        assert "小调查" not in item["content"] and "投票" not in item["content"]
        assert "阅读剩余全文" not in item["content"] and "明星八卦" not in item["content"]
        assert not any("/grid/" in im["url"] or "qrcodes" in im["url"] for im in item["images"])
    credits = [i for i in full_crawl.items if i["source"] == "光明日报" and truth[i["url"]]["kind"] == "regular"]
    assert credits and all(i["content"].splitlines()[-1].startswith("《光明日报》（") for i in credits)
