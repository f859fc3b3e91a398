"""Scheduled runs that cost what is new (issue #13): stop at known listing pages, conditional
requests, refresh on a schedule, failed pages with backoff, versions, freshness, watch mode."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from scrapy.settings import Settings

from gmwcrawler.incremental.identity import REVISION_FIELDS, changed_fields, field_hashes
from gmwcrawler.incremental.revisit import Action, Revisits, is_permanent, schedule
from gmwcrawler.incremental.store.memory import MemorySeenStore
from tests.conftest import PYTHON, ROOT, crawl_command, run_crawl, start_replica, stop_replica, wait_for
from tests.test_incremental import article_pages

NODES = 6
MARGIN = 1


def listing_requests(hits: dict[str, int]) -> Counter[str]:
    """Listing requests per node (node_9840.htm and node_9840_3.htm are both node 9840)."""
    per_node: Counter[str] = Counter()
    for url, n in hits.items():
        name = urlsplit(url).path.strip("/")
        if name.startswith("node_"):
            per_node[name.split("_")[1].split(".")[0]] += n
    return per_node


@pytest.fixture(scope="module", params=["validators", "no-validators"])
def channel(request):
    """The replica with ETag / Last-Modified and 304s, and without them (no saved page shows which)."""
    extra = ("--no-validators",) if request.param == "no-validators" else ()
    replica = start_replica("--articles", "200", "--seed", "3", "--no-faults", *extra)
    replica.validators = request.param == "validators"
    yield replica
    stop_replica(replica)


def test_a_run_costs_what_is_new(channel, tmp_path):
    """Issue #13's "done when": 5 new articles cost their pages and ≤ 2 + margin listing pages per
    node; the run after it ≤ 1 + margin per node, exactly one where the site answers 304."""
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3")}
    first = run_crawl(channel, tmp_path / "run1", settings=store)
    assert first.returncode == 0, first.log[-2000:]
    assert first.stat("gmw/listing/stopped_at_known") == 0  # a first run reads the listings as before

    new_urls = json.loads(channel.get("/__replica__/publish?count=5"))
    truth = channel.truth()
    second = run_crawl(channel, tmp_path / "run2", settings=store)
    assert second.returncode == 0, second.log[-2000:]
    assert {i["url"] for i in second.items} == set(new_urls)
    assert {u for u in second.hits if "/content_" in u} == article_pages(truth, new_urls)
    assert all(n == 1 for u, n in second.hits.items() if "/content_" in u)
    per_node = listing_requests(second.hits)
    assert len(per_node) == NODES and max(per_node.values()) <= 2 + MARGIN, per_node
    assert second.stat("gmw/listing/stopped_at_known") >= 1  # the endless 滚动播报 node at least (a node ends anyway)

    third = run_crawl(channel, tmp_path / "run3", settings=store)
    assert third.returncode == 0, third.log[-2000:]
    assert third.items == []
    assert not [u for u in third.hits if "/content_" in u]
    per_node = listing_requests(third.hits)
    if channel.validators:
        assert per_node == Counter({node: 1 for node in per_node}) and len(per_node) == NODES
        assert third.stat("gmw/http/not_modified") == NODES == third.stat("gmw/listing/not_modified")
    else:
        assert max(per_node.values()) <= 1 + MARGIN and third.stat("gmw/http/not_modified") == 0
    report = json.loads((tmp_path / "run3" / "items.jsonl.report.json").read_text("utf-8"))
    assert report["verdict"] == "ok" and report["revisits"]["listings_stopped_at_known"] >= 1

    # refresh=1 and since read the listings as before (and never conditionally)
    everything = run_crawl(channel, tmp_path / "run4", "refresh=1", settings=store)
    assert everything.stat("gmw/listing/pages") >= first.stat("gmw/listing/pages")  # every page, as the first run
    assert everything.stat("gmw/http/conditional") == 0 and everything.stat("gmw/listing/stopped_at_known") == 0


@pytest.fixture(scope="module")
def newsroom():
    replica = start_replica("--articles", "40", "--seed", "5", "--no-faults")
    yield replica
    stop_replica(replica)


def test_young_articles_are_refreshed_on_schedule_and_corrections_become_versions(newsroom, tmp_path,
                                                                                    own_postgres_dsn):
    postgres_dsn = own_postgres_dsn
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3"), "GMW_POSTGRES_DSN": postgres_dsn,
             "GMW_REFRESH_SCHEDULE": "2,3600"}
    run_crawl(newsroom, tmp_path / "run0", settings=store)
    fresh = json.loads(newsroom.get("/__replica__/publish?count=3"))  # published now: young
    first = run_crawl(newsroom, tmp_path / "run1", settings=store)
    assert {i["url"] for i in first.items} == set(fresh) and {i["version"] for i in first.items} == {1}
    truth = newsroom.truth()
    assert [bool(i.get("first_listed_at")) for i in first.items] == [truth[i["url"]]["listed"] for i in first.items]

    corrected = json.loads(newsroom.get(f"/__replica__/edit?url={fresh[0]}"))
    time.sleep(2.5)  # the first step of the schedule passes
    second = run_crawl(newsroom, tmp_path / "run2", settings=store)
    assert second.returncode == 0, second.log[-2000:]
    listed = [u for u in fresh if truth[u]["listed"]]  # what the listings lead to again (the third: 相关阅读 only)
    assert truth[fresh[0]]["listed"] and len(listed) == 2
    assert second.stat("gmw/incremental/refresh") == len(listed)  # the young ones only, not the 40 old ones
    [update] = second.items
    assert update["url"] == fresh[0] and update["title"] == corrected["title"]
    assert update["version"] == 2 and update["changed_fields"] == ["title", "content"]
    assert second.stat("gmw/refresh/not_modified") == len(listed) - 1  # the unchanged: a 304, no body

    third = run_crawl(newsroom, tmp_path / "run3", settings=store)  # the next step is an hour away
    assert third.stat("gmw/incremental/refresh") == 0 and third.items == []

    article_id = update["article_id"]
    with psycopg.connect(postgres_dsn) as conn:
        versions = conn.execute("SELECT version, title, changed_fields FROM gmw_article_versions WHERE article_id = %s"
                                " ORDER BY version", (article_id,)).fetchall()
    assert [(v, c) for v, _t, c in versions] == [(1, []), (2, ["title", "content"])]
    shown = subprocess.run([PYTHON, "-m", "scrapy", "gmw", "history", article_id, "-s", f"GMW_POSTGRES_DSN={postgres_dsn}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "v2" in shown.stdout and "changed: title, content" in shown.stdout
    assert f"+{corrected['title']}" in shown.stdout and "+（本文于" in shown.stdout
    missing = subprocess.run([PYTHON, "-m", "scrapy", "gmw", "history", "1", "-s", f"GMW_POSTGRES_DSN={postgres_dsn}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode == 2 and "article 1 has no stored version" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_pages_that_failed_for_good_are_asked_again_with_backoff(replica, tmp_path):
    store = {"GMW_SEEN_STORE": "sqlite", "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3")}
    first = run_crawl(replica, tmp_path / "run1", settings=store)
    assert first.stat("gmw/revisit/failed_kept/http_404") >= 1 and first.stat("gmw/revisit/failed_kept/soft_404") == 1
    gone = [u for u in first.hits if "content_39000002" in u or "content_39000001" in u]  # not_found, soft404
    assert len(gone) == 2
    second = run_crawl(replica, tmp_path / "run2", settings=store)
    assert second.returncode == 0, second.log[-2000:]
    assert not [u for u in gone if u in second.hits]
    assert second.stat("gmw/incremental/skipped_failed") >= 2
    # transient failures (503 after retries) are not kept: the next run asks again
    assert any("content_39000004" in u for u in second.hits)


@pytest.mark.slow
def test_schedules_are_checked_before_the_crawl(tmp_path):
    for setting, why in (("GMW_REFRESH_SCHEDULE=3600,900", "growing"), ("GMW_FAILED_RETRY_SCHEDULE=soon", "seconds"),
                         ("GMW_REFRESH_WINDOW=3600", "replaced by GMW_REFRESH_SCHEDULE")):
        done = subprocess.run(crawl_command(tmp_path / "o.jsonl", tmp_path / "s.json", (), {"GMW_SEEN_STORE": "memory"})
                              + ["-s", setting], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2 and why in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_watch_poll_knows_what_the_watching_run_stored_before_it():
    """Each poll stops where a run of its own would; without `before` (one pass) this run's articles are not
    known, so a node that shares them with another is still walked (tests/test_watch_cluster.py end to end)."""
    from gmwcrawler.incremental.identity import Signature, content_hash, identity_key
    from gmwcrawler.incremental.store import Record

    store = MemorySeenStore("watching")
    revisits = Revisits.from_settings(store, Settings())
    url = "https://politics.gmw.cn/2026-12/02/content_38900002.htm"
    key = identity_key(url)
    store.decide(Record(key, url, content_hash("正文"), Signature.of("正文"), "2026-12-02T10:00:00+08:00", {}, ""), None, "{}")
    stored_at = store.stored(key).first_stored
    assert not revisits.known(url, before=stored_at + 10)  # kept, but its sinks have not confirmed it yet
    store.confirm([key], [])
    assert not revisits.known(url)
    assert revisits.known(url, before=stored_at + 10)
    assert not revisits.known(url, before=stored_at - 10)  # stored during this poll: another node may list it
    failed = "https://politics.gmw.cn/2026-12/02/content_38900003.htm"
    revisits.failed_for_good(failed, "http_404", now=1000.0)
    assert not revisits.known(failed, now=1001.0) and revisits.known(failed, now=1001.0, before=1000.5)
    # a watching run asks a failed page again when its backoff has passed (GMW_FAILED_RETRY_SCHEDULE: 1 h first)
    assert not revisits.revisit_due(failed, now=1000.0 + 3599) and revisits.revisit_due(failed, now=1000.0 + 3600)
    assert not revisits.revisit_due(url, now=stored_at + 10)  # not young: no refresh step is due


def test_revisit_rules():
    settings = Settings({"GMW_REFRESH_SCHEDULE": "900,3600", "GMW_FAILED_RETRY_SCHEDULE": [3600, 86400]})
    assert schedule(settings, "GMW_REFRESH_SCHEDULE") == (900.0, 3600.0)
    store = MemorySeenStore("run-a")
    revisits = Revisits.from_settings(store, settings)
    url = "https://politics.gmw.cn/2026-12/02/content_38900001.htm"
    assert revisits.article(url) is Action.FETCH
    assert revisits.failed_for_good(url, "http_404", now=1000.0)
    assert not revisits.failed_for_good(url, "http_503") and not is_permanent("http_429") and is_permanent("soft_404")
    store.run_id = "run-b"  # a later run
    assert revisits.article(url, now=1000.0 + 3599) is Action.SKIP_FAILED and revisits.known(url, now=4599.0)
    assert revisits.article(url, now=1000.0 + 3600) is Action.RETRY_FAILED
    revisits.failed_for_good(url, "http_404", now=5000.0)
    assert store.failed("gmw:38900001").retry_at == 5000.0 + 86400  # the second failure waits longer
    assert changed_fields(None, field_hashes({})) == ["content"]
    a = field_hashes({"title": "甲", "content": "一"})
    assert changed_fields(a, field_hashes({"title": "乙", "content": "一"})) == ["title"]
    assert set(a) == set(REVISION_FIELDS)


def test_the_redis_store_keeps_versions_as_the_local_one_does(redis_server):
    import redis as redis_py

    from gmwcrawler.distributed.connection import Guard
    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.store import RedisSeenStore
    from gmwcrawler.incremental.identity import Signature, content_hash, identity_key, revision_hash
    from gmwcrawler.incremental.store import Record, Verdict

    def record(item: dict) -> Record:
        fields = field_hashes(item)
        return Record(identity_key(item["url"]), item["url"], content_hash(item["content"]),
                      Signature.of(item["content"]), "2026-12-02T10:00:00+08:00", fields, revision_hash(fields))

    client = redis_py.Redis.from_url(redis_server.url)
    runs = iter(["r1", "r2", "r3"])
    current = ["r1"]
    redis_store = RedisSeenStore(client, Guard(redis_server.url, Settings()), Keys("t", "politics"), lambda: current[0])
    local = MemorySeenStore("r1")
    item = {"url": "https://politics.gmw.cn/2026-12/02/content_38900001.htm", "title": "原标题", "content": "正文一段。"}
    edits = [item, {**item, "title": "新标题"}, {**item, "title": "新标题"}]
    for step, version in zip(edits, [1, 2, 2], strict=True):
        current[0] = next(runs)
        local.run_id = current[0]
        got = [s.decide(record(step), None, json.dumps(step, ensure_ascii=False)) for s in (redis_store, local)]
        for s, decision in zip((redis_store, local), got, strict=True):
            if decision.verdict.keeps_item:  # the run's sinks had it (what they did not: tests/test_interrupted.py)
                s.confirm([record(step).key], [])
        assert got[0].verdict == got[1].verdict
        assert got[0].version == got[1].version == (version if got[0].verdict.keeps_item else None)
        assert got[0].changed_fields == got[1].changed_fields
    assert got[0].verdict is Verdict.UNCHANGED
    stored = [json.loads(raw) for raw in client.lrange(Keys("t", "politics").items, 0, -1)]
    assert [(s["version"], s.get("changed_fields")) for s in stored] == [(1, None), (2, ["title"])]


def test_a_refresh_within_the_run_that_stored_the_article_is_a_revision(redis_server):
    """A watching run lives for days: its refresh of an article it stored itself is compared as a revision
    (updated, or unchanged), in Redis as in the local store; a second path to it in the run stays a duplicate."""
    import redis as redis_py

    from gmwcrawler.distributed.connection import Guard
    from gmwcrawler.distributed.keys import Keys
    from gmwcrawler.distributed.store import RedisSeenStore
    from gmwcrawler.incremental.identity import Signature, content_hash, identity_key, revision_hash
    from gmwcrawler.incremental.store import Record, Verdict

    def record(item: dict) -> Record:
        fields = field_hashes(item)
        return Record(identity_key(item["url"]), item["url"], content_hash(item["content"]),
                      Signature.of(item["content"]), "2026-12-02T10:00:00+08:00", fields, revision_hash(fields))

    client = redis_py.Redis.from_url(redis_server.url)
    stores = (RedisSeenStore(client, Guard(redis_server.url, Settings()), Keys("w", "politics"), lambda: "watching"),
              MemorySeenStore("watching"))
    item = {"url": "https://politics.gmw.cn/2026-12/02/content_38900001.htm", "title": "原标题", "content": "正文一段。"}
    corrected = {**item, "title": "新标题"}
    for store in stores:
        assert store.decide(record(item), None, "{}").verdict is Verdict.NEW
        store.confirm([record(item).key], [])
        assert store.decide(record(corrected), None, "{}").verdict is Verdict.DUPLICATE_URL  # a second path
        again = store.decide(record(item), None, "{}", refresh=True)
        assert again.verdict is Verdict.UNCHANGED
        updated = store.decide(record(corrected), None, "{}", refresh=True)
        assert updated.verdict is Verdict.UPDATED and updated.version == 2 and updated.changed_fields == ["title"]
    client.close()


def stored(metrics: Path) -> int:
    text = metrics.read_text() if metrics.exists() else ""
    found = re.search(r'^gmw_run_items_stored\{[^}]*\} (\S+)$', text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def quiet(replica, seconds: float) -> bool:
    """No request reached the replica for `seconds`."""
    hits = replica.hitlog()
    return bool(hits) and max(t for t, _ in hits) < time.time() - seconds


@pytest.mark.slow
def test_watch_mode_polls_and_ends_cleanly_on_sigterm(tmp_path):
    replica = start_replica("--articles", "30", "--seed", "7", "--no-faults")
    try:
        out, stats = tmp_path / "items.jsonl", tmp_path / "stats.json"
        metrics = tmp_path / "metrics" / "gmwcrawler_politics.prom"
        command = crawl_command(out, stats, ("watch=10",), {"GMW_SEEN_STORE": "sqlite",
                                                          "GMW_SEEN_DB": str(tmp_path / "seen.sqlite3"),
                                                          "GMW_METRICS_DIR": str(metrics.parent),
                                                          "GMW_METRICS_INTERVAL": "1"})
        process = subprocess.Popen(command, cwd=ROOT, env=replica.env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        # the feed is written on close, so the process's progress is read from its metrics (every second)
        first_pass = wait_for(lambda: quiet(replica, 2.0) and stored(metrics), "the first pass did not end")
        fresh = json.loads(replica.get("/__replica__/publish?count=2"))
        wait_for(lambda: stored(metrics) >= first_pass + 2, "the poll after 10 s stored nothing new")
        # a long-running process refreshes its metrics as it goes (issue #14)
        during = metrics.read_text()
        assert 'gmw_run_running{namespace="",spider="politics"} 1.0' in during
        assert 'gmw_run_verdict{namespace="",spider="politics",verdict="running"} 1.0' in during
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)
    finally:
        stop_replica(replica)
    assert process.returncode == 0, log[-2000:]
    items = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert set(fresh) <= {i["url"] for i in items}
    final = json.loads(stats.read_text("utf-8"))
    assert final["gmw/watch/polls"] >= 1 and final["gmw/http/not_modified"] >= 1
    report = json.loads(out.with_name(out.name + ".report.json").read_text("utf-8"))
    assert report["verdict"] == "ok" and report["finish_reason"] == "shutdown"
    assert report["freshness"]["new_articles"] == len(items)
    assert report["freshness"]["delay_p95_s"] is not None
    after = metrics.read_text()
    assert 'gmw_run_running{namespace="",spider="politics"} 0.0' in after
    assert 'gmw_run_verdict{namespace="",spider="politics",verdict="ok"} 1.0' in after
