"""A page that extraction cannot read is a counted drop with its URL — in the run report, and in
Redis mode on the dead-letter list that `scrapy gmw failed` lists and requeues — never a
traceback and never lost (issue #17)."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.request

from scrapy.http import HtmlResponse

from gmwcrawler.extract import extract_listing
from tests.conftest import ROOT, crawl_command
from tests.test_distributed import make_cluster  # noqa: F401 - a fixture

ARGS = ("start_urls=https://politics.gmw.cn/node_9844.htm", "max_list_pages=1", "follow_related=0")


def unreadable_crawl(replica, tmp_path, settings: dict[str, str]) -> tuple[subprocess.CompletedProcess, str]:
    # the first regular article of the listing crawled, as the replica lists it
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": replica.base_url, "https": replica.base_url}),
                                         urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))  # the replica's own cert
    listing_url = ARGS[0].removeprefix("start_urls=")
    with opener.open(listing_url, timeout=10) as answer:
        listing = extract_listing(HtmlResponse(listing_url, body=answer.read()))
    truth = replica.truth()
    target = next(e.url for e in listing.entries if truth.get(e.url, {}).get("kind") == "regular")
    command = crawl_command(tmp_path / "items.jsonl", tmp_path / "stats.json", ARGS, settings)
    assert command[1:3] == ["-m", "scrapy"]
    command[2] = "tests.unreadable"
    env = {**replica.env(), "GMW_TEST_UNREADABLE": target}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False), target


def test_unreadable_page_is_a_counted_drop_in_the_run_report(replica, tmp_path):
    done, target = unreadable_crawl(replica, tmp_path, {"GMW_SEEN_STORE": "memory"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Spider error processing" not in done.stderr
    lines = [x for x in done.stderr.splitlines() if "not readable" in x]
    assert len(lines) == 1 and "WARNING" in lines[0] and target in lines[0] and "RecursionError" in lines[0]
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["gmw/article/extract_error/RecursionError"] == 1
    items = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    assert items and target not in {i["url"] for i in items}
    report = json.loads((tmp_path / "items.jsonl.report.json").read_text())
    assert report["unreadable"] == [{"url": target, "reason": "RecursionError: maximum recursion depth exceeded (on purpose)"}]
    assert report["errors"]["article/extract_error/RecursionError"] == 1 and report["error_rate"] > 0


def test_unreadable_page_goes_to_the_dead_letter_list_and_back(replica, redis_server, make_cluster, tmp_path):  # noqa: F811
    cluster = make_cluster(replica, redis_server.url)
    assert cluster.scrapy_gmw("seed").returncode == 0
    done, target = unreadable_crawl(replica, tmp_path, cluster.settings)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    (entry,) = [json.loads(x) for x in cluster.redis.lrange(cluster.key("requests:failed"), 0, -1)]
    assert entry["url"] == target and entry["reason"].startswith("RecursionError")
    assert target not in {i["url"] for i in cluster.items()}
    listed = cluster.scrapy_gmw("failed")
    assert listed.returncode == 0 and target in listed.stdout and "RecursionError" in listed.stdout
    assert "unreadable pages 1" in cluster.scrapy_gmw("status").stdout

    # requeued into a new run, read by a worker whose extraction works: stored, the list empty
    assert cluster.scrapy_gmw("seed").returncode == 0
    requeued = cluster.scrapy_gmw("failed", "--requeue")
    assert requeued.returncode == 0 and "requeued 1 request(s)" in requeued.stdout, requeued.stderr
    assert cluster.redis.llen(cluster.key("requests:failed")) == 0
    (payload,) = cluster.redis.hvals(cluster.key("requests:payloads"))
    assert json.loads(payload)["url"] == target and cluster.redis.zcard(cluster.key("requests")) == 1
    assert cluster.wait(cluster.start(1, *ARGS)) == [0]
    assert target in {i["url"] for i in cluster.items()}
